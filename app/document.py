"""The document: the one QObject that owns the preset, its file and the latest result.

Every change goes through an undoable command pushed here; the document
recomputes with `selfattn` and emits `changed` once; every view redraws from
`document.preset` and `document.result`. Views never hold their own numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

import selfattn
from selfattn import edit
from selfattn.attention import AttentionError, AttentionResult, resolve_scale
from selfattn.expr import ExpressionError, parse_number
from selfattn.preset import Preset, PresetError

try:  # the incremental engine makes single-cell edits cheap at large n
    from selfattn.incremental import IncrementalAttention
except ImportError:  # pragma: no cover - the engine is optional
    IncrementalAttention = None  # type: ignore[assignment,misc]


INCREMENTAL_MIN_CELLS = 65_536
# One-cell edits of these matrices have cheap incremental paths (see selfattn.incremental).
_INCREMENTAL_MATRICES = ("inputs", "source_inputs", "w_value", "b_value", "w_output", "b_output")


@dataclass(frozen=True)
class Change:
    """What a `changed` signal is about, so views can update only what moved.

    structure: shapes, labels or which parts exist may have changed (views reset).
    matrix/rect: for cell edits, the input matrix and (row, col, rows, cols) edited.
    """

    structure: bool = True
    matrix: str | None = None
    rect: tuple[int, int, int, int] | None = None


class Document(QObject):
    changed = Signal(object)  # Change: preset and result are new
    fileStateChanged = Signal()  # path, name or clean state changed: retitle the window
    message = Signal(str)  # a transient message for the status bar
    busyChanged = Signal(bool)  # noqa: N815 - a large recompute started (True) or ended
    # The preset changed but its result is still being computed on the worker: input-side
    # views (tables of X and weights, options) update now; result views wait for `changed`.
    inputsChanged = Signal(object)  # noqa: N815

    ASYNC_MIN_CELLS = (
        1_000_000  # heads x queries x keys above which full recomputes leave the GUI thread
    )

    def __init__(
        self, preset: Preset | None = None, parent: QObject | None = None, path: Path | None = None
    ) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._preset = preset if preset is not None else blank_preset()
        self._path: Path | None = path
        self._saved_path: Path | None = path
        self._engine = IncrementalAttention(self._preset) if IncrementalAttention else None
        self._result = None if self._engine else selfattn.compute(self._preset)
        self._trial_result: tuple[Preset, AttentionResult] | None = None
        self._shown_preset = self._preset
        self._engine_dirty = False  # set when a worker job failed part-way
        self._last_name = self._preset.name
        self._background = None
        self._jobs = 0
        self._generation = 0

    def _on_clean_changed(self, clean: bool) -> None:
        if clean:
            # Back at the state that was saved (or opened): it lives at that file, whatever
            # path the commands replayed on the way (e.g. undoing past Save As, then redo).
            self._path = self._saved_path
        self.fileStateChanged.emit()

    # State ------------------------------------------------------------------
    @property
    def preset(self) -> Preset:
        return self._preset

    @property
    def result(self) -> AttentionResult:
        """The latest result. Read it when needed; do not keep it across edits.

        With the incremental engine the document holds no reference of its own
        (except while the worker computes), so a one-cell edit can update the
        engine's arrays in place instead of copying hundreds of MiB.
        """
        if self._result is not None:
            return self._result
        assert self._engine is not None
        return self._engine.result

    @property
    def result_preset(self) -> Preset:
        """The preset `result` was computed from. It is `preset` except while the worker
        computes a newer one; views that show results take labels and masks from here."""
        return self._shown_preset

    @property
    def busy(self) -> bool:
        """True while a large recompute runs on the worker thread."""
        return self._jobs > 0

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    def display_name(self) -> str:
        if self._path is not None:
            return self._path.name
        return self._preset.name or "Untitled"

    # Computing ----------------------------------------------------------------
    def _runs_in_background(self, preset: Preset, change: Change) -> bool:
        """Large full recomputes go to the worker thread; cheap cell updates stay here."""
        if self._engine is None:
            return False
        if self._jobs > 0:
            return True  # the engine is busy on the worker: queue behind it, in order
        cells = preset.options.heads * preset.n_tokens * preset.n_keys
        if cells < self.ASYNC_MIN_CELLS:
            return False
        cheap_cell = (
            change.rect is not None
            and change.rect[2:] == (1, 1)
            and not change.structure
            and change.matrix in _INCREMENTAL_MATRICES
        )
        return not cheap_cell

    def _compute(self, preset: Preset, change: Change) -> AttentionResult:
        """The result for `preset` (may raise AttentionError; the engine then keeps the old)."""
        if self._engine is None:
            return selfattn.compute(preset)
        if self._engine_dirty:
            result = self._engine.recompute(preset)
            self._engine_dirty = False
            return result
        cell = change.rect is not None and change.rect[2:] == (1, 1) and not change.structure
        # Small layers recompute in full, so learners see exactly compute()'s digits; large
        # ones update incrementally (equal to a full recompute within 1e-12 relative).
        big = preset.options.heads * preset.n_tokens * preset.n_keys >= INCREMENTAL_MIN_CELLS
        if cell and big and change.matrix is not None:
            assert change.rect is not None
            return self._engine.edit_cell(preset, change.matrix, change.rect[0], change.rect[1])
        return self._engine.recompute(preset)

    def _prepare(self, preset: Preset, change: Change) -> None:
        """Raise AttentionError unless `preset` can be computed; keep the result for `_apply`."""
        _probe_shapes(preset)
        if self._runs_in_background(preset, change):
            if not _surely_finite(preset):
                selfattn.compute(preset)  # absurd magnitudes: settle it without the busy engine
            return  # otherwise nothing can overflow: the worker cannot fail on it
        self._trial_result = (preset, self._compute(preset, change))

    def _trial(self, preset: Preset, change: Change) -> bool:
        """Compute a proposed preset before it becomes an undo step; refuse it if it fails."""
        try:
            self._prepare(preset, change)
        except AttentionError as exc:
            self.message.emit(f"Refused: {exc}. The old values stay.")
            return False
        return True

    # Called by undo commands only -------------------------------------------
    def _apply(self, preset: Preset, change: Change, path: Path | None | bool = False) -> None:
        """Make `preset` current, recompute and emit one signal (path False = unchanged)."""
        trial, self._trial_result = self._trial_result, None
        if trial is not None and trial[0] is preset:
            result = trial[1]
        elif self._runs_in_background(preset, change):
            self._apply_in_background(preset, change, path)
            return
        else:
            result = self._compute(preset, change)
        self._commit(preset, result, change, path)

    def _commit(
        self, preset: Preset, result: AttentionResult, change: Change, path: Path | None | bool
    ) -> None:
        # Hold the result only when there is no engine to own it, or while jobs are queued
        # (the worker must then copy rather than update what the views are reading).
        owned_by_engine = self._engine is not None and self._jobs == 0 and not self._engine_dirty
        self._result = None if owned_by_engine else result
        del result
        self._preset = preset
        self._shown_preset = preset
        if path is not False:
            self._path = path  # type: ignore[assignment]
            self.fileStateChanged.emit()
        elif preset.name != self._last_name:
            self.fileStateChanged.emit()
        self._last_name = preset.name
        self.changed.emit(change)

    def _apply_in_background(
        self, preset: Preset, change: Change, path: Path | None | bool
    ) -> None:
        """Recompute on the worker; edits made meanwhile queue behind it and the newest wins.

        Presets reach the worker only after `_trial` has made sure they cannot overflow,
        so a job fails only for reasons such as memory; then the last result stays shown.
        """
        from .worker import Background

        if self._background is None:
            self._background = Background(self)
        self._preset = preset  # further edits build on the newest numbers at once
        if path is not False:
            self._path = path  # type: ignore[assignment]
            self.fileStateChanged.emit()
        self._generation += 1
        generation = self._generation
        if self._result is None:
            self._result = self._engine.result  # the views' snapshot while the worker runs
        self._jobs += 1
        if self._jobs == 1:
            self.busyChanged.emit(True)
        self.inputsChanged.emit(change)

        def job() -> AttentionResult | None:
            if generation != self._generation:
                return None  # a newer edit is queued: skip to it
            try:
                return self._compute(preset, change)
            except BaseException:
                self._engine_dirty = True  # it may be half-updated: recompute in full next
                raise

        def done(result: AttentionResult | None) -> None:
            self._jobs -= 1
            if result is not None and generation == self._generation:
                self._commit(preset, result, Change(structure=True), False)
            del result
            if self._jobs == 0:
                self.busyChanged.emit(False)

        def failed(exc: BaseException) -> None:
            # The shown pair (result_preset, result) stays the last good one.
            self._jobs -= 1
            if self._jobs == 0:
                self.busyChanged.emit(False)
            self.message.emit(
                f"Could not compute the newest numbers ({type(exc).__name__}: {exc}); "
                "the results shown are still those of the previous numbers."
            )

        self._background.submit(job, done, failed)

    def wait(self) -> None:
        """Block until background recomputes finished and were delivered (tests, scripts)."""
        from PySide6.QtCore import QCoreApplication

        while self._jobs:
            if self._background is not None:
                self._background.wait()
            QCoreApplication.processEvents()

    # Editing API (every call is one undo step) -------------------------------
    def push_preset(
        self, preset: Preset, text: str, *, merge_key: str | None = None, structure: bool = True
    ) -> bool:
        """Replace the whole preset as one undo step (options, resize, labels, fills...)."""
        from .commands import PresetCommand

        if not self._trial(preset, Change(structure=structure)):
            return False
        self.undo_stack.push(PresetCommand(self, preset, text, merge_key, structure))
        return True

    def set_cells(self, key: str, row: int, col: int, block: np.ndarray, text: str = "") -> bool:
        """Write a block of numbers into an input matrix as one undo step."""
        from .commands import CellsCommand

        try:
            after = edit.with_block(self._preset, key, row, col, block)  # refuses misfits
        except PresetError as exc:
            self.message.emit(f"Refused: {exc}")
            return False
        old = edit.matrix_of(self._preset, key)
        assert old is not None
        block = np.asarray(block, dtype=np.float64)
        before_block = old[row : row + block.shape[0], col : col + block.shape[1]].copy()
        if np.array_equal(before_block, block) and np.array_equal(
            np.signbit(before_block), np.signbit(block)
        ):
            return True  # nothing changes: no undo step
        if not text:
            title = edit.MATRIX_TITLES[key]
            text = (
                f"Edit {title}[{row + 1}, {col + 1}]"
                if block.size == 1
                else f"Paste {block.shape[0]}x{block.shape[1]} into {title}"
            )
        rect = (row, col, block.shape[0], block.shape[1])
        if not self._trial(after, Change(structure=False, matrix=key, rect=rect)):
            return False
        self.undo_stack.push(CellsCommand(self, key, row, col, before_block, block, text, after))
        return True

    def set_cell_text(self, key: str, row: int, col: int, text: str) -> bool:
        """Parse a typed cell (numbers or safe arithmetic); refuse anything else."""
        try:
            value = parse_number(text)
        except ExpressionError as exc:
            self.message.emit(f"Not a number: {exc}. The old value stays.")
            return False
        return self.set_cells(key, row, col, np.array([[value]]))

    def set_options(self, text: str, merge_key: str | None = None, **changes: object) -> bool:
        return self.push_preset(
            self._preset.with_options(**changes), text, merge_key=merge_key, structure=False
        )

    def open_preset(self, preset: Preset, path: Path | None, text: str = "") -> None:
        """Make a loaded preset current (undoable) and mark the document clean.

        Raises PresetError (and changes nothing) when the preset cannot be computed,
        e.g. finite numbers whose scores overflow.
        """
        from .commands import PresetCommand

        try:
            self._prepare(preset, Change(structure=True))
        except AttentionError as exc:
            raise PresetError(f"{path or preset.name}: {exc}") from None
        label = text or f"Open {path.name if path else preset.name}"
        self.undo_stack.push(PresetCommand(self, preset, label, None, True, path=path))
        self._saved_path = path
        self.undo_stack.setClean()

    def save(self, path: Path) -> None:
        """Save atomically; on failure raise PresetError and keep the document unsaved."""
        selfattn.save_preset(self._preset, path)
        self._path = Path(path)
        self._saved_path = self._path
        self.undo_stack.setClean()
        self.fileStateChanged.emit()


def _norm_bound(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> float:
    """An upper bound of every row norm of x @ w + b (Cauchy-Schwarz), in O(n d + d^2)."""
    rows = float(np.sqrt(np.max(np.einsum("ij,ij->i", x, x))))
    bound = rows * float(np.linalg.norm(w))
    return bound + (float(np.linalg.norm(b)) if b is not None else 0.0)


def _surely_finite(preset: Preset) -> bool:
    """True when no step of the computation can overflow, from cheap norm bounds.

    Scores are at most |q|·|k|, logits that over scale x temperature, the context a convex
    mix of values, the output |concat|·|W_O|. False means "not sure", not "overflows".
    """
    o = preset.options
    limit = float(np.finfo(o.dtype).max) / 64
    xs = preset.inputs if preset.source_inputs is None else preset.source_inputs
    with np.errstate(over="ignore", invalid="ignore"):
        q = _norm_bound(preset.inputs, preset.w_query, preset.b_query)
        k = _norm_bound(xs, preset.w_key, preset.b_key)
        v = _norm_bound(xs, preset.w_value, preset.b_value)
        scale = resolve_scale(o.scale, max(preset.d_k, 1))
        logits = q * k / (scale * o.temperature)
        out = v * np.sqrt(o.heads)
        if preset.w_output is not None:
            out = out * float(np.linalg.norm(preset.w_output))
        if preset.b_output is not None:
            out += float(np.linalg.norm(preset.b_output))
    bounds = (q, k, v, q * k, logits, out)
    return all(np.isfinite(b) and b < limit for b in bounds)


def _probe_shapes(preset: Preset) -> None:
    """Cheap shape checks so a refused preset never reaches a command."""
    o = preset.options
    if o.heads < 1:
        raise AttentionError("heads must be at least 1")
    width_qk = preset.w_query.shape[1]
    width_v = preset.w_value.shape[1]
    if width_qk % o.heads or width_v % o.heads:
        raise AttentionError(
            f"{o.heads} heads do not divide the query/key width {width_qk} "
            f"and the value width {width_v}"
        )
    if preset.w_key.shape != preset.w_query.shape:
        raise AttentionError("W_Q and W_K must have the same shape")
    if o.key_mask is not None and len(o.key_mask) != preset.n_keys:
        raise AttentionError("the key mask needs one entry per key")


def blank_preset() -> Preset:
    """What File > New starts from: 3 tokens, d_model 4, d_k = d_v = 3, small identity weights."""
    return Preset(
        inputs=np.eye(3, 4),
        w_query=np.eye(4, 3),
        w_key=np.eye(4, 3),
        w_value=np.eye(4, 3),
        name="Untitled",
        description="",
    )
