"""Which cells are outlined and which flash: "where does this number come from, what does it feed".

`Highlights` is the one owner of that state. The focused cell is either the view
state's selected result cell (in the shown head) or a cell the view state cannot
hold: an input or weight cell, or a Q, K, V cell, clicked in a table
(`focus_cell`). A result cell outlines the input cells its formula reads
(`selfattn.provenance.depends_on`, the direct set); an input cell outlines the
result cells it reaches (`feeds`, the direct set). After an edit, the cells whose
value changed beyond rounding flash for a moment (QSettings "flash_changed_cells"
turns it off). Tables and the pipeline ask `state(matrix, head, row, col)` when
they paint and repaint on `changed`.

Other parts can highlight blocks of cells by name, independently of the focus
(`set_blocks`: the walk-through outlines the cells of its step); those cells carry
the STEP flag, and `attach_heatmap` outlines them in a heatmap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject, QRect, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen

from selfattn.attention import AttentionResult
from selfattn.explain import CellRef
from selfattn.provenance import (
    HEAD_MATRICES,
    INPUT_MATRICES,
    check_cell,
    depends_on,
    feeds,
    layout,
)

from .change import Change
from .recompute import Recompute
from .view_state import Cell, ViewState

OUTLINE = 1  # the cell is in the focused cell's dependency set
FLASH = 2  # the cell's value just changed
FOCUS = 4  # the focused cell itself
STEP = 8  # the cell is in a block set by name (a walk-through step)

FLASH_SETTING = "flash_changed_cells"
FLASH_MS = 700
FLASH_CELL_LIMIT = 200_000  # larger results keep no copy to compare: no flash
# Result matrices compared after an edit.
_COMPARED_ALL = (*AttentionResult.MATRIX_NAMES,)

Key = tuple[str, int | None]  # (matrix, head); head None for whole matrices


def key_of(matrix: str, head: int) -> Key:
    """The (matrix, head) key of a table showing `matrix` in `head` (head kept per-head only)."""
    return (matrix, head if matrix in HEAD_MATRICES else None)


def changed_cells(old: np.ndarray, new: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """True where `new` differs from `old` by more than rounding (a few hundred ulps).

    A b_K edit moves every weight of a row only by rounding (a softmax ignores a shift
    of its row): those cells must not flash.
    """
    eps = float(np.finfo(dtype).eps)
    finite = np.isfinite(new) & np.isfinite(old)
    scale = float(np.max(np.abs(new[finite]), initial=0.0))
    tolerance = 256 * eps * max(scale, float(np.finfo(dtype).tiny))
    with np.errstate(invalid="ignore"):
        differ = np.abs(new - old) > tolerance
    return np.where(finite, differ, (new != old) & ~(np.isnan(new) & np.isnan(old)))


@dataclass(frozen=True)
class Block:
    """Every (row, col) of rows x cols of one matrix (of one head, or of all: None)."""

    matrix: str
    rows: frozenset[int]
    cols: frozenset[int]
    head: int | None = None

    @classmethod
    def of(
        cls, matrix: str, rows: Iterable[int], cols: Iterable[int], head: int | None = None
    ) -> Block:
        return cls(matrix, frozenset(rows), frozenset(cols), head)

    def covers_head(self, head: int | None) -> bool:
        return self.head is None or head is None or self.head == head

    def contains(self, row: int, col: int, head: int | None) -> bool:
        return self.covers_head(head) and row in self.rows and col in self.cols


def _runs(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted indices as (start, length) runs: [0, 1, 2, 5] -> [(0, 3), (5, 1)]."""
    runs: list[tuple[int, int]] = []
    for i in sorted(indices):
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


