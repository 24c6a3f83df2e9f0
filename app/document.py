"""The document: the preset being edited, its file, and the undo stack.

Every edit is an undoable command (app/commands.py) that calls `Document.apply`;
`apply` makes the new preset current and emits `changed` once. The document knows
nothing about results or threads: a checker installed with `set_checker` (the
recompute in app/recompute.py) may refuse a preset before it becomes an undo step.
It imports nothing from app/ but its Change, so it works without any window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

import selfattn
from selfattn.models.origin import ModelOrigin
from selfattn.preset import Preset

from .change import Change

# Raises selfattn.AttentionError when a proposed preset cannot be computed.
Checker = Callable[[Preset, Change], None]
UNCHANGED = False  # `path` argument of `apply`: keep the current path


class Document(QObject):
    changed = Signal(object)  # Change: `preset` is new
    fileStateChanged = Signal()  # path, name or clean state changed: retitle the window
    message = Signal(str)  # a transient message for the status bar (refusals)
    originChanged = Signal(object)  # ModelOrigin | None: where the preset came from

    def __init__(
        self, preset: Preset, parent: QObject | None = None, path: Path | None = None
    ) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._preset = preset
        self._path: Path | None = path
        self._saved_path: Path | None = path
        self._last_name = preset.name
        self._checker: Checker | None = None
        self._origin: ModelOrigin | None = None

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
    def origin(self) -> ModelOrigin | None:
        """The model, text, layer and head the preset was loaded from (None: not a model's)."""
        return self._origin

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

    # Checking and applying --------------------------------------------------
    def set_checker(self, checker: Checker | None) -> None:
        """Install what decides whether a proposed preset can be computed."""
        self._checker = checker

    def check(self, preset: Preset, change: Change) -> None:
        """Raise AttentionError if `preset` must be refused (commands call it before pushing)."""
        if self._checker is not None:
            self._checker(preset, change)

    def report(self, text: str) -> None:
        """A message for the person (a refusal); shown in the status bar."""
        self.message.emit(text)

    def apply(
        self,
        preset: Preset,
        change: Change,
        path: Path | None | bool = UNCHANGED,
        origin: ModelOrigin | None | bool = UNCHANGED,
    ) -> None:
        """Make `preset` current and emit `changed` once (undo commands call this).

        path: the file the preset now belongs to, or UNCHANGED; origin: the model
        preset's source (None: none), or UNCHANGED (cell edits keep it).
        """
        self._preset = preset
        if origin is not UNCHANGED and origin != self._origin:
            self._origin = origin  # type: ignore[assignment]
            self.originChanged.emit(self._origin)
        if path is not UNCHANGED:
            self._path = path  # type: ignore[assignment]
            self.fileStateChanged.emit()
        elif preset.name != self._last_name:
            self.fileStateChanged.emit()
        self._last_name = preset.name
        self.changed.emit(change)

    def mark_opened(self, path: Path | None) -> None:
        """The current state is what `path` holds (just opened): clean at that file."""
        self._saved_path = path
        self.undo_stack.setClean()

    def save(self, path: Path) -> None:
        """Save atomically; on failure raise PresetError and keep the document unsaved."""
        selfattn.save_preset(self._preset, path)
        self._path = Path(path)
        self._saved_path = self._path
        self.undo_stack.setClean()
        self.fileStateChanged.emit()
