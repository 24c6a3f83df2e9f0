"""Puts the Generate panel into the main window: a dock, View → Generate…, a toolbar button.

One call from `MainWindow.__init__`, so the window's own code stays about the window.
The toolbar button shows while the document holds a head of a decoder the panel can run.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDockWidget, QMenu, QMenuBar, QToolBar, QWidget

from .document import Document
from .files import FileController
from .panels.generate import GeneratePanel
from .worker import Background


class Host(Protocol):
    """What the panel needs of the main window (a Protocol: no import of the window)."""

    document: Document
    background: Background
    files: FileController

    def _dock(
        self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea
    ) -> QDockWidget: ...
    def menuBar(self) -> QMenuBar: ...
    def findChild(self, kind: type[QToolBar], name: str) -> QToolBar | None: ...
    def show_message(self, text: str) -> None: ...
    def _redraw_heatmap(self) -> None: ...


def install_generate_panel(window: Host) -> GeneratePanel:
    panel = GeneratePanel(window.document, window.background, window.files.load_model_preset)
    dock = window._dock("Generate", "generate", panel, Qt.DockWidgetArea.RightDockWidgetArea)
    dock.hide()  # opened from View → Generate… or the toolbar
    panel.dock = dock

    def show_panel() -> None:
        dock.show()
        dock.raise_()

    action = QAction("&Generate…", panel)
    action.setShortcut("Ctrl+G")
    action.setStatusTip("Let a decoder continue a prompt and watch where each new token looks")
    action.triggered.connect(lambda _checked=False: show_panel())
    panel.action = action
    for menu in window.menuBar().findChildren(QMenu):
        if menu.title() == "&View":
            menu.addSeparator()
            menu.addAction(action)
    tool = QAction("Generate", panel)
    tool.setToolTip("Continue this decoder's text token by token (the Generate panel)")
    tool.triggered.connect(lambda _checked=False: show_panel())
    tool.setVisible(False)
    panel.tool_action = tool
    toolbar = window.findChild(QToolBar, "toolbar_main")
    if toolbar is not None:
        toolbar.addAction(tool)
    panel.decoderLoaded.connect(tool.setVisible)
    panel.message.connect(window.show_message)
    panel.step_view.changed.connect(window._redraw_heatmap)
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(panel.shutdown)
    return panel
