"""Application-wide setup shared by the program and the tests."""

from __future__ import annotations

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from .about import icon_path
from .desktop import APP_NAME, ICON_NAME


def install_app_basics(app: QApplication) -> None:
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("SelfAttentionWorkbench")
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName(ICON_NAME)  # Wayland and docks match the window to the entry
    icon = QIcon(str(icon_path()))
    if not icon.isNull():
        app.setWindowIcon(icon)
