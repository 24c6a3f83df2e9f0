"""Every edit of the document: one undoable command per user action, exact numbers back.

The functions here are the editing API the views call (`set_cells`, `push_preset`,
`set_options`, `open_preset`...). Each asks the document to check the proposed
preset first (a refused edit never becomes an undo step), then pushes a command
whose redo/undo call `Document.apply`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QUndoCommand

from selfattn import edit
from selfattn.attention import AttentionError
from selfattn.expr import ExpressionError, parse_number
from selfattn.models.origin import ModelOrigin
from selfattn.preset import Preset, PresetError

from .change import Change
from .document import UNCHANGED, Document

_MERGE_IDS: dict[str, int] = {}


def _merge_id(key: str | None) -> int:
    if key is None:
        return -1
    return _MERGE_IDS.setdefault(key, 1000 + len(_MERGE_IDS))


class PresetCommand(QUndoCommand):
    """Swap the whole preset (options, resize, labels, fills, loading a file)."""

    def __init__(
        self,
        document: Document,
        after: Preset,
        text: str,
        merge_key: str | None = None,
        structure: bool = True,
        path: Path | None | bool = UNCHANGED,
        origin: ModelOrigin | None | bool = UNCHANGED,
    ) -> None:
        super().__init__(text)
        self._doc = document
        self._before = document.preset
        self._after = after
        self._merge = _merge_id(merge_key)
        self._structure = structure
        self._path_before: Path | None | bool = document.path if path is not UNCHANGED else False
        self._path_after = path
        # A load sets where the preset came from (a model, or None); undo gives the old one back.
        self._origin_before = document.origin if origin is not UNCHANGED else UNCHANGED
        self._origin_after = origin

    def id(self) -> int:  # Qt's name
        return self._merge

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Consecutive moves of one slider or spin box become one undo step."""
        if not isinstance(other, PresetCommand) or other.id() != self.id() or self.id() < 0:
            return False
        self._after = other._after
        return True

    def redo(self) -> None:
        change = Change(structure=self._structure)
        self._doc.apply(self._after, change, self._path_after, self._origin_after)

    def undo(self) -> None:
        change = Change(structure=self._structure)
        self._doc.apply(self._before, change, self._path_before, self._origin_before)


class CellsCommand(QUndoCommand):
    """Write a block of cells into one input matrix; stores only the block, not the preset."""

    def __init__(
        self,
        document: Document,
        key: str,
        row: int,
        col: int,
        before: np.ndarray,
        after: np.ndarray,
        text: str,
        first_preset: Preset | None = None,
    ) -> None:
        super().__init__(text)
        self._first_preset = first_preset  # the exact preset the document already checked
        self._doc = document
        self._key = key
        self._row = row
        self._col = col
        self._before = before.copy()
        self._after = np.array(after, dtype=np.float64)

    def _write(self, block: np.ndarray) -> None:
        preset, self._first_preset = self._first_preset, None
        if preset is None:
            preset = edit.with_block(self._doc.preset, self._key, self._row, self._col, block)
        rect = (self._row, self._col, block.shape[0], block.shape[1])
        self._doc.apply(preset, Change(structure=False, matrix=self._key, rect=rect))

    def redo(self) -> None:
        self._write(self._after)

    def undo(self) -> None:
        self._write(self._before)


# Editing API (every call is one undo step) -----------------------------------------


def _accepted(document: Document, preset: Preset, change: Change) -> bool:
    """Check a proposed preset before it becomes an undo step; report a refusal."""
    try:
        document.check(preset, change)
    except AttentionError as exc:
        document.report(f"Refused: {exc}. The old values stay.")
        return False
    return True


def push_preset(
    document: Document,
    preset: Preset,
    text: str,
    *,
    merge_key: str | None = None,
    structure: bool = True,
) -> bool:
    """Replace the whole preset as one undo step (options, resize, labels, fills...)."""
    if not _accepted(document, preset, Change(structure=structure)):
        return False
    document.undo_stack.push(PresetCommand(document, preset, text, merge_key, structure))
    return True


def set_cells(
    document: Document, key: str, row: int, col: int, block: np.ndarray, text: str = ""
) -> bool:
    """Write a block of numbers into an input matrix as one undo step."""
    try:
        after = edit.with_block(document.preset, key, row, col, block)  # refuses misfits
    except PresetError as exc:
        document.report(f"Refused: {exc}")
        return False
    old = edit.matrix_of(document.preset, key)
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
    if not _accepted(document, after, Change(structure=False, matrix=key, rect=rect)):
        return False
    document.undo_stack.push(
        CellsCommand(document, key, row, col, before_block, block, text, after)
    )
    return True


def set_cell_text(document: Document, key: str, row: int, col: int, text: str) -> bool:
    """Parse a typed cell (numbers or safe arithmetic); refuse anything else."""
    try:
        value = parse_number(text)
    except ExpressionError as exc:
        document.report(f"Not a number: {exc}. The old value stays.")
        return False
    return set_cells(document, key, row, col, np.array([[value]]))


def set_options(
    document: Document, text: str, merge_key: str | None = None, **changes: object
) -> bool:
    """Change options (scale, temperature, causal, dtype...) as one undo step."""
    preset = document.preset.with_options(**changes)
    return push_preset(document, preset, text, merge_key=merge_key, structure=False)


def set_kv_heads(document: Document, kv_heads: int) -> bool:
    """Group the key/value heads (W_K and W_V get kv_heads blocks) as one undo step.

    kv_heads equal to the heads switches grouping off. Numbers that still fit keep
    their place (`edit.resized`); a count that does not divide the heads is refused.
    """
    p = document.preset
    wanted = None if kv_heads == p.options.heads else kv_heads
    if wanted == p.options.kv_heads:
        return True
    try:
        preset = edit.resized(p, kv_heads=wanted)
    except PresetError as exc:
        document.report(f"Refused: {exc}. The old value stays.")
        return False
    return push_preset(document, preset, f"Key/value heads {kv_heads}")


def open_preset(
    document: Document,
    preset: Preset,
    path: Path | None,
    text: str = "",
    origin: ModelOrigin | None = None,
) -> None:
    """Make a loaded preset current (undoable) and mark the document clean.

    `origin`: the model, text, layer and head a model preset was made of; None
    (a file, New, a bundled preset) clears the document's.

    Raises PresetError (and changes nothing) when the preset cannot be computed,
    e.g. finite numbers whose scores overflow.
    """
    try:
        document.check(preset, Change(structure=True))
    except AttentionError as exc:
        raise PresetError(f"{path or preset.name}: {exc}") from None
    label = text or f"Open {path.name if path else preset.name}"
    document.undo_stack.push(
        PresetCommand(document, preset, label, None, True, path=path, origin=origin)
    )
    document.mark_opened(path)


def move_in_model(document: Document, preset: Preset, origin: ModelOrigin) -> bool:
    """Replace a model preset by another layer or head of the same model and text.

    One undo step that carries the origin (undo returns to the old layer's preset and
    origin); the document stays unsaved, at no file. A refused preset changes nothing.
    """
    if not _accepted(document, preset, Change(structure=True)):
        return False
    text = f"Go to {origin.describe()}"
    document.undo_stack.push(
        PresetCommand(document, preset, text, None, True, path=None, origin=origin)
    )
    return True


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
