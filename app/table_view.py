"""A table view with spreadsheet habits: copy/paste blocks as TSV, Delete sets zeros,
Enter commits and moves down, Tab moves right, columns as wide as their numbers
(at the view state's number precision), a refused edit outlined in red at its cell."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QRect, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPen,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from selfattn.clipboard import ClipboardError, format_block, parse_block
from selfattn.numbers import DEFAULT_PRECISION, display_text

from . import commands, zoom
from .highlights import Highlights, paint_marks
from .matrix_model import REFUSED_ROLE, VALUE_ROLE, MatrixModel, exact_text, format_number
from .view_state import ViewState

Index = QModelIndex | QPersistentModelIndex
FULL_DIGITS = 6  # significant digits a table shows when the column is wide enough
# A refused edit's frame: pure red reads on white and on a dark base alike, and the
# tint inside tells it from the (crimson) outline of the focused cell.
REFUSED_PEN = QColor(230, 20, 20)
REFUSED_TINT = QColor(255, 0, 0, 56)

# Keys that, like in a spreadsheet, commit an edit and move: (row step, column step).
_MOVES = {
    (Qt.Key.Key_Return, False): (1, 0),
    (Qt.Key.Key_Enter, False): (1, 0),
    (Qt.Key.Key_Return, True): (-1, 0),
    (Qt.Key.Key_Enter, True): (-1, 0),
    (Qt.Key.Key_Tab, False): (0, 1),
    (Qt.Key.Key_Backtab, False): (0, -1),
    (Qt.Key.Key_Backtab, True): (0, -1),
}


def _move_for(event: QKeyEvent) -> tuple[int, int] | None:
    shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
    others = event.modifiers() & ~(
        Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier
    )
    if others != Qt.KeyboardModifier.NoModifier:
        return None
    return _MOVES.get((Qt.Key(event.key()), shift))


def fit_number(value: float, fits: Callable[[str], bool], precision: str | None = None) -> str:
    """The number at `precision` if it `fits`, else with as many significant digits as
    fit (at most FULL_DIGITS).

    Digits go, never the sign or the exponent: 9.188e-08 narrows to 9.19e-08 and 9e-08,
    not to "9.1880…". When not even one digit fits, "#" (the tooltip has the value).
    """
    if precision is not None:
        text = display_text(value, precision)
        if fits(text):
            return text
    for digits in range(FULL_DIGITS, 0, -1):
        text = format_number(value, digits)
        if fits(text):
            return text
    return "#"


def paint_refused(painter: QPainter, rect: QRect) -> None:
    """A refused edit's cell: a red tint inside a 3-pixel red frame, over its marks."""
    painter.save()
    painter.fillRect(rect, REFUSED_TINT)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(REFUSED_PEN, 3))
    painter.drawRect(rect.adjusted(1, 1, -2, -2))
    painter.restore()


