"""Explain panel: the arithmetic behind the selected cell, with the actual numbers."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from ..document import Change, Document

_HINT = (
    "Click a cell of the heatmap, or of the Weights, Scores, Context or Output table, "
    "to see where its number comes from."
)


class ExplainPanel(QWidget):
    """Shows selfattn.explain's rendering for the selected cell and follows every edit."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc = document
        self._target: tuple[str, int, int, int] | None = None  # (kind, head, row, col)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel(_HINT)
        self.title.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        document.changed.connect(self._on_changed)
        self._resize_timer = QTimer(self, singleShot=True, interval=80)
        self._resize_timer.timeout.connect(self._render)

    def explain(self, kind: str, head: int, row: int, col: int) -> None:
        """kind: weights/scores/scaled_scores, context or output."""
        self._target = (kind, head, row, col)
        self._render()

    def clear(self) -> None:
        self._target = None
        self.title.setText(_HINT)
        self.text.clear()

    def current_text(self) -> str:
        return self.text.toPlainText()

    def _on_changed(self, _change: Change) -> None:
        self._render()

    def _render(self) -> None:
        if self._target is None:
            return
        from selfattn import explain

        kind, head, row, col = self._target
        p, r = self._doc.result_preset, self._doc.result
        head = min(head, r.heads - 1)
        n_cols = {"context": r.d_v, "output": r.output.shape[1]}.get(kind, r.n_keys)
        if kind not in ("weights", "scores", "scaled_scores", "context", "output") or not (
            row < r.n_queries and col < n_cols
        ):
            return self.clear()
        ex = explain.explain_cell(p, r, kind, head, row, col)
        self.title.setText(ex.title)
        self.text.setPlainText(ex.render(width=self._text_columns()))

    def _text_columns(self) -> int:
        """How many monospace characters fit the panel, so prose wraps instead of clipping."""
        advance = max(self.text.fontMetrics().horizontalAdvance("0"), 1)
        return max(60, self.text.viewport().width() // advance - 3)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._target is not None:
            self._resize_timer.start()
