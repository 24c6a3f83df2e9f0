"""A refused edit is shown at its cell: a brief red outline and the reason in its tooltip.

Through the model (REFUSED_ROLE, ToolTipRole) and the delegate's painting (red pixels in
the cell, in a light and a dark palette); the status bar still says it too.
"""

from __future__ import annotations

import heatmap_helpers as hh
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QPalette

from app.matrix_model import REFUSED_ROLE
from app.table_view import REFUSED_PEN

TOOLTIP = Qt.ItemDataRole.ToolTipRole


def _red_pixels(view, row: int, col: int) -> int:
    """How many pixels of the cell are the refusal frame's red."""
    hh.settle()
    image = view.viewport().grab().toImage()
    rect = view.visualRect(view.model().index(row, col))
    red = REFUSED_PEN.rgb()
    return sum(
        1
        for x in range(rect.left(), rect.right() + 1)
        for y in range(rect.top(), rect.bottom() + 1)
        if image.pixel(x, y) & 0xFFFFFF == red & 0xFFFFFF
    )


@pytest.fixture
def inputs(window):
    view = window.inputs_panel.tables["inputs"]
    window.inputs_panel.tabs.setCurrentWidget(view)  # on screen: its pixels are checked
    hh.settle()
    return view


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("abc", "Not a number: 'abc' is not allowed in a cell"),
        ("1e999", "Not a number: '1e999' is not a finite number"),
        # finite, but X·W_Q · (X·W_K)ᵀ overflows: the recompute's checker refuses the preset
        ("1e300", "Refused: raw scores of query 1 overflow float64"),
    ],
)
def test_a_refused_edit_is_outlined_and_explained_at_its_cell(
    window, inputs, qtbot, typed, reason
) -> None:
    model = inputs.model()
    index = model.index(0, 0)
    assert not index.data(REFUSED_ROLE)
    assert model.setData(index, typed) is False
    assert index.data(REFUSED_ROLE) is True
    tip = index.data(TOOLTIP)
    assert tip.startswith("input_1, x1: 1\n")  # the old value stays, in full
    assert reason in tip
    assert reason in window.statusBar().currentMessage()  # the status bar says it too
    assert not model.index(0, 1).data(REFUSED_ROLE)  # only that cell
    assert _red_pixels(inputs, 0, 0) > 20
    assert _red_pixels(inputs, 0, 1) == 0
    # the outline is brief; the reason stays in the tooltip until the cell is written
    qtbot.waitUntil(lambda: not index.data(REFUSED_ROLE), timeout=5000)
    assert _red_pixels(inputs, 0, 0) == 0
    assert reason in index.data(TOOLTIP)
    assert model.setData(index, "2") is True
    assert index.data(TOOLTIP) == "input_1, x1: 2"
    assert model.refusal(0, 0) is None


def _dark_table_palette() -> QPalette:
    palette = QPalette()
    for role, rgb in (
        (QPalette.ColorRole.Window, (45, 45, 45)),
        (QPalette.ColorRole.Base, (30, 30, 30)),
        (QPalette.ColorRole.AlternateBase, (40, 40, 40)),
        (QPalette.ColorRole.Text, (230, 230, 230)),
        (QPalette.ColorRole.WindowText, (230, 230, 230)),
    ):
        palette.setColor(role, QColor(*rgb))
    return palette


def test_the_outline_reads_on_a_dark_palette(window, inputs) -> None:
    inputs.setPalette(_dark_table_palette())
    inputs.viewport().setPalette(_dark_table_palette())
    model = inputs.model()
    assert model.setData(model.index(0, 2), "nope") is False
    assert _red_pixels(inputs, 0, 2) > 20
    image = inputs.viewport().grab().toImage()
    cell = inputs.visualRect(model.index(0, 3))
    beside = QPoint(cell.left() + 4, cell.center().y())  # left of the right-aligned number
    assert QColor(image.pixel(beside)).lightness() < 60  # drawn on a dark base indeed
    # the frame stands out from the dark cell around it
    assert QColor(REFUSED_PEN).lightness() - QColor(image.pixel(beside)).lightness() > 60


def test_undo_or_paste_over_a_refused_cell_forgets_the_reason(window, inputs) -> None:
    model = inputs.model()
    assert model.setData(model.index(2, 3), "x") is False
    assert model.refusal(2, 3) is not None
    inputs.setCurrentIndex(model.index(2, 2))
    assert inputs.paste_text("5\t6")  # writes (2, 2) and (2, 3)
    assert model.refusal(2, 3) is None
    assert model.index(2, 3).data(TOOLTIP) == "input_3, x4: 6"


def test_refusing_again_keeps_the_outline_for_a_whole_moment(window, inputs, qtbot) -> None:
    model = inputs.model()
    index = model.index(0, 1)
    assert model.setData(index, "a") is False
    assert model.setData(index, "b") is False  # a second refusal restarts the outline
    assert "'b'" in index.data(TOOLTIP) and "'a'" not in index.data(TOOLTIP)
    qtbot.waitUntil(lambda: not index.data(REFUSED_ROLE), timeout=5000)


def test_result_tables_and_read_only_cells_have_no_refusal(window) -> None:
    view = window.results_panel.tables["weights"]
    index = view.model().index(0, 0)
    assert view.model().setData(index, "abc") is False  # read-only: not an edit at all
    assert not index.data(REFUSED_ROLE)
    assert "\n" not in index.data(TOOLTIP)


def test_a_refused_paste_is_shown_at_the_cell_it_was_pasted_to(window, inputs) -> None:
    model = inputs.model()
    inputs.setCurrentIndex(model.index(1, 1))
    assert not inputs.paste_text("1e300\t1")  # the scores would overflow
    assert model.index(1, 1).data(REFUSED_ROLE) is True
    assert "overflow" in model.index(1, 1).data(TOOLTIP)
    assert "overflow" in window.statusBar().currentMessage()
    inputs.setCurrentIndex(model.index(2, 0))
    assert not inputs.paste_text("1\tnot a number")
    assert model.refusal(2, 0).startswith("Refused paste:")
    assert model.refusal(1, 1) is not None  # another cell's refusal stays until rewritten
