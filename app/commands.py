"""Undo commands: one QUndoCommand per user action, each restoring exact numbers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QUndoCommand

from selfattn import edit
from selfattn.preset import Preset

if TYPE_CHECKING:
    from .document import Document

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
        path: Path | None | bool = False,
    ) -> None:
        super().__init__(text)
        self._doc = document
        self._before = document.preset
        self._after = after
        self._merge = _merge_id(merge_key)
        self._structure = structure
        self._path_before: Path | None | bool = document.path if path is not False else False
        self._path_after = path

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self._merge

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        """Consecutive moves of one slider or spin box become one undo step."""
        if not isinstance(other, PresetCommand) or other.id() != self.id() or self.id() < 0:
            return False
        self._after = other._after
        return True

    def redo(self) -> None:
        from .document import Change

        self._doc._apply(self._after, Change(structure=self._structure), self._path_after)

    def undo(self) -> None:
        from .document import Change

        self._doc._apply(self._before, Change(structure=self._structure), self._path_before)


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
        self._first_preset = first_preset  # the exact preset the document already tried
        self._doc = document
        self._key = key
        self._row = row
        self._col = col
        self._before = before.copy()
        self._after = np.array(after, dtype=np.float64)

    def _write(self, block: np.ndarray) -> None:
        from .document import Change

        preset, self._first_preset = self._first_preset, None
        if preset is None:
            preset = edit.with_block(self._doc.preset, self._key, self._row, self._col, block)
        rect = (self._row, self._col, block.shape[0], block.shape[1])
        self._doc._apply(preset, Change(structure=False, matrix=self._key, rect=rect))

    def redo(self) -> None:
        self._write(self._after)

    def undo(self) -> None:
        self._write(self._before)