class Highlights(QObject):
    """The focused cell, its outlined dependency set, and the cells flashing after an edit."""

    changed = Signal()
    focusChanged = Signal()

    def __init__(
        self,
        results: Recompute,
        view_state: ViewState,
        settings: QSettings | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._results = results
        self._state = view_state
        self._settings = settings
        self._own: CellRef | None = None  # a focused cell the view state cannot hold
        self._outlined: dict[Key, np.ndarray] = {}
        self._flashing: dict[Key, np.ndarray] = {}
        self._blocks: dict[str, tuple[Block, ...]] = {}  # source -> its blocks (STEP)
        self._previous = self._snapshot(results.result)
        self._flash_timer = QTimer(self, singleShot=True, interval=FLASH_MS)
        self._flash_timer.timeout.connect(self._end_flash)
        results.resultChanged.connect(self._on_result_changed)
        view_state.cellChanged.connect(self._on_state_cell)
        view_state.headChanged.connect(lambda _head: self._update())
        self._update()

    # What is focused --------------------------------------------------------
    @property
    def flash_enabled(self) -> bool:
        if self._settings is None:
            return True
        value = self._settings.value(FLASH_SETTING, True)
        return value not in (False, "false", "0", 0)

    def set_flash_enabled(self, on: bool) -> None:
        if self._settings is not None:
            self._settings.setValue(FLASH_SETTING, bool(on))
        if not on:
            self._end_flash()

    def focus(self) -> CellRef | None:
        """The cell whose dependencies are outlined (and that Explain explains)."""
        if self._own is not None:
            return self._own
        return self._state_ref(self._state.cell)

    def target(self) -> CellRef | None:
        """The view state's selected result cell: the ∂ target for an input cell."""
        return self._state_ref(self._state.cell)

    def _state_ref(self, cell: Cell | None) -> CellRef | None:
        if cell is None:
            return None
        head = min(self._state.head, self._results.result.heads - 1)
        return CellRef(cell.kind, head if cell.kind in HEAD_MATRICES else None, cell.row, cell.col)

    def focus_cell(self, matrix: str, row: int, col: int) -> None:
        """A table cell was clicked: focus it (result kinds the view state holds go there)."""
        if row < 0 or col < 0:
            return
        if matrix in HEAD_MATRICES or matrix == "output":
            self._own = None
            self._state.select(matrix, row, col)
        else:
            self._own = CellRef(matrix, None, row, col)
        self._update()

    def clear(self) -> None:
        self._own = None
        self._state.clear_cell()
        self._update()

    def _on_state_cell(self, _cell: Cell | None) -> None:
        self._own = None
        self._update()

    # What is outlined -------------------------------------------------------
    def state(self, matrix: str, head: int, row: int, col: int) -> int:
        """OUTLINE | FLASH | FOCUS flags of one cell of a table showing `matrix` in `head`."""
        key = key_of(matrix, head)
        flags = 0
        mask = self._outlined.get(key)
        if mask is not None and row < mask.shape[0] and col < mask.shape[1] and mask[row, col]:
            flags |= OUTLINE
        mask = self._flashing.get(key)
        if mask is not None and row < mask.shape[0] and col < mask.shape[1] and mask[row, col]:
            flags |= FLASH
        if any(b.contains(row, col, key[1]) for b in self.blocks(matrix)):
            flags |= STEP
        focus = self.focus()
        if focus is not None and (focus.matrix, focus.head, focus.row, focus.col) == (
            *key,
            row,
            col,
        ):
            flags |= FOCUS
        return flags

    def outlined(self) -> dict[Key, np.ndarray]:
        """Every outlined cell: (matrix, head) -> boolean mask (copies; for tests and views)."""
        return {k: v.copy() for k, v in self._outlined.items()}

    def flashing(self) -> dict[Key, np.ndarray]:
        return {k: v.copy() for k, v in self._flashing.items()}

    def _update(self) -> None:
        self._outlined = self._outlines()
        self.focusChanged.emit()
        self.changed.emit()

    def _outlines(self) -> dict[Key, np.ndarray]:
        cell = self.focus()
        if cell is None:
            return {}
        preset, result = self._results.result_preset, self._results.result
        try:
            if cell.matrix in INPUT_MATRICES:
                cells = feeds(preset, result, cell).direct
            else:
                cells = depends_on(preset, result, cell).direct
        except (IndexError, ValueError):
            return {}  # the matrix shrank or went away under the focused cell
        lay = layout(preset, result)
        return {(m, h): cells.mask_of(m, h, lay.shape(m)) for m, h in cells.matrices()}

    # Blocks set by name (STEP) ----------------------------------------------
    def set_blocks(self, source: str, blocks: Iterable[Block]) -> None:
        """Replace the blocks `source` highlights (an empty list clears them)."""
        new = tuple(blocks)
        if new == self._blocks.get(source, ()):
            return
        if new:
            self._blocks[source] = new
        else:
            self._blocks.pop(source, None)
        self.changed.emit()

    def clear_blocks(self, source: str) -> None:
        self.set_blocks(source, ())

    def blocks(self, matrix: str | None = None) -> tuple[Block, ...]:
        """Every block (of one matrix), from every source."""
        every = (b for blocks in self._blocks.values() for b in blocks)
        return tuple(b for b in every if matrix is None or b.matrix == matrix)

    def block_rects(self, matrix: str, head: int | None) -> list[tuple[int, int, int, int]]:
        """The blocks of `matrix` in `head` as (row, col, rows, cols) rectangles."""
        return [
            (r, c, rows, cols)
            for b in self.blocks(matrix)
            if b.covers_head(head)
            for r, rows in _runs(b.rows)
            for c, cols in _runs(b.cols)
        ]

    def outline_rects(self, matrix: str, head: int | None) -> list[tuple[int, int, int, int]]:
        """The outlined cells of `matrix` in `head` as (row, col, 1, cols) runs of each row.

        What a heatmap outlines when the focused cell is an input: the results it feeds.
        """
        mask = self._outlined.get(key_of(matrix, 0 if head is None else head))
        if mask is None:
            return []
        return [
            (r, c, 1, cols)
            for r in np.flatnonzero(mask.any(axis=1)).tolist()
            for c, cols in _runs(np.flatnonzero(mask[r]).tolist())
        ]

    # What flashes -----------------------------------------------------------
    def _snapshot(self, result: AttentionResult) -> dict[str, np.ndarray] | None:
        total = sum(
            getattr(result, name).size
            for name in _COMPARED_ALL
            if getattr(result, name) is not None
        )
        if total > FLASH_CELL_LIMIT:
            return None
        return {
            name: np.array(getattr(result, name), copy=True)
            for name in _COMPARED_ALL
            if getattr(result, name) is not None
        }

    def _on_result_changed(self, change: Change) -> None:
        result = self._results.result
        old, new = self._previous, self._snapshot(result)
        self._previous = new
        if self._own is not None:
            try:
                check_cell(self._results.result_preset, result, self._own)
            except (IndexError, ValueError):
                self._own = None
        flashing: dict[Key, np.ndarray] = {}
        if old is not None and new is not None and not change.structure and self.flash_enabled:
            for name, after in new.items():
                before = old.get(name)
                if before is None or before.shape != after.shape:
                    continue
                differ = changed_cells(before, after, np.dtype(result.dtype))
                if name in HEAD_MATRICES:
                    for h in range(differ.shape[0]):
                        if differ[h].any():
                            flashing[(name, h)] = differ[h]
                elif differ.any():
                    flashing[(name, None)] = differ
        self._flashing = flashing
        if flashing:
            self._flash_timer.start()
        self._update()

    def _end_flash(self) -> None:
        if self._flashing:
            self._flashing = {}
            self.changed.emit()


# Colours that read on light and dark backgrounds alike: a saturated orange outline
# with a dark inner line, and a translucent yellow flash.
OUTLINE_COLOR = QColor(255, 140, 0)
OUTLINE_INNER = QColor(0, 0, 0, 160)
FOCUS_COLOR = QColor(220, 20, 60)
FLASH_COLOR = QColor(255, 215, 0, 140)
STEP_TINT = QColor(255, 140, 0, 60)  # a walk-through step's cells: tinted, thin orange edge
STEP_RIM = QColor(0, 0, 0, 190)  # the heatmap draws the orange line on a dark rim


def paint_marks(painter: QPainter, rect: QRect, marks: int) -> None:
    """Draw a cell's marks over what it already shows (tables and the pipeline)."""
    painter.save()
    if marks & STEP:
        painter.fillRect(rect, STEP_TINT)
        painter.setPen(QPen(OUTLINE_COLOR, 1))
        painter.drawRect(rect.adjusted(0, 0, -1, -1))
    if marks & FLASH:
        painter.fillRect(rect, FLASH_COLOR)
    if marks & (OUTLINE | FOCUS):
        color = FOCUS_COLOR if marks & FOCUS else OUTLINE_COLOR
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(color, 2))
        painter.drawRect(rect.adjusted(1, 1, -1, -1))
        painter.setPen(QPen(OUTLINE_INNER, 1))
        painter.drawRect(rect.adjusted(2, 2, -3, -3))
    painter.restore()


class OutlinedView(Protocol):
    def set_highlight(self, rects: Iterable[tuple[int, int, int, int]]) -> None: ...


def attach_heatmap(
    highlights: Highlights,
    view: OutlinedView,
    shown: Callable[[], tuple[str, int] | None],
    *redraws: object,
) -> Callable[[], None]:
    """Outline in `view` the STEP blocks and the outlined cells of the matrix it shows.

    shown: (matrix name, head) of what the view draws now, or None (nothing to outline).
    redraws: signals after which the view shows another matrix. Returns the refresh.
    """

    def refresh(*_: object) -> None:
        what = shown()
        if what is None:
            view.set_highlight(())
        else:
            view.set_highlight(highlights.block_rects(*what) + highlights.outline_rects(*what))

    highlights.changed.connect(refresh)
    for signal in redraws:
        signal.connect(refresh)  # type: ignore[attr-defined]
    return refresh
