"""The desktop entry: `selfattn-workbench --install-desktop-entry` puts the program in menus.

Writes, for the current user only, $XDG_DATA_HOME/applications/selfattn-workbench.desktop
(XDG_DATA_HOME defaults to ~/.local/share) and the icon next to it under
icons/hicolor/scalable/apps/. No Qt needed: it runs before any window exists.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

APP_NAME = "Self-Attention Workbench"
ICON_NAME = "selfattn-workbench"


def data_home(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME, or ~/.local/share when unset or not absolute (the XDG rule)."""
    env = os.environ if env is None else env
    value = env.get("XDG_DATA_HOME", "")
    if value and Path(value).is_absolute():
        return Path(value)
    return Path.home() / ".local" / "share"


def launcher_command() -> list[str]:
    """How to start this very installation: its script if on PATH, else the interpreter."""
    script = shutil.which("selfattn-workbench")
    if script:
        return [str(Path(script).resolve())]
    return [sys.executable, "-m", "app"]


def desktop_entry(command: list[str], icon: Path) -> str:
    """The text of a freedesktop.org .desktop file that opens presets given as %f."""
    exec_line = " ".join(shlex.quote(part) for part in command)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.5\n"
        f"Name={APP_NAME}\n"
        "GenericName=Self-attention calculator\n"
        "Comment=See, check and share every step of self-attention arithmetic\n"
        f"Exec={exec_line} %f\n"
        f"Icon={icon}\n"
        "Terminal=false\n"
        "Categories=Education;Science;Math;\n"
        "Keywords=attention;transformer;softmax;heatmap;\n"
        f"StartupWMClass={APP_NAME}\n"
    )


def install_desktop_entry(env: Mapping[str, str] | None = None) -> Path:
    """Write the entry and its icon for the current user; return the entry's path.

    Raises OSError (with the path) when the folders cannot be written.
    """
    home = data_home(env)
    icon_source = resources.files("resources") / "icons" / f"{ICON_NAME}.svg"
    icon = home / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"
    icon.parent.mkdir(parents=True, exist_ok=True)
    icon.write_bytes(icon_source.read_bytes())
    entry = home / "applications" / f"{ICON_NAME}.desktop"
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(desktop_entry(launcher_command(), icon), encoding="utf-8")
    return entry
