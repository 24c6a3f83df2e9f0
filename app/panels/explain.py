"""Explain panel: the arithmetic behind the selected cell, with the actual numbers."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from selfattn import explain
from selfattn.explain_inputs import explain_any
from selfattn.provenance import INPUT_MATRICES

from .. import zoom
from ..highlights import Highlights
from ..recompute import Recompute
from ..view_state import ViewState

_HINT = (
    "Click any cell (the heatmap, the pipeline, a Results or Inputs table) to see where "
    "its number comes from, or what an input feeds."
)


class ExplainPanel(QWidget):
    """Explains the focused cell (Highlights', else the view state's) and follows every edit.

    An input or weight cell says what it feeds, with ∂ of the view state's selected
    result cell with respect to it; a Q, K, V cell its dot product term by term.
    """

    def __init__(
        self,
        results: Recompute,
        view_state: ViewState,
        parent: QWidget | None = None,
        highlights: Highlights | None = None,
    ) -> None:
        super().__init__(parent)
        self._results = results
        self._state = view_state
        self._highlights = highlights
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel(_HINT)
        self.title.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(zoom.fixed_font())
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        results.resultChanged.connect(lambda _change: self._render())
        if highlights is not None:
            highlights.focusChanged.connect(self._render)
        else:
            view_state.cellChanged.connect(lambda _cell: self._render())
            view_state.headChanged.connect(lambda _head: self._render())
        self._resize_timer = QTimer(self, singleShot=True, interval=80)
        self._resize_timer.timeout.connect(self._render)

    def current_text(self) -> str:
        return self.text.toPlainText()

    def _clear(self) -> None:
        self.title.setText(_HINT)
        self.text.clear()

    def _render(self) -> None:
        if self._highlights is not None:
            return self._render_focus(self._highlights)
        cell = self._state.cell
        if cell is None:
            return self._clear()
        p, r = self._results.result_preset, self._results.result
        head = min(self._state.head, r.heads - 1)
        n_cols = {"context": r.d_v, "output": r.output.shape[1]}.get(cell.kind, r.n_keys)
        if not (cell.row < r.n_queries and cell.col < n_cols):
            return self._clear()  # the matrix shrank under the selection
        ex = explain.explain_cell(p, r, cell.kind, head, cell.row, cell.col)
        self.title.setText(ex.title)
        self.text.setPlainText(ex.render(width=self._text_columns()))

    def _render_focus(self, highlights: Highlights) -> None:
        focus = highlights.focus()
        if focus is None:
            return self._clear()
        target = highlights.target() if focus.matrix in INPUT_MATRICES else None
        p, r = self._results.result_preset, self._results.result
        try:
            ex = explain_any(p, r, focus, target)
        except (IndexError, ValueError):
            return self._clear()  # the matrix shrank or went away under the focus
        self.title.setText(ex.title)
        self.text.setPlainText(ex.render(width=self._text_columns()))

    def _text_columns(self) -> int:
        """How many monospace characters fit the panel, so prose wraps instead of clipping."""
        advance = max(self.text.fontMetrics().horizontalAdvance("0"), 1)
        return max(60, self.text.viewport().width() // advance - 3)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # View → Zoom: the arithmetic too
            self.text.setFont(zoom.fixed_font())
            self._render()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        focused = self._highlights.focus() if self._highlights is not None else self._state.cell
        if focused is not None:
            self._resize_timer.start()