class NumberDelegate(QStyledItemDelegate):
    """Draws numbers shortened to their column; Enter and Tab commit and move like a sheet."""

    def __init__(self, view: MatrixTableView) -> None:
        super().__init__(view)
        self._view = view
        style = view.style()
        self._margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1

    def shown_text(self, option: QStyleOptionViewItem, value: float) -> str:
        """What the cell draws in `option.rect`: the display text, or fewer digits."""
        widget = option.widget  # type: ignore[attr-defined]
        style = widget.style() if widget is not None else QApplication.style()
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        room = option.rect.width() - 2 * margin  # type: ignore[attr-defined]
        metrics = option.fontMetrics  # type: ignore[attr-defined]
        precision = self._view.precision()
        return fit_number(value, lambda text: metrics.horizontalAdvance(text) <= room, precision)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        text = index.data(Qt.ItemDataRole.DisplayRole)
        room = option.rect.width() - 2 * self._margin  # type: ignore[attr-defined]
        metrics = option.fontMetrics  # type: ignore[attr-defined]
        value = None
        if isinstance(text, str) and metrics.horizontalAdvance(text) > room:
            value = index.data(VALUE_ROLE)
        if not isinstance(value, float):  # it fits (the common case): Qt draws it
            super().paint(painter, option, index)
        else:
            opt = QStyleOptionViewItem(option)
            self.initStyleOption(opt, index)
            opt.text = self.shown_text(opt, value)  # type: ignore[attr-defined]
            widget = opt.widget  # type: ignore[attr-defined]
            style = widget.style() if widget is not None else QApplication.style()
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        marks = self._view.cell_marks(index.row(), index.column())
        if marks:
            paint_marks(painter, option.rect, marks)  # type: ignore[attr-defined]
        if index.data(REFUSED_ROLE):
            paint_refused(painter, option.rect)  # type: ignore[attr-defined]

    def eventFilter(self, editor: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(editor, QWidget):
            assert isinstance(event, QKeyEvent)
            move = _move_for(event)
            if move is not None:
                self.commitData.emit(editor)
                self.closeEditor.emit(editor, QStyledItemDelegate.EndEditHint.NoHint)
                if not self._view.currentIndex().data(REFUSED_ROLE):
                    self._view.move_current(*move)  # a refused cell keeps the cursor: retype it
                return True
        return super().eventFilter(editor, event)


class MatrixTableView(QTableView):
    """Shows a MatrixModel; copies, pastes and clears blocks of cells through the document."""

    message = Signal(str)
    currentCellChanged = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(self.fontMetrics().horizontalAdvance("−0.000123") + 12)
        header.setResizeContentsPrecision(64)
        header.setMinimumSectionSize(36)
        self.set_row_height(24)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setItemDelegate(NumberDelegate(self))
        self._unfitted = True  # columns wait for the table to be shown
        self._highlights: tuple[Highlights, str, Callable[[], int]] | None = None
        self._precision = DEFAULT_PRECISION
        self.horizontalScrollBar().valueChanged.connect(lambda _v: self.fit_columns())
        self.verticalScrollBar().valueChanged.connect(lambda _v: self.fit_columns())

    def setModel(self, model: MatrixModel) -> None:  # type: ignore[override]
        super().setModel(model)
        model.set_precision(self._precision)
        self.selectionModel().currentChanged.connect(self._emit_current)
        model.modelReset.connect(self.fit_columns)
        model.layoutChanged.connect(self.fit_columns)
        model.dataChanged.connect(lambda first, last, *_: self.fit_columns(first, last))
        model.headerDataChanged.connect(lambda *_: self.fit_columns())
        self._unfitted = True
        self.fit_columns()

    def fit_columns(
        self, first: QModelIndex | None = None, last: QModelIndex | None = None
    ) -> None:
        """Columns on screen as wide as their numbers and labels, after every change.

        Only what is on screen is measured: the visible columns (of the changed block
        `first`..`last`, if given) over the visible rows, so a 768 x 768 table costs no
        more than a small one. Hidden tables fit when shown, rows and columns scrolled
        into view when they appear. A cell that is still too narrow draws fewer
        digits (NumberDelegate), never a cut exponent.
        """
        model = self.model()
        if model is None:
            return
        if not self.isVisible():
            self._unfitted = True
            return
        self._unfitted = False
        rows, columns = model.rowCount(), model.columnCount()
        if not rows or not columns:
            return
        top = max(self.rowAt(0), 0)
        bottom = self.rowAt(self.viewport().height() - 1)
        bottom = rows - 1 if bottom < 0 else bottom
        low = first.column() if first is not None and first.isValid() else 0
        high = last.column() if last is not None and last.isValid() else columns - 1
        fitted: set[int] = set()
        for _ in range(4):  # narrower columns can bring more of them into view
            left = max(self.columnAt(0), low)
            right = self.columnAt(self.viewport().width() - 1)
            right = min(columns - 1 if right < 0 else right, high)
            todo = [c for c in range(left, right + 1) if c not in fitted]
            if not todo:
                break
            for column in todo:
                self._fit_column(column, top, bottom)
                fitted.add(column)

    def _fit_column(self, column: int, top: int, bottom: int) -> None:
        """Width of the widest of rows top..bottom (and the header), as Qt would size it."""
        model = self.model()
        metrics = self.fontMetrics()
        widest, widest_row = -1, -1
        for row in range(top, bottom + 1):
            text = model.data(model.index(row, column))
            advance = metrics.horizontalAdvance(text) if isinstance(text, str) else 0
            if advance > widest:
                widest, widest_row = advance, row
        need = self.horizontalHeader().sectionSizeHint(column)
        if widest_row >= 0:
            need = max(need, self.sizeHintForIndex(model.index(widest_row, column)).width())
        need += 2 * self._text_slack()
        if need != self.columnWidth(column):
            self.setColumnWidth(column, need)

    def _text_slack(self) -> int:
        """Room for the style's text margins, which sizeHintForIndex can undercount."""
        return self.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self) + 1

    def set_row_height(self, px: int) -> None:
        """Rows `px` tall at actual size; they grow with View → Zoom."""
        self._row_px = px
        self.verticalHeader().setDefaultSectionSize(zoom.scaled_px(px))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # zoomed: taller rows, columns re-fit
            self.set_row_height(self._row_px)
            advance = self.fontMetrics().horizontalAdvance("−0.000123")
            self.horizontalHeader().setDefaultSectionSize(advance + 12)  # as in __init__
            self.fit_columns()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._unfitted:
            self.fit_columns()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Columns a wider table brings into view fit too (not left at the default width)."""
        super().resizeEvent(event)
        self.fit_columns()

    def move_current(self, rows: int, cols: int) -> None:
        """Move the current cell like a spreadsheet (Enter: down, Tab: right), no wrapping."""
        model = self.model()
        current = self.currentIndex()
        if model is None or not current.isValid():
            return
        row = min(max(current.row() + rows, 0), model.rowCount() - 1)
        col = min(max(current.column() + cols, 0), model.columnCount() - 1)
        self.setCurrentIndex(model.index(row, col))

    def _emit_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.currentCellChanged.emit(current.row(), current.column())
            if self._highlights is not None and not self.signalsBlocked():
                highlights, matrix, _head = self._highlights
                highlights.focus_cell(matrix, current.row(), current.column())

    def set_highlights(
        self, highlights: Highlights, matrix: str, head: Callable[[], int] = lambda: 0
    ) -> None:
        """Outline and flash this table's cells as `highlights` says; clicks focus a cell.

        matrix: the provenance name of what the table shows (inputs, w_query, q, weights...);
        head: the head a per-head table shows.
        """
        self._highlights = (highlights, matrix, head)
        highlights.changed.connect(self.viewport().update)

    def precision(self) -> str:
        """The number precision the cells are written at (selfattn.numbers.PRECISIONS)."""
        return self._precision

    def set_precision(self, precision: str) -> None:
        """Write the numbers at `precision`; the columns re-fit to the new texts."""
        self._precision = precision
        model = self.model()
        if isinstance(model, MatrixModel):
            model.set_precision(precision)  # its dataChanged re-fits the columns

    def follow_precision(self, state: ViewState) -> None:
        """Take the view state's precision now and whenever it changes."""
        self.set_precision(state.precision)
        state.precisionChanged.connect(self.set_precision)

    def cell_marks(self, row: int, col: int) -> int:
        """Highlights' OUTLINE | FLASH | FOCUS flags of a cell (0 without highlights)."""
        if self._highlights is None:
            return 0
        highlights, matrix, head = self._highlights
        return highlights.state(matrix, head(), row, col)

    def matrix_model(self) -> MatrixModel:
        model = self.model()
        assert isinstance(model, MatrixModel)
        return model

    # Selection helpers ------------------------------------------------------
    def selected_rect(self) -> tuple[int, int, int, int] | None:
        """(row, col, rows, cols) bounding the selection, or the current cell."""
        indexes = self.selectionModel().selectedIndexes()
        if not indexes:
            current = self.currentIndex()
            if not current.isValid():
                return None
            return current.row(), current.column(), 1, 1
        rows = [i.row() for i in indexes]
        cols = [i.column() for i in indexes]
        r0, c0 = min(rows), min(cols)
        return r0, c0, max(rows) - r0 + 1, max(cols) - c0 + 1

    def selection_is_rectangle(self) -> bool:
        """Whether the selected cells fill their bounding box (spreadsheets copy only those)."""
        indexes = self.selectionModel().selectedIndexes()
        rect = self.selected_rect()
        return not indexes or (rect is not None and len(indexes) == rect[2] * rect[3])

    def _selected_mask(self, rect: tuple[int, int, int, int]) -> np.ndarray:
        """Within the bounding box, True where a cell is selected."""
        r0, c0, rows, cols = rect
        mask = np.zeros((rows, cols), dtype=bool)
        indexes = self.selectionModel().selectedIndexes()
        if not indexes:
            mask[:] = True
        for index in indexes:
            mask[index.row() - r0, index.column() - c0] = True
        return mask

    # Clipboard --------------------------------------------------------------
    def copy_selection(self) -> str:
        rect = self.selected_rect()
        array = self.matrix_model().array()
        if rect is None or array is None:
            return ""
        if not self.selection_is_rectangle():
            self.message.emit("Copy needs a rectangular selection")
            return ""
        r, c, rows, cols = rect
        text = format_block(array[r : r + rows, c : c + cols], exact_text)
        QGuiApplication.clipboard().setText(text)
        self.message.emit(f"Copied {rows} x {cols} cells")
        return text

    def paste_text(self, text: str) -> bool:
        """Paste a TSV/CSV block at the current cell as one undo step."""
        model = self.matrix_model()
        if model.key is None:
            self.message.emit("Refused: result tables are read-only")
            return False
        current = self.currentIndex()
        r, c = (current.row(), current.column()) if current.isValid() else (0, 0)
        try:
            block = parse_block(text)
        except ClipboardError as exc:
            self.message.emit(f"Refused paste: {exc}")
            model.refuse(r, c, f"Refused paste: {exc}")
            return False
        if block.shape == (1, 1):
            rect = self.selected_rect()
            if rect is not None and rect[2:] != (1, 1):  # one value fills the selection
                return self._fill_selection(rect, float(block[0, 0]), "Paste into selection")
        document, key = model.document, model.key
        assert document is not None
        return model.attempt(r, c, lambda: commands.set_cells(document, key, r, c, block))

    def _fill_selection(self, rect: tuple[int, int, int, int], value: float, text: str) -> bool:
        """Set exactly the selected cells (also a Ctrl+click selection) as one undo step."""
        model = self.matrix_model()
        array = model.array()
        if model.document is None or model.key is None or array is None:
            return False
        r, c, rows, cols = rect
        block = array[r : r + rows, c : c + cols].copy()
        block[self._selected_mask(rect)] = value
        return commands.set_cells(model.document, model.key, r, c, block, text)

    def paste(self) -> bool:
        return self.paste_text(QGuiApplication.clipboard().text())

    def clear_selection_to_zero(self) -> bool:
        model = self.matrix_model()
        rect = self.selected_rect()
        if model.key is None or rect is None:
            return False
        return self._fill_selection(rect, 0.0, "Clear to 0")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        move = _move_for(event)
        if move is not None and self.state() != QAbstractItemView.State.EditingState:
            self.move_current(*move)
            return
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selection()
            return
        if event.matches(QKeySequence.StandardKey.Paste):
            self.paste()
            return
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.state() != (
            QAbstractItemView.State.EditingState
        ):
            self.clear_selection_to_zero()
            return
        super().keyPressEvent(event)
