"""Results for the document: what to compute after a change, where, and who holds it.

`Recompute` watches `Document.changed`, computes with the incremental engine
(selfattn.incremental) either at once on the GUI thread or as a job on its worker
thread, and emits `resultChanged` when `result` and `result_preset` are new. It is
also the document's checker: a proposed preset is computed (or proven finite by
selfattn.bounds) before it becomes an undo step, and that trial result is reused.

`Policy` is the one place that decides incremental versus full and GUI thread
versus worker; docs/DESIGN.md explains the thresholds.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject, Signal

import selfattn
from selfattn.attention import AttentionError, AttentionResult
from selfattn.bounds import check_shapes, surely_finite
from selfattn.incremental import IncrementalAttention
from selfattn.preset import Preset

from .change import Change
from .document import Document
from .worker import Background

# One-cell edits of these matrices have cheap incremental paths (see selfattn.incremental);
# a W_Q, W_K, b_Q or b_K cell changes a whole head's scores and costs a full recompute.
INCREMENTAL_MATRICES = ("inputs", "source_inputs", "w_value", "b_value", "w_output", "b_output")


def score_cells(preset: Preset) -> int:
    """heads x queries x keys: the size that every cost of a recompute follows."""
    return preset.options.heads * preset.n_tokens * preset.n_keys


class Policy:
    """When a change is computed incrementally, and when on the worker thread.

    Below `incremental_min_cells` a full recompute is about as fast and gives exactly
    `selfattn.compute`'s digits (what a learner checks by hand); above it a one-cell edit
    updates only what depends on the cell (equal within 1e-12 relative). From
    `background_min_cells` on, anything but a cheap one-cell edit leaves the GUI thread
    (a full BERT-base layer takes about a second). Tests lower the class attributes.
    """

    incremental_min_cells = 65_536
    background_min_cells = 1_000_000

    def incremental(self, preset: Preset, change: Change) -> bool:
        """Update the engine's result for one cell instead of recomputing everything."""
        return change.one_cell and score_cells(preset) >= self.incremental_min_cells

    def background(self, preset: Preset, change: Change) -> bool:
        """Compute on the worker thread (the GUI stays responsive)."""
        if score_cells(preset) < self.background_min_cells:
            return False
        return not (change.one_cell and change.matrix in INCREMENTAL_MATRICES)


