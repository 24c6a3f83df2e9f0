"""A table view with spreadsheet habits: copy/paste blocks as TSV, Delete sets zeros."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from selfattn.clipboard import ClipboardError, format_block, parse_block

from .matrix_model import MatrixModel, exact_text


class MatrixTableView(QTableView):
    """Shows a MatrixModel; copies, pastes and clears blocks of cells through the document."""

    message = Signal(str)
    currentCellChanged = Signal(int, int)  # noqa: N815 - Qt style

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
        self.verticalHeader().setDefaultSectionSize(24)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)

    def setModel(self, model: MatrixModel) -> None:  # noqa: N802 - Qt's name
        super().setModel(model)
        self.selectionModel().currentChanged.connect(self._emit_current)
        model.modelReset.connect(self.fit_columns)
        self.fit_columns()

    def fit_columns(self) -> None:
        """Columns as wide as their numbers (looking at the first rows only: stays fast)."""
        self.resizeColumnsToContents()

    def _emit_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.currentCellChanged.emit(current.row(), current.column())

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
        try:
            block = parse_block(text)
        except ClipboardError as exc:
            self.message.emit(f"Refused paste: {exc}")
            return False
        current = self.currentIndex()
        r, c = (current.row(), current.column()) if current.isValid() else (0, 0)
        if block.shape == (1, 1):
            rect = self.selected_rect()
            if rect is not None and rect[2:] != (1, 1):  # one value fills the selection
                return self._fill_selection(rect, float(block[0, 0]), "Paste into selection")
        return model._doc.set_cells(model.key, r, c, block)

    def _fill_selection(self, rect: tuple[int, int, int, int], value: float, text: str) -> bool:
        """Set exactly the selected cells (also a Ctrl+click selection) as one undo step."""
        model = self.matrix_model()
        array = model.array()
        if model.key is None or array is None:
            return False
        r, c, rows, cols = rect
        block = array[r : r + rows, c : c + cols].copy()
        block[self._selected_mask(rect)] = value
        return model._doc.set_cells(model.key, r, c, block, text)

    def paste(self) -> bool:
        return self.paste_text(QGuiApplication.clipboard().text())

    def clear_selection_to_zero(self) -> bool:
        model = self.matrix_model()
        rect = self.selected_rect()
        if model.key is None or rect is None:
            return False
        return self._fill_selection(rect, 0.0, "Clear to 0")

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
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
