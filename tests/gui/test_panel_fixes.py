"""Fixes a tester found on a real desktop in the Inputs and Options panels.

Each test drives the widgets the way a person does (real key events, combo choices)
and checks the document's preset or the status bar against values worked out here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QValidator
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QInputDialog,
    QScrollArea,
    QTableView,
)

from app import commands
from app.desktop import APP_NAME
from app.main_window import MainWindow
from app.panels.checked_spin import CheckedSpinBox
from selfattn.bundled import load_bundled
from selfattn.preset import Options, Preset, Rope

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def active(window, qtbot):
    """The window in front (shortcuts of the window fire only in the active window)."""
    window.activateWindow()
    qtbot.waitActive(window)
    return window


def _type_into(spin: QAbstractSpinBox, text: str, enter: bool = True) -> None:
    spin.setFocus()
    QApplication.processEvents()
    spin.selectAll()
    QTest.keyClicks(spin, text)
    if enter:
        QTest.keyClick(spin, Qt.Key.Key_Return)


# 1. Undo and Redo keys from a focused spin box ------------------------------------------
def test_ctrl_z_in_the_d_k_box_undoes_the_resize(active):
    doc, spin = active.document, active.inputs_panel.spin_d_k
    assert doc.preset.d_k == 3  # the seed example
    _type_into(spin, "2")
    assert doc.preset.d_k == 2 and spin.hasFocus()
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert doc.preset.d_k == 3
    assert spin.value() == 3
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL | SHIFT)
    assert doc.preset.d_k == 2
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert doc.preset.d_k == 3
    QTest.keyClick(spin, Qt.Key.Key_Y, CTRL)
    assert doc.preset.d_k == 2


def test_ctrl_z_in_the_temperature_box_undoes_the_temperature(active):
    doc, spin = active.document, active.options_panel.temperature_spin
    before = doc.preset.options.temperature
    _type_into(spin, "2.5")
    assert doc.preset.options.temperature == 2.5
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert doc.preset.options.temperature == before


def test_every_spin_box_of_both_panels_hands_undo_to_the_window(active):
    """Whatever box has the focus, Ctrl+Z undoes the document's last step."""
    doc = active.document
    boxes = [
        box
        for panel in (active.inputs_panel, active.options_panel)
        for box in panel.findChildren(QAbstractSpinBox)
    ]
    assert len(boxes) >= 10
    for box in boxes:
        assert commands.set_options(doc, "Causal on", causal=not doc.preset.options.causal)
        before_index = doc.undo_stack.index()
        box.setEnabled(True)  # a disabled box cannot take the focus
        box.setFocus()
        QApplication.processEvents()
        assert box.hasFocus(), box.toolTip()
        QTest.keyClick(box, Qt.Key.Key_Z, CTRL)
        assert doc.undo_stack.index() == before_index - 1, box.toolTip()


def test_typing_not_yet_entered_is_undone_in_the_box_first(active):
    """Before Enter, Ctrl+Z takes back the typing; the document's steps stay."""
    doc, spin = active.document, active.inputs_panel.spin_tokens
    assert commands.set_options(doc, "Causal on", causal=True)
    index = doc.undo_stack.index()
    _type_into(spin, "7", enter=False)
    assert spin.lineEdit().text() == "7"
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert doc.undo_stack.index() == index
    assert spin.lineEdit().text() == str(doc.preset.n_tokens)
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)  # now committed text: the document's step
    assert doc.undo_stack.index() == index - 1
    assert doc.preset.options.causal is False


# 2. Switching the scale to "custom" keeps the exact divisor ---------------------------------
@pytest.mark.parametrize(("start", "divisor"), [("sqrt_dk", math.sqrt(3)), ("none", 1.0)])
def test_switching_to_custom_keeps_the_exact_divisor(window, start, divisor):
    doc, panel = window.document, window.options_panel
    if start != "sqrt_dk":
        assert commands.set_options(doc, "Scale", scale=start)
    weights = window.recompute.result.weights.copy()
    assert window.recompute.result.divisor == divisor * doc.preset.options.temperature
    panel.scale_combo.setCurrentIndex(panel.scale_combo.findData("custom"))
    assert doc.preset.options.scale == divisor  # exactly sqrt(3), not 1.732051
    assert np.array_equal(window.recompute.result.weights, weights)
    assert panel.custom_scale.isEnabled()
    panel.custom_scale.setValue(2.0)  # a value the person types replaces it
    assert doc.preset.options.scale == 2.0