class Recompute(QObject):
    """Owns the engine, the worker and the latest result of one document."""

    resultChanged = Signal(object)  # Change: `result` and `result_preset` are new
    busyChanged = Signal(bool)  # a background recompute started (True) or all ended
    staleChanged = Signal(str)  # why results lag the inputs; "" once they match again
    message = Signal(str)  # a transient message for the status bar

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        """Compute the document's preset (raises AttentionError if it cannot be)."""
        super().__init__(parent)
        self._doc = document
        self.policy = Policy()
        self._engine = IncrementalAttention(document.preset)
        # One threshold: the engine's own "too small to bother" test uses the policy's.
        self._engine.min_cells = self.policy.incremental_min_cells
        self._result: AttentionResult | None = None  # see `result`
        self._shown_preset = document.preset
        self._trial: tuple[Preset, AttentionResult] | None = None
        self._engine_dirty = False  # a worker job failed part-way: recompute in full next
        self._background: Background | None = None
        self._jobs = 0
        self._generation = 0
        self._stale = ""
        document.set_checker(self.check)
        document.changed.connect(self._on_document_changed)

    # What the views read ------------------------------------------------------
    @property
    def result(self) -> AttentionResult:
        """The latest result. Read it when needed; do not keep it across edits.

        While nothing is queued, the engine alone holds it, so a one-cell edit can
        update its arrays in place instead of copying hundreds of MiB. While the worker
        computes, this object keeps the shown result so the views' snapshot stays valid.
        """
        if self._result is not None:
            return self._result
        return self._engine.result

    @property
    def result_preset(self) -> Preset:
        """The preset `result` was computed from: the document's preset, except while the
        worker computes a newer one (or failed to); result views take labels from here."""
        return self._shown_preset

    @property
    def busy(self) -> bool:
        """True while a recompute runs on the worker thread."""
        return self._jobs > 0

    @property
    def stale_reason(self) -> str:
        """Why the shown results are not those of the current inputs ("" when they are)."""
        return self._stale

    # The document's checker -----------------------------------------------------
    def check(self, preset: Preset, change: Change) -> None:
        """Raise AttentionError unless `preset` can be computed; keep the result for later."""
        check_shapes(preset)
        if self._in_background(preset, change):
            if not surely_finite(preset):
                selfattn.compute(preset)  # absurd magnitudes: settle it without the busy engine
            return  # otherwise nothing can overflow: the worker cannot fail on it
        # Nothing is queued, so every reader is on this thread and reads `result` again
        # after `resultChanged`, which follows at once whether the edit is accepted
        # (commit) or refused (below): the engine may update its arrays in place.
        lent = self._result is None and self._jobs == 0
        if lent:
            self._engine.release()
        try:
            self._trial = (preset, self._compute(preset, change))
        except AttentionError:
            if lent:  # the engine restored the old numbers, perhaps in other arrays
                self.resultChanged.emit(Change(structure=False))
            raise

    # Computing ------------------------------------------------------------------
    def _in_background(self, preset: Preset, change: Change) -> bool:
        if self._jobs > 0:
            return True  # the engine is busy on the worker: queue behind it, in order
        return self.policy.background(preset, change)

    def _compute(self, preset: Preset, change: Change) -> AttentionResult:
        """The result for `preset` (may raise AttentionError; the engine then keeps the old)."""
        if self._engine_dirty:
            result = self._engine.recompute(preset)
            self._engine_dirty = False
            return result
        if self.policy.incremental(preset, change):
            assert change.matrix is not None and change.rect is not None
            return self._engine.edit_cell(preset, change.matrix, change.rect[0], change.rect[1])
        return self._engine.recompute(preset)

    def _on_document_changed(self, change: Change) -> None:
        preset = self._doc.preset
        trial, self._trial = self._trial, None
        if trial is not None and trial[0] is preset:
            self._commit(preset, trial[1], change)
            return
        del trial
        if self._in_background(preset, change):
            self._start_job(preset, change)
            return
        try:
            result = self._compute(preset, change)
        except (AttentionError, MemoryError) as exc:  # undo/redo replay what once computed
            self._engine_dirty = True
            self._failed(exc)
            return
        self._commit(preset, result, change)

    def _commit(self, preset: Preset, result: AttentionResult, change: Change) -> None:
        # Hold the result only while jobs are queued or the engine is unreliable (the
        # worker must then copy rather than update what the views are reading).
        owned_by_engine = self._jobs == 0 and not self._engine_dirty
        self._result = None if owned_by_engine else result
        del result
        self._shown_preset = preset
        if self._stale:
            self._stale = ""
            self.staleChanged.emit("")
        self.resultChanged.emit(change)

    def _failed(self, exc: BaseException) -> None:
        """The shown pair (result_preset, result) stays the last good one; say so until fixed."""
        self._stale = (
            f"Could not compute the newest numbers ({type(exc).__name__}: {exc}); "
            "the results shown are still those of the previous numbers."
        )
        self.staleChanged.emit(self._stale)
        self.message.emit(self._stale)

    def _start_job(self, preset: Preset, change: Change) -> None:
        """Recompute on the worker; changes made meanwhile queue behind it, the newest wins.

        Presets reach the worker only after `check` made sure they cannot overflow, so
        a job fails only for reasons such as memory; then the last result stays shown.
        """
        if self._background is None:
            self._background = Background(self)
        self._generation += 1
        generation = self._generation
        if self._result is None:
            self._result = self._engine.result  # the views' snapshot while the worker runs
        self._jobs += 1
        if self._jobs == 1:
            self.busyChanged.emit(True)

        def job() -> AttentionResult | None:
            if generation != self._generation:
                return None  # a newer change is queued: skip to it
            try:
                return self._compute(preset, change)
            except BaseException:
                self._engine_dirty = True  # it may be half-updated: recompute in full next
                raise

        def done(result: AttentionResult | None) -> None:
            self._jobs -= 1
            if result is not None and generation == self._generation:
                self._commit(preset, result, Change(structure=True))
            del result
            if self._jobs == 0:
                self.busyChanged.emit(False)

        def failed(exc: BaseException) -> None:
            self._jobs -= 1
            if generation == self._generation:
                self._failed(exc)
            if self._jobs == 0:
                self.busyChanged.emit(False)

        self._background.submit(job, done, failed)

    # Lifecycle ------------------------------------------------------------------
    def wait(self) -> None:
        """Block until background recomputes finished and were delivered (tests, scripts)."""
        while self._jobs:
            if self._background is not None:
                self._background.wait()
            QCoreApplication.processEvents()

    def shutdown(self) -> None:
        """Stop the worker thread (the window is closing); queued jobs are dropped."""
        if self._background is not None:
            self._background.shutdown()
            self._background = None
