"""What the person is looking at: the view mode, the head, the selected cell, the precision.

One small observable object, so the heatmap, the all-heads grid, Results and Explain
never keep their own copy and never sync each other: they send requests here
(`set_mode`, `set_head`, `select`) and redraw when a signal says the state moved.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from selfattn.attention import AttentionResult
from selfattn.numbers import DEFAULT_PRECISION, check_precision

# What the central view can show: one head's matrix, or every head's weights at once.
MODES = ("weights", "scaled_scores", "scores", "all_heads")
# Result matrices whose cells Explain can explain: each head's, and the output.
CELL_KINDS = (*AttentionResult.PER_HEAD_FIELDS, "output")


@dataclass(frozen=True)
class Cell:
    """A selected result cell: which matrix (a CELL_KINDS name), row and column (0-based)."""

    kind: str
    row: int
    col: int


class ViewState(QObject):
    """Mode, head (0-based), selected cell and number precision, each with its own signal."""

    modeChanged = Signal(str)
    headChanged = Signal(int)
    cellChanged = Signal(object)  # Cell or None
    precisionChanged = Signal(str)  # one of selfattn.numbers.PRECISIONS

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mode = "weights"
        self._head = 0
        self._heads = 1
        self._cell: Cell | None = None
        self._precision = DEFAULT_PRECISION

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def head(self) -> int:
        return self._head

    @property
    def heads(self) -> int:
        """How many heads the shown result has (the head stays below it)."""
        return self._heads

    @property
    def cell(self) -> Cell | None:
        return self._cell

    @property
    def precision(self) -> str:
        """How numbers are written in the tables, heatmap cells and pipeline."""
        return self._precision

    def set_precision(self, precision: str) -> None:
        """Show numbers at one of selfattn.numbers.PRECISIONS everywhere."""
        if check_precision(precision) != self._precision:
            self._precision = precision
            self.precisionChanged.emit(precision)

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown view mode {mode!r}; expected one of {MODES}")
        if mode != self._mode:
            self._mode = mode
            self.modeChanged.emit(mode)

    def set_head(self, head: int) -> None:
        """Select a head (0-based); out-of-range requests are clamped to the result's heads."""
        head = min(max(int(head), 0), self._heads - 1)
        if head != self._head:
            self._head = head
            self.headChanged.emit(head)

    def set_head_count(self, heads: int) -> None:
        """The shown result has `heads` heads now: keep the selected head among them."""
        self._heads = max(int(heads), 1)
        self.set_head(self._head)

    def select(self, kind: str, row: int, col: int) -> None:
        """Select a result cell for Explain and the outlines; row or col < 0 clears."""
        if row < 0 or col < 0:
            self.clear_cell()
            return
        if kind not in CELL_KINDS:
            raise ValueError(f"cannot select a cell of {kind!r}; expected one of {CELL_KINDS}")
        cell = Cell(kind, int(row), int(col))
        if cell != self._cell:
            self._cell = cell
            self.cellChanged.emit(cell)

    def clear_cell(self) -> None:
        if self._cell is not None:
            self._cell = None
            self.cellChanged.emit(None)
