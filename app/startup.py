"""Application-wide setup shared by the program and the tests."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication


def install_app_basics(app: QApplication) -> None:
    app.setApplicationName("Self-Attention Workbench")
    app.setOrganizationName("SelfAttentionWorkbench")
    app.setApplicationDisplayName("Self-Attention Workbench")
