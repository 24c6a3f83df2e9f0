"""Delete the program's windows at exit before PySide's own cleanup does, top down.

At interpreter exit PySide's atexit function (destroyQCoreApplication) deletes every
QObject whose wrapper Python owns, in the arbitrary order of shiboken's wrapper table.
pyqtgraph's AxisItem keeps its label as such an object (`QGraphicsTextItem(self)`
leaves ownership with Python). When a window is still alive then, its axis labels can
be deleted before the window; deleting the window afterwards lays its plots out once
more, AxisItem.resizeEvent reads the dead label, and shiboken crashes reporting that
error (SIGSEGV in about one run in three of `python -m benchmarks --only
bench_atlas_view`). Deleting every remaining top-level widget first, while every
wrapper is still valid, tears each window down from the top, and the labels go with
their axes as they do whenever a window is deleted normally.
"""

from __future__ import annotations

import atexit

import shiboken6
from PySide6.QtWidgets import QApplication, QMainWindow

_registered = False


def delete_main_windows() -> None:
    """Delete every main window Python made (each takes its children with it)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    for widget in app.topLevelWidgets():
        if (
            isinstance(widget, QMainWindow)
            and widget.parent() is None
            and shiboken6.isValid(widget)
        ):
            shiboken6.delete(widget)


def delete_windows_before_exit() -> None:
    """Run delete_main_windows at exit (registered once per process).

    atexit runs functions last-registered first, and PySide registered its cleanup when
    it was imported, so this one always runs before it.
    """
    global _registered
    if not _registered:
        atexit.register(delete_main_windows)
        _registered = True
