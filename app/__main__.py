"""selfattn-workbench [PRESET] [--screenshot PNG]: the desktop program."""

from __future__ import annotations

import argparse
import ctypes.util
import os
import sys
from pathlib import Path

SCREENSHOT_SIZE = (1440, 900)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="selfattn-workbench",
        description="See every step of self-attention, live.",
    )
    parser.add_argument("preset", nargs="?", default=None, help="a preset file or bundled name")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit")
    return parser.parse_args(argv)


def qt_startup_problem() -> str | None:
    """Why Qt would abort on this desktop (checked before QApplication exists), or None."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None  # the person chose a platform (offscreen, wayland...): respect it
    if sys.platform != "linux":
        return None
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return None
    if not os.environ.get("DISPLAY"):
        return (
            "no display: DISPLAY is not set. Run it on a desktop, use "
            "`--screenshot PNG` with QT_QPA_PLATFORM=offscreen, or start Xvfb."
        )
    if ctypes.util.find_library("xcb-cursor") is None:
        return (
            "Qt's xcb platform needs the system library libxcb-cursor0, which is missing. "
            "Install it: sudo apt-get install libxcb-cursor0 (Debian/Ubuntu) or "
            "sudo dnf install xcb-util-cursor (Fedora)."
        )
    return None


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.screenshot and not os.environ.get("QT_QPA_PLATFORM") and not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    problem = qt_startup_problem()
    if problem:
        print(f"selfattn-workbench: error: {problem}", file=sys.stderr)
        return 3

    from selfattn.bundled import resolve_preset
    from selfattn.preset import PresetError

    preset = None
    if args.preset:
        try:
            preset = resolve_preset(args.preset)
        except PresetError as exc:
            print(f"selfattn-workbench: error: {exc}", file=sys.stderr)
            return 2

    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .startup import install_app_basics

    app = QApplication.instance() or QApplication(sys.argv[:1])
    install_app_basics(app)
    window = MainWindow(preset, settings=_ephemeral_settings() if args.screenshot else None)
    if not args.screenshot:
        from . import errors

        errors.install(lambda: window)
    if preset is not None and args.preset and Path(args.preset).exists():
        window.document.open_preset(preset, Path(args.preset))
    if args.screenshot:
        window.resize(*SCREENSHOT_SIZE)
        window.show()
        for _ in range(5):
            app.processEvents()
        image = window.grab()
        if not image.save(args.screenshot, "PNG"):
            print(f"selfattn-workbench: error: cannot write {args.screenshot}", file=sys.stderr)
            return 2
        print(f"wrote {args.screenshot} ({image.width()} x {image.height()})")
        window.document.undo_stack.setClean()
        window.close()
        return 0
    window.show()
    return app.exec()


def _ephemeral_settings():
    """Screenshots use default layout and touch no saved settings."""
    import tempfile

    from PySide6.QtCore import QSettings

    path = Path(tempfile.mkdtemp(prefix="selfattn-shot-")) / "settings.ini"
    return QSettings(str(path), QSettings.Format.IniFormat)


if __name__ == "__main__":
    sys.exit(main())
