"""Who we are: the application icon and the versions Help → About and `--version` show."""

from __future__ import annotations

import platform
from importlib import metadata, resources
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QWidget

import selfattn

from .desktop import APP_NAME, ICON_NAME


def icon_path() -> Path:
    """The scalable application icon inside the installed package."""
    return Path(str(resources.files("resources") / "icons" / f"{ICON_NAME}.svg"))


def set_window_icon(widget: QWidget) -> None:
    icon = QIcon(str(icon_path()))
    if not icon.isNull():
        widget.setWindowIcon(icon)


def versions() -> list[tuple[str, str]]:
    """(component, version) for the program and the libraries whose behaviour it shows."""
    import numpy
    import PySide6
    from PySide6.QtCore import qVersion

    return [
        (APP_NAME, selfattn.__version__),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("pyqtgraph", metadata.version("pyqtgraph")),
        ("numpy", numpy.__version__),
        ("Python", platform.python_version()),
    ]


def about_html() -> str:
    rows = "".join(f"<tr><td>{name}</td><td>&nbsp;{ver}</td></tr>" for name, ver in versions())
    return (
        f"<b>{APP_NAME}</b> {selfattn.__version__}<br>"
        "See every step of self-attention, exact to the last digit.<br><br>"
        f"<table>{rows}</table>"
    )
