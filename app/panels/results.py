"""Results panel: read-only tables of Q, K, V, scores, scaled scores, weights, context, output."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from ..document import Document
from ..matrix_model import RESULT_KEYS, RESULT_TITLES, result_model
from ..table_view import MatrixTableView

PER_HEAD = ("scores", "scaled_scores", "weights", "context")


class ResultsPanel(QWidget):
    """One tab per intermediate; the per-head tabs show the head selected in the window."""

    cellSelected = Signal(str, int, int)  # noqa: N815 - (result key, row, col)

    def __init__(
        self, document: Document, current_head: Callable[[], int], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        layout.addWidget(self.tabs)
        self.tables: dict[str, MatrixTableView] = {}
        for key in RESULT_KEYS:
            view = MatrixTableView()
            view.setModel(result_model(document, key, current_head, self))
            view.currentCellChanged.connect(lambda r, c, key=key: self.cellSelected.emit(key, r, c))
            self.tables[key] = view
            self.tabs.addTab(view, RESULT_TITLES[key])
        self.tabs.setCurrentIndex(RESULT_KEYS.index("weights"))

    def head_changed(self) -> None:
        """The selected head changed: the per-head tables show other numbers."""
        for key in PER_HEAD:
            self.tables[key].matrix_model().refresh()

    def show_table(self, key: str) -> None:
        self.tabs.setCurrentIndex(RESULT_KEYS.index(key))
