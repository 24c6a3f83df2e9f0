"""Results panel: read-only tables of Q, K, V, scores, scaled scores, weights, context, output,
and Q and K after the rotation when RoPE is on."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from selfattn.attention import AttentionResult

from ..change import Change
from ..matrix_model import RESULT_KEYS, RESULT_TITLES, ROTATED_KEYS, result_model
from ..recompute import Recompute
from ..table_view import MatrixTableView
from ..view_state import CELL_KINDS, Cell, ViewState

PER_HEAD = AttentionResult.PER_HEAD_FIELDS  # the tables that follow the selected head


class StaleBanner(QLabel):
    """Says, for as long as it is true, that the results shown lag the inputs and why.

    compact: one short line, the reason in the tooltip (for the small Results dock).
    """

    def __init__(
        self, results: Recompute, parent: QWidget | None = None, compact: bool = False
    ) -> None:
        super().__init__(parent)
        self._compact = compact
        self.setWordWrap(True)
        self.setStyleSheet(
            "QLabel { background: #fff3cd; color: #664d03; border: 1px solid #e0c36a;"
            " padding: 4px; }"
        )
        results.staleChanged.connect(self._show)
        self._show(results.stale_reason)

    def _show(self, reason: str) -> None:
        short = "⚠ Stale results (hover for why)"
        self.setText("" if not reason else short if self._compact else f"⚠ Stale results. {reason}")
        self.setToolTip(reason)
        self.setVisible(bool(reason))


class ResultsPanel(QWidget):
    """One tab per intermediate; the per-head tabs show the view state's head.

    "Q rotated" and "K rotated" are there only while the result has them (RoPE on).
    """

    def __init__(
        self, results: Recompute, view_state: ViewState, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._results = results
        self._state = view_state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.stale_banner = StaleBanner(results, compact=True)
        layout.addWidget(self.stale_banner)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setUsesScrollButtons(False)  # every step's tab in sight (the dock widens)
        layout.addWidget(self.tabs)
        self.tables: dict[str, MatrixTableView] = {}
        for key in RESULT_KEYS:
            view = MatrixTableView()
            view.setModel(result_model(results, key, lambda: view_state.head, self))
            view.currentCellChanged.connect(lambda r, c, key=key: self._on_cell_clicked(key, r, c))
            self.tables[key] = view
        self._show_tabs()
        self.show_table("weights")
        results.resultChanged.connect(self._on_result_changed)
        view_state.headChanged.connect(self._on_head_changed)
        view_state.cellChanged.connect(self._on_cell_changed)
        view_state.modeChanged.connect(
            lambda mode: self.show_table("weights" if mode == "all_heads" else mode)
        )

    def _on_cell_clicked(self, key: str, row: int, col: int) -> None:
        if key in CELL_KINDS:
            self._state.select(key, row, col)

    def _on_head_changed(self, _head: int) -> None:
        """The per-head tables show other numbers now."""
        for key in PER_HEAD:
            self.tables[key].matrix_model().refresh()

    def _on_cell_changed(self, cell: Cell | None) -> None:
        if cell is None or cell.kind not in self.tables:
            return
        table = self.tables[cell.kind]
        self.show_table(cell.kind)
        index = table.model().index(cell.row, cell.col)
        table.blockSignals(True)
        table.setCurrentIndex(index)
        table.blockSignals(False)
        table.scrollTo(index)

    def tab_titles(self) -> list[str]:
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    def _wanted_keys(self) -> list[str]:
        rotated = self._results.result.q_rot is not None
        return [k for k in RESULT_KEYS if rotated or k not in ROTATED_KEYS]

    def _show_tabs(self) -> None:
        """Add or remove the rotated tabs so the tabs match the result; keep the one in front."""
        wanted = self._wanted_keys()
        if [RESULT_TITLES[k] for k in wanted] == self.tab_titles():
            return
        front = self.tabs.currentWidget()
        self.tabs.blockSignals(True)
        while self.tabs.count():
            self.tabs.removeTab(0)
        for key in wanted:
            self.tabs.addTab(self.tables[key], RESULT_TITLES[key])
        self.tabs.blockSignals(False)
        index = self.tabs.indexOf(front) if front is not None else -1
        self.tabs.setCurrentIndex(index if index >= 0 else self.tabs.indexOf(self.tables["q"]))

    def _on_result_changed(self, _change: Change) -> None:
        self._show_tabs()

    def show_table(self, key: str) -> None:
        index = self.tabs.indexOf(self.tables[key])
        if index >= 0:
            self.tabs.setCurrentIndex(index)
