"""The last line of defence: an unexpected exception shows a dialog, never kills the window.

Installed as sys.excepthook by the program. The traceback goes to stderr, a dialog
shows the details and offers to save the work to a rescue file, and the event
loop carries on.
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtWidgets import QMessageBox, QWidget

import selfattn


def rescue_path(name: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name) or "untitled"
    return Path(tempfile.gettempdir()) / f"selfattn-rescue-{safe}.json"


class ExceptionHandler:
    """Callable for sys.excepthook; `window_getter` returns the main window or None."""

    def __init__(self, window_getter: Callable[[], QWidget | None]) -> None:
        self._window_getter = window_getter
        self._showing = False
        self.last_report = ""

    def __call__(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        report = "".join(traceback.format_exception(exc_type, exc, tb))
        self.last_report = report
        print(f"selfattn-workbench: unexpected error\n{report}", file=sys.stderr, flush=True)
        if self._showing:  # an error while the dialog is up: stderr is enough
            return
        self._showing = True
        try:
            self._show_dialog(exc, report)
        finally:
            self._showing = False

    def _show_dialog(self, exc: BaseException, report: str) -> None:
        window = self._window_getter()
        box = QMessageBox(window)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Unexpected error")
        box.setText(
            f"Something went wrong: {type(exc).__name__}: {exc}\n\n"
            "The window stays open and your numbers are unchanged. "
            "You can save a copy of your work now."
        )
        box.setDetailedText(report)
        save_button = None
        document = getattr(window, "document", None)
        if document is not None:
            save_button = box.addButton("Save a copy…", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Close)
        box.exec()
        if save_button is not None and box.clickedButton() is save_button:
            self.save_rescue_copy(document)

    def save_rescue_copy(self, document) -> Path | None:
        path = rescue_path(document.preset.name)
        try:
            selfattn.save_preset(document.preset, path)
        except selfattn.PresetError as exc:
            print(f"selfattn-workbench: rescue copy failed: {exc}", file=sys.stderr)
            return None
        print(f"selfattn-workbench: saved a copy of your work to {path}", file=sys.stderr)
        return path


def install(window_getter: Callable[[], QWidget | None]) -> ExceptionHandler:
    handler = ExceptionHandler(window_getter)
    sys.excepthook = handler
    return handler