# 3. RoPE settings of one preset do not carry over to the next ---------------------------------
def _even_preset(rope: Rope | None, name: str) -> Preset:
    rng = np.random.default_rng(3)
    n, d_model, d_k = 4, 4, 4
    return Preset(
        inputs=rng.normal(size=(n, d_model)),
        w_query=rng.normal(size=(d_model, d_k)),
        w_key=rng.normal(size=(d_model, d_k)),
        w_value=rng.normal(size=(d_model, d_k)),
        name=name,
        options=Options(causal=True, rope=rope),
    )


def test_a_preset_without_rope_shows_and_starts_from_the_defaults(window):
    doc, opts = window.document, window.options_panel.modern
    model_like = _even_preset(Rope(style="half", theta=100000.0, dims=2), "like SmolLM2")
    commands.open_preset(doc, model_like, None)
    assert opts.theta_spin.text() == "100000" and opts.dims_spin.value() == 2
    commands.open_preset(doc, _even_preset(None, "no rope"), None)
    assert opts.rope_combo.currentData() is None
    assert opts.theta_spin.text() == "10000"  # Rope's default, not the last model's
    assert opts.dims_spin.value() == 4  # d_k
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData("interleaved"))
    assert doc.preset.options.rope == Rope(style="interleaved", theta=10000.0, dims=None)


def test_switching_rope_off_and_on_again_restores_it_in_the_same_preset(window):
    doc, opts = window.document, window.options_panel.modern
    commands.open_preset(doc, _even_preset(Rope(style="half", theta=500.0, dims=2), "r"), None)
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData(None))
    assert doc.preset.options.rope is None
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData("half"))
    assert doc.preset.options.rope == Rope(style="half", theta=500.0, dims=2)


# 4. A refused or clamped number says why, and the old value stays visible -------------------
def _last_message(window) -> str:
    return window.statusBar().currentMessage()


def test_too_many_tokens_are_reported_not_clamped(active):
    doc, spin = active.document, active.inputs_panel.spin_tokens
    before = doc.preset.n_tokens
    _type_into(spin, "100000")
    assert doc.preset.n_tokens == before  # not 1000, not 8192
    assert spin.value() == before and spin.text() == str(before)
    assert _last_message(active) == f"tokens: at most 8192 (typed 100000); {before} stays"


def test_temperature_zero_is_reported_and_the_old_value_stays(active):
    doc, spin = active.document, active.options_panel.temperature_spin
    assert commands.set_options(doc, "Temperature 2", temperature=2.0)
    _type_into(spin, "0")
    assert doc.preset.options.temperature == 2.0
    assert spin.text() == "2.0000"
    message = _last_message(active)
    assert message.startswith("temperature: at least 0.0001") and "(typed 0); 2 stays" in message


def test_custom_scale_zero_is_reported_and_the_old_value_stays(active):
    doc, panel = active.document, active.options_panel
    assert commands.set_options(doc, "Scale 1.5", scale=1.5)
    _type_into(panel.custom_scale, "0")
    assert doc.preset.options.scale == 1.5
    assert panel.custom_scale.text() == "1.500000"
    message = _last_message(active)
    assert message.startswith("scale: at least 0.000001") and "(typed 0); 1.5 stays" in message


def test_theta_above_its_maximum_is_reported(active):
    doc, opts = active.document, active.options_panel.modern
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData("half"))
    _type_into(opts.theta_spin, "20000000000000")
    assert doc.preset.options.rope.theta == 10000.0
    assert _last_message(active) == (
        "theta: at most 1000000000000 (typed 20000000000000); 10000 stays"
    )


def test_a_number_in_range_is_taken_without_a_message(active):
    _type_into(active.inputs_panel.spin_tokens, "6")
    assert active.document.preset.n_tokens == 6
    assert "stays" not in _last_message(active)


@hypothesis_settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=12), number=st.integers(min_value=-(10**9), max_value=10**9))
def test_a_checked_box_takes_in_range_and_reports_out_of_range(qapp, text, number):
    """Any text: no crash; an integer out of 1..8192 is let stand and reported, never cut."""
    reports: list[str] = []
    box = CheckedSpinBox("tokens", reports.append)
    box.setRange(1, 8192)
    box.setValue(4)
    box.validate(text, len(text))  # arbitrary typing never raises
    state, _text, _pos = box.validate(str(number), len(str(number)))
    if 1 <= number <= 8192:
        assert state == QValidator.State.Acceptable
        box.fixup(str(number))
        assert reports == []
    elif number > 8192:
        assert state == QValidator.State.Intermediate
        box.fixup(str(number))
        assert reports == [f"tokens: at most 8192 (typed {number}); 4 stays"]
    else:
        box.fixup(str(number))
        assert reports == [f"tokens: at least 1 (typed {number}); 4 stays"]


