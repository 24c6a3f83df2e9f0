"""selfattn-workbench [PRESET] [--screenshot PNG]: the desktop program.

Also `--version`, and `--install-desktop-entry` (menus and the icon, for the current user).
"""

from __future__ import annotations

import argparse
import ctypes.util
import os
import sys
from pathlib import Path

SCREENSHOT_SIZE = (1440, 900)
STARTUP_MESSAGE_MS = 30_000  # why the last file is not shown: long enough to be read


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="selfattn-workbench",
        description="See every step of self-attention, live.",
    )
    parser.add_argument("preset", nargs="?", default=None, help="a preset file or bundled name")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window to PNG and exit")
    parser.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="add the program and its icon to the desktop's menus for the current user "
        "($XDG_DATA_HOME/applications) and exit",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="print the version"
    )
    return parser.parse_args(argv)


def _version() -> str:
    from selfattn import __version__

    return __version__


# The system libraries Qt's xcb platform plugin loads (Qt >= 6.5), with their Debian packages.
XCB_LIBRARIES = (
    ("xcb-cursor", "libxcb-cursor0"),
    ("xcb-icccm", "libxcb-icccm4"),
    ("xcb-keysyms", "libxcb-keysyms1"),
    ("xcb-image", "libxcb-image0"),
    ("xcb-render-util", "libxcb-render-util0"),
    ("xcb-shape", "libxcb-shape0"),
    ("xcb-randr", "libxcb-randr0"),
    ("xcb-xkb", "libxcb-xkb1"),
    ("xkbcommon-x11", "libxkbcommon-x11-0"),
)


def display_reachable(display: str) -> bool:
    """Whether an X server answers on `display` (Qt aborts the process when none does)."""
    import ctypes

    try:
        xcb = ctypes.CDLL(ctypes.util.find_library("xcb") or "libxcb.so.1")
    except OSError:
        return True  # cannot tell without libxcb; the library check reports it
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    if not connection:
        return False
    try:
        return xcb.xcb_connection_has_error(connection) == 0
    finally:
        xcb.xcb_disconnect(connection)


def qt_startup_problem() -> str | None:
    """Why Qt would abort on this desktop (checked before QApplication exists), or None."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None  # the person chose a platform (offscreen, wayland...): respect it
    if sys.platform != "linux":
        return None
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return None
    display = os.environ.get("DISPLAY")
    if not display:
        return (
            "no display: DISPLAY is not set. Run it on a desktop, use "
            "`--screenshot PNG` with QT_QPA_PLATFORM=offscreen, or start Xvfb."
        )
    missing = [(lib, pkg) for lib, pkg in XCB_LIBRARIES if ctypes.util.find_library(lib) is None]
    if missing:
        libs = ", ".join(f"lib{lib}" for lib, _ in missing)
        packages = " ".join(pkg for _, pkg in missing)
        return (
            f"Qt's xcb platform needs system libraries that are missing ({libs}). "
            f"Install them: sudo apt-get install {packages} (Debian/Ubuntu; on Fedora "
            "the xcb-util-* and libxkbcommon-x11 packages), or use QT_QPA_PLATFORM=wayland."
        )
    if not display_reachable(display):
        return (
            f"cannot connect to the X display {display!r}: is the X server (or Xvfb, or ssh -X "
            "forwarding) running? Use QT_QPA_PLATFORM=offscreen with --screenshot for no display."
        )
    return None


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.install_desktop_entry:
        from .desktop import install_desktop_entry

        try:
            entry = install_desktop_entry()
        except OSError as exc:
            print(
                f"selfattn-workbench: error: cannot write the desktop entry: {exc}", file=sys.stderr
            )
            return 2
        print(f"wrote {entry}")
        return 0
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

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    install_app_basics(app)
    from selfattn.attention import AttentionError

    path = Path(args.preset) if args.preset and Path(args.preset).exists() else None
    settings = _ephemeral_settings() if args.screenshot else None
    if preset is None:  # no argument: the last file opened or saved, else the seed example
        from .main_window import app_settings
        from .startup import first_window

        window, start = first_window(
            settings if settings is not None else app_settings(),
            lambda chosen, where: MainWindow(chosen, settings=settings, path=where),
        )
        window.files.show_bundled(start.bundled)
        if start.problem:
            window.statusBar().showMessage(start.problem, STARTUP_MESSAGE_MS)
    else:
        try:
            window = MainWindow(preset, settings=settings, path=path)
        except AttentionError as exc:
            print(f"selfattn-workbench: error: {args.preset}: {exc}", file=sys.stderr)
            return 2
        if path is None:  # a bundled preset's name
            window.files.show_bundled(args.preset)
    if not args.screenshot:
        from . import errors

        errors.install(lambda: window)
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
