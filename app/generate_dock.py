"""Puts the Generate panel into the main window: a dock, View → Generate…, a toolbar button.

One call from `MainWindow.__init__`, so the window's own code stays about the window.
The toolbar button is on while the document's preset came from a decoder (its
`Document.origin`); off, its tooltip says why. Load from model's "Generate…" opens the
panel with the dialog's model and sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QBoxLayout,
    QDockWidget,
    QMenu,
    QMenuBar,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QWidget,
)

from selfattn.atlas import atlas_from_attentions
from selfattn.generate import open_model
from selfattn.models import resolve_model
from selfattn.models.errors import ModelError

from .atlas_view import AtlasView
from .document import Document
from .files import FileController
from .generate_view import StepNote
from .panels.generate import GeneratePanel
from .worker import Background


class Host(Protocol):
    """What the panel needs of the main window (a Protocol: no import of the window)."""

    document: Document
    background: Background
    files: FileController
    atlas_view: AtlasView  # built after the panel: read when a step changes
    center_tabs: QTabWidget  # Pipeline | Heatmap
    heatmap_stack: QStackedWidget

    def _dock(
        self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea
    ) -> QDockWidget: ...
    def menuBar(self) -> QMenuBar: ...
    def setCorner(self, corner: Qt.Corner, area: Qt.DockWidgetArea) -> None: ...
    def centralWidget(self) -> QWidget | None: ...
    def findChild(self, kind: type[QToolBar], name: str) -> QToolBar | None: ...
    def show_message(self, text: str) -> None: ...
    def _redraw_heatmap(self) -> None: ...


def install_generate_panel(window: Host) -> GeneratePanel:
    panel = GeneratePanel(window.document, window.background, window.files.load_model_preset)
    dock = window._dock("Generate", "generate", panel, Qt.DockWidgetArea.RightDockWidgetArea)
    dock.hide()  # opened from View → Generate… or the toolbar
    # the right column runs to the status bar: the panel's chart gets the window's height
    window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
    panel.dock = dock

    def show_panel() -> None:
        dock.show()
        dock.raise_()

    action = dock.toggleViewAction()  # View → Generate… opens and closes the panel
    action.setText("&Generate…")
    action.setShortcut("Ctrl+G")
    action.setStatusTip("Let a decoder continue a prompt and watch where each new token looks")
    action.toggled.connect(lambda on: dock.raise_() if on else None)
    # closing the panel (menu, Ctrl+G or its close button) gives the heatmap back to the
    # document; not on `toggled`, which also fires while the window is being destroyed
    action.triggered.connect(lambda on: None if on else panel.step_view.set_active(False))
    dock.installEventFilter(CloseWatcher(lambda: panel.step_view.set_active(False), dock))
    panel.action = action
    for menu in window.menuBar().findChildren(QMenu):
        if menu.title() == "&View":
            menu.addSeparator()
            menu.addAction(action)
    tool = QAction("Generate", panel)
    tool.triggered.connect(lambda _checked=False: show_panel())
    panel.tool_action = tool
    toolbar = window.findChild(QToolBar, "toolbar_main")
    if toolbar is not None:
        toolbar.addAction(tool)

    def enable_tool(_runnable: bool = False) -> None:
        why = panel.generation_refusal()
        tool.setEnabled(not why)
        tool.setToolTip(why or "Continue this decoder's text token by token (the Generate panel)")
        tool.setStatusTip(tool.toolTip())

    enable_tool()
    panel.decoderLoaded.connect(enable_tool)

    def continue_text(model: str | None, text: str) -> None:
        panel.continue_from(model, text)
        show_panel()

    window.files.generateRequested.connect(continue_text)
    panel.message.connect(window.show_message)
    install_step_note(window, panel)
    panel.step_view.changed.connect(window._redraw_heatmap)
    panel.step_view.changed.connect(atlas_follower(window, panel))
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(panel.shutdown)
    return panel


class CloseWatcher(QObject):
    """Calls `on_close` when the watched widget gets a close event (its close button)."""

    def __init__(self, on_close: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._on_close = on_close

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt API name
        if event.type() == QEvent.Type.Close:
            self._on_close()
        return False


def install_step_note(window: Host, panel: GeneratePanel) -> StepNote:
    """The line above the heatmap while it shows a generation step (not the preset);
    showing a step brings the Heatmap tab to the front (unless the atlas is there)."""
    note = StepNote()
    central = window.centralWidget()
    layout = None if central is None else central.layout()
    assert isinstance(layout, QBoxLayout)  # the window's bar, banner, tabs: top to bottom
    layout.insertWidget(layout.indexOf(window.center_tabs), note)
    note.open_button.clicked.connect(panel.open_button.click)  # off while one is built
    note.back_button.clicked.connect(lambda _checked=False: panel.step_view.set_active(False))
    panel.step_view.changed.connect(lambda: note.show_for(panel.step_view))

    def front(active: bool) -> None:
        tabs = window.center_tabs  # an atlas in front stays: it follows the step too
        if active and tabs.currentWidget() is not getattr(window, "atlas_view", None):
            tabs.setCurrentWidget(window.heatmap_stack)

    panel.step_view.activeChanged.connect(front)
    panel.step_note = note
    return note


def same_model(model: str | Path | None, path: Path) -> bool:
    """Whether the atlas's model (as AtlasView keeps it) is the decoder file or folder `path`."""
    try:
        kind, found = resolve_model(model)
    except (ModelError, OSError):
        return False
    return kind == "decoder" and found is not None and found.resolve() == path.resolve()


def atlas_follower(window: Host, panel: GeneratePanel) -> Callable[[], None]:
    """A slot for the step view's changes: an open atlas of the run's model shows the
    selected step (every layer and head over prompt + continuation so far, from the
    run's recorded rows; nothing is run again)."""
    shown: list[object] = [None]  # (run start, step) the atlas shows

    def follow() -> None:
        view = panel.step_view
        atlas = getattr(window, "atlas_view", None)
        if view.start is None or atlas is None:
            return
        if not atlas.isVisible() or atlas.busy or atlas.atlas is None:
            return
        key = (id(view.start), view.step)
        if shown[0] == key:
            return  # only the layer, head or heatmap switch moved
        start = view.start
        if not same_model(atlas.model, start.model_path):
            return
        ids = view.token_ids()
        text = open_model(start.model_path).tokenizer.decode(list(ids))  # cached model
        made = atlas_from_attentions(
            view.attentions(),
            ids,
            view.raw_labels(),
            model=start.model_name,
            source=f"generation step {view.step}: {text!r}",
        )
        shown[0] = key
        atlas.show_computed(made, atlas.model, text)

    return follow
