"""View → Zoom in / Zoom out / Actual size: every font grows for a projector, the
tables re-fit, the factor is remembered, Ctrl+0 goes back (app/zoom.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QKeySequence
from PySide6.QtWidgets import QApplication

from app import zoom
from app.main_window import MainWindow
from selfattn.bundled import load_bundled


@pytest.fixture(autouse=True)
def actual_size_afterwards():
    """The application font is shared by every test: leave it at 100 %."""
    yield
    zoom.set_factor(1.0)


def sizes(window) -> dict[str, float]:
    """Point sizes a person reads: a Results table, a pipeline table, an input table,
    the heatmap's labels (the font its axes measure and paint with), Explain."""
    results = window.results_panel.tables["weights"]
    pipeline = window.pipeline.cards["weights"].body
    inputs = next(iter(window.inputs_panel.tables.values()))
    return {
        "results": results.font().pointSizeF(),
        "pipeline": pipeline.font().pointSizeF(),
        "inputs": inputs.font().pointSizeF(),
        "heatmap labels": QFont().pointSizeF(),
        "explain": window.explain_panel.text.font().pointSizeF(),
    }


def zoom_in(window, times: int = 1) -> None:
    for _ in range(times):
        window.zoom.action_in.trigger()


def test_view_menu_has_the_three_entries_with_their_keys(window):
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert {window.zoom.action_in, window.zoom.action_out, window.zoom.action_reset} <= set(
        view_menu.actions()
    )
    keys = lambda action: {k.toString() for k in action.shortcuts()}  # noqa: E731
    assert keys(window.zoom.action_in) == {"Ctrl+=", "Ctrl++"}
    assert keys(window.zoom.action_out) == {"Ctrl+-"}
    assert keys(window.zoom.action_reset) == {"Ctrl+0"}


def test_zoom_in_makes_every_font_larger(window, qtbot):
    before = sizes(window)
    zoom_in(window, 4)  # 100 % -> 110, 125, 150, 175 %
    assert zoom.factor() == 1.75
    after = sizes(window)
    for name, size in before.items():
        assert after[name] == pytest.approx(1.75 * size, rel=0.02), name


def test_zoom_in_makes_rows_taller_and_columns_fit_their_numbers(window, qtbot):
    table = window.results_panel.tables["weights"]
    window.results_panel.tabs.setCurrentWidget(table)
    qtbot.waitUntil(table.isVisible)
    row_before, col_before = table.rowHeight(0), table.columnWidth(0)
    zoom_in(window, 4)
    assert table.rowHeight(0) == round(24 * 1.75)
    assert table.fontMetrics().height() < table.rowHeight(0)
    assert table.columnWidth(0) > col_before and table.rowHeight(0) > row_before
    # every number is drawn whole: "0.000890447" fits its column at the new size
    model = table.model()
    for row in range(model.rowCount()):
        for col in range(model.columnCount()):
            text = model.index(row, col).data()
            assert table.fontMetrics().horizontalAdvance(text) < table.columnWidth(col), text


def test_heatmap_labels_and_cell_texts_grow(window, qtbot):
    window.center_tabs.setCurrentWidget(window.heatmap_stack)
    view = window.heatmap
    qtbot.waitUntil(lambda: view.cell_texts() != [])
    left, top = view.plot_item.getAxis("left"), view.plot_item.getAxis("top")
    width_before, px_before = left.width(), view.matrix.cell_texts._font_px
    title_before = top.label.font().pointSizeF()
    zoom_in(window, 4)
    qtbot.waitUntil(lambda: view.matrix.cell_texts._font_px > px_before)
    qtbot.waitUntil(lambda: left.width() > 1.5 * width_before)  # query labels measured again
    assert top.label.font().pointSizeF() == pytest.approx(1.75 * title_before)  # "key →"
    assert view.cell_texts()[:3] == ["0.136", "0.432", "0.432"]


def test_ctrl_0_goes_back_to_actual_size(window, qtbot):
    before = sizes(window)
    zoom_in(window, 2)
    assert sizes(window)["results"] > before["results"]
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert zoom.factor() == 1.0
    assert sizes(window) == before
    assert window.results_panel.tables["weights"].rowHeight(0) == 24


def test_keys_zoom_in_and_out(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert zoom.factor() == 1.1
    qtbot.keyClick(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert zoom.factor() == 0.9
    assert QKeySequence("Ctrl++") in window.zoom.action_in.shortcuts()


def test_zoom_stops_at_the_ends(window):
    zoom_in(window, 20)
    assert zoom.factor() == zoom.STEPS[-1] and not window.zoom.action_in.isEnabled()
    for _ in range(20):
        window.zoom.action_out.trigger()
    assert zoom.factor() == zoom.STEPS[0] and not window.zoom.action_out.isEnabled()


def test_zoom_is_remembered_on_the_next_start(window, qtbot, settings):
    base = sizes(window)
    zoom_in(window, 3)  # 150 %
    window.close()
    zoom.set_factor(1.0)  # as a fresh program would start
    again = MainWindow(load_bundled("real-previous-token"), settings=settings)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert zoom.factor() == 1.5
    assert sizes(again)["results"] == pytest.approx(1.5 * base["results"], rel=0.02)
    assert sizes(again)["explain"] == pytest.approx(1.5 * base["explain"], rel=0.02)
    for table in again.results_panel.tables.values():  # headers too, shown or not
        assert table.horizontalHeader().font().pointSizeF() == pytest.approx(1.5 * base["results"])
        assert table.horizontalHeader().font() == table.font()
    assert again.heatmap.plot_item.titleLabel.opts["size"] == "16.5pt"  # 11pt at 100 %
    assert again.zoom.action_reset.isEnabled()


@pytest.mark.parametrize(("saved", "factor"), [("abc", 1.0), ("nan", 1.0), (9, 2.5), (1.3, 1.25)])
def test_a_saved_zoom_is_read_as_the_nearest_step(qtbot, settings, dialogs, saved, factor):
    settings.setValue("view/zoom", saved)
    window = MainWindow(load_bundled("seed-example"), settings=settings)
    qtbot.addWidget(window)
    assert zoom.factor() == factor


@given(st.floats(allow_nan=True) | st.text(max_size=6) | st.integers() | st.none())
def test_snap_gives_the_nearest_step_for_anything(value):
    got = zoom.snap(value)
    assert got in zoom.STEPS
    try:
        wanted = float(value)
    except (TypeError, ValueError):
        return
    if wanted == wanted:  # not NaN
        assert all(abs(got - wanted) <= abs(step - wanted) for step in zoom.STEPS)
