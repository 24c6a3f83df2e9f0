"""While the heatmap shows a generation step, the window says so and offers a way back.

A tester saw the heatmap showing a generation step while the navigator bar, Inputs,
Results and Explain showed the previous preset, with nothing telling them apart. The
heatmap's title must name the step and say it is not the preset; a note above the
heatmap offers "Open this step as a preset" (everything then agrees) and a way back;
closing the panel or choosing another preset gives the heatmap back to the document.
View → Generate… (Ctrl+G) opens and closes the panel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from selfattn.models import preset_from_model
from selfattn.models.origin import ModelOrigin

FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY = FIXTURES / "decoders" / "tiny-llama"
TINY_REF = np.load(FIXTURES / "generation_tiny-llama.npz")
SEED_SHAPE = (3, 3)  # the seed example's heatmap (the window fixture's preset)


def _title(window) -> str:
    return window.heatmap.plot_item.titleLabel.text


def _run(qtbot, window, tokens: int):
    panel = window.generate_panel
    panel.dock.show()
    panel.set_model(TINY)
    panel.prompt_edit.setPlainText(str(TINY_REF["prompt_0"]))
    panel.tokens_spin.setValue(tokens)
    with qtbot.waitSignal(panel.runner.finished, timeout=30_000):
        panel.generate()
    assert len(panel.step_view.steps) == tokens
    return panel


def test_view_generate_opens_and_closes_the_panel(qtbot, window):
    panel = window.generate_panel
    action = panel.action
    assert action.isCheckable() and action.shortcut().toString() == "Ctrl+G"
    assert not panel.dock.isVisible() and not action.isChecked()
    action.trigger()
    assert panel.dock.isVisible() and action.isChecked()
    action.trigger()
    assert not panel.dock.isVisible() and not action.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert panel.dock.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert not panel.dock.isVisible()
    # the toolbar button opens it (it is on for a decoder's head)
    text = "hello world"
    origin = ModelOrigin(str(TINY), text, 1, 1, is_decoder=True)
    window.files.load_model_preset(preset_from_model(str(TINY), 1, 1, text), origin)
    assert panel.tool_action.isEnabled()
    panel.tool_action.trigger()
    assert panel.dock.isVisible() and action.isChecked()
    panel.tool_action.trigger()
    assert panel.dock.isVisible()  # the button only opens


def test_heatmap_title_and_note_say_it_shows_a_generation_step(qtbot, window):
    panel = _run(qtbot, window, 3)
    note = panel.step_note
    assert panel.step_view.active
    assert window.center_tabs.currentWidget() is window.heatmap_stack  # in front
    assert "Generation step 3 — layer 1, head 1 (not the preset in Inputs)" in _title(window)
    assert "click a cell to explain it" not in _title(window)  # a step's cells explain nothing
    assert note.isVisible() and "generation step 3 of 3" in note.label.text()
    panel.slider.setValue(2)
    panel.head_spin.setValue(2)
    assert "Generation step 2 — layer 1, head 2 (not the preset in Inputs)" in _title(window)
    assert "generation step 2 of 3" in note.label.text()
    # back to the preset: the heatmap draws the document again, the note goes
    note.back_button.click()
    assert not panel.step_view.active and not note.isVisible()
    assert window.heatmap.shape() == SEED_SHAPE and "Generation" not in _title(window)
    assert "click a cell to explain it" in _title(window)  # the preset's cells do again
    panel.show_check.setChecked(True)
    assert note.isVisible() and window.heatmap.shape() == (len(TINY_REF["ids_0"]) + 2,) * 2


def test_closing_the_panel_or_choosing_a_preset_leaves_the_step_view(qtbot, window):
    panel = _run(qtbot, window, 2)
    assert panel.step_view.active and panel.step_note.isVisible()
    panel.action.trigger()  # View → Generate… closes the panel
    assert not panel.dock.isVisible()
    assert not panel.step_view.active and not panel.step_note.isVisible()
    assert window.heatmap.shape() == SEED_SHAPE and "Generation" not in _title(window)
    panel.action.trigger()
    panel.show_check.setChecked(True)
    assert panel.step_view.active
    panel.dock.close()  # the panel's own close button
    assert not panel.step_view.active and window.heatmap.shape() == SEED_SHAPE
    panel.action.trigger()
    panel.show_check.setChecked(True)
    assert panel.step_view.active
    window.files.open_bundled("causal-the-cat-sat", ask=False)  # another preset
    assert not panel.step_view.active and not panel.step_note.isVisible()
    n = window.document.preset.n_tokens
    assert window.heatmap.shape() == (n, n) and "Generation" not in _title(window)


def test_the_notes_open_button_makes_every_view_agree(qtbot, window):
    panel = _run(qtbot, window, 3)
    panel.slider.setValue(2)
    step_weights, _visible = panel.step_view.matrix()
    with qtbot.waitSignal(window.document.changed, timeout=10_000):
        panel.step_note.open_button.click()
    assert not panel.step_view.active and not panel.step_note.isVisible()
    preset = window.document.preset
    assert preset.n_tokens == len(TINY_REF["ids_0"]) + 2
    np.testing.assert_allclose(window.recompute.result.weights[0], step_weights, atol=2e-5)
    assert "Generation" not in _title(window)