# 7. The random-fill dialog names the matrix and shows its whole title ------------------------
def test_random_fill_dialog_names_the_matrix_and_fits_its_title(window, qtbot):
    panel = window.inputs_panel
    panel.tabs.setCurrentWidget(panel.tables["w_query"])
    seen: dict[str, object] = {}

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QInputDialog)
        seen["title"] = dialog.windowTitle()
        with_app = f"{dialog.windowTitle()} — {APP_NAME}"
        seen["fits"] = dialog.width() > dialog.fontMetrics().horizontalAdvance(with_app)
        dialog.setIntValue(7)
        dialog.accept()

    QTimer.singleShot(0, answer)
    assert panel.fill_active("random")
    assert seen == {"title": "Fill W_Q with random numbers", "fits": True}
    shape = window.document.preset.w_query.shape
    expected = np.random.default_rng(7).normal(0.0, 1.0, size=shape)  # DESIGN.md's fill
    assert np.array_equal(window.document.preset.w_query, expected)


# 5. The Options dock fits its width: no sideways scrolling, every field whole ---------------
@pytest.fixture
def desktop_font(qapp):
    """A desktop's 11 pt font (the offscreen default is 9 pt), restored afterwards."""
    before = qapp.font()
    font = QFont(before)
    font.setPointSizeF(11.0)
    qapp.setFont(font)
    yield
    qapp.setFont(before)


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)])
def test_options_dock_fits_its_width_at_the_default_size(qtbot, settings, desktop_font, size):
    win = MainWindow(load_bundled("seed-example"), settings=settings)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    scroll = win.options_dock.widget()
    assert isinstance(scroll, QScrollArea)
    assert not scroll.horizontalScrollBar().isVisible()
    viewport = scroll.viewport()
    assert scroll.widget().width() <= viewport.width()
    panel = win.options_panel
    for field in (
        panel.scale_combo,
        panel.custom_scale,
        panel.temperature_spin,
        panel.dtype_combo,
        panel.modern.rope_combo,
        panel.modern.theta_spin,
        panel.modern.dims_spin,
        panel.modern.kv_combo,
        panel.modern.window_spin,
    ):
        right = field.mapTo(viewport, field.rect().topRight()).x()
        assert right < viewport.width(), field.toolTip()


# 6. Results and Explain keep at least six rows, also from a saved window state --------------
def _visible_rows(win) -> tuple[float, float]:
    """Table rows the Results tab shows, text lines the Explain box shows."""
    table = win.results_panel.tabs.currentWidget()
    if not isinstance(table, QTableView):
        table = table.findChild(QTableView)
    text = win.explain_panel.text
    return (
        table.viewport().height() / table.verticalHeader().defaultSectionSize(),
        text.viewport().height() / text.fontMetrics().lineSpacing(),
    )


def _shown_window(qtbot, settings, size):
    win = MainWindow(load_bundled("seed-example"), settings=settings)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    QApplication.processEvents()
    return win


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)])
def test_a_saved_state_with_tiny_bottom_docks_is_corrected(qtbot, settings, size):
    win = _shown_window(qtbot, settings, size)
    win.resizeDocks([win.results_dock], [40], Qt.Orientation.Vertical)  # as after a session
    QApplication.processEvents()
    win.save_settings()
    win.close()
    again = _shown_window(qtbot, settings, size)
    results_rows, explain_lines = _visible_rows(again)
    assert results_rows >= 6 and explain_lines >= 6


def test_bottom_docks_show_six_rows_at_1280_by_720_with_a_desktop_font(
    qtbot, settings, desktop_font
):
    win = _shown_window(qtbot, settings, (1280, 720))
    results_rows, explain_lines = _visible_rows(win)
    assert results_rows >= 6 and explain_lines >= 6
    win.resizeDocks([win.results_dock], [40], Qt.Orientation.Vertical)
    QApplication.processEvents()
    assert min(_visible_rows(win)) >= 6
