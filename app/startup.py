"""Application-wide setup shared by the program and the tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from selfattn.attention import AttentionError
from selfattn.bundled import load_bundled
from selfattn.preset import Preset, PresetError, load_preset

from .about import icon_path
from .desktop import APP_NAME, ICON_NAME
from .files import as_list


def install_app_basics(app: QApplication) -> None:
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("SelfAttentionWorkbench")
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName(ICON_NAME)  # Wayland and docks match the window to the entry
    icon = QIcon(str(icon_path()))
    if not icon.isNull():
        app.setWindowIcon(icon)


SEED_PRESET = "seed-example"  # what a first start shows: the first lesson
RECENT_KEY = "files/recent"  # the files opened or saved, newest first (app/files.py)
W = TypeVar("W")


@dataclass(frozen=True)
class StartingPoint:
    """What the window opens with when no preset is named on the command line."""

    preset: Preset
    path: Path | None  # the file it came from; None for the seed example
    bundled: str | None  # the bundled preset's name, for the preset chooser
    problem: str | None  # why the last file is not shown (for the status bar), or None


def seed_start(problem: str | None = None) -> StartingPoint:
    return StartingPoint(load_bundled(SEED_PRESET), None, SEED_PRESET, problem)


def _why(path: Path, exc: BaseException) -> str:
    why = " ".join(str(exc).split()) or type(exc).__name__
    where = "" if str(path) in why else f"{path}: "
    return f"Showing the seed example instead of the last file: {where}{why}"


def starting_point(settings: QSettings) -> StartingPoint:
    """The last file opened or saved, else the seed example; never raises.

    A last file that is gone, unreadable or invalid gives the seed example and one
    sentence saying why: a start never ends in a crash or a dialog.
    """
    recent = as_list(settings.value(RECENT_KEY))
    if not recent:
        return seed_start()
    path = Path(recent[0])
    try:
        return StartingPoint(load_preset(path), path, None, None)
    except (PresetError, OSError, MemoryError) as exc:
        return seed_start(_why(path, exc))


def first_window(
    settings: QSettings, make_window: Callable[[Preset, Path | None], W]
) -> tuple[W, StartingPoint]:
    """The window of a start without arguments, and what it shows.

    A last file that loads but cannot be computed (the window refuses it) falls back
    to the seed example like an unreadable one.
    """
    start = starting_point(settings)
    try:
        return make_window(start.preset, start.path), start
    except AttentionError as exc:
        assert start.path is not None  # the seed example always computes
        start = seed_start(_why(start.path, exc))
        return make_window(start.preset, None), start
