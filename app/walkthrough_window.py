"""The walk-through in the window: its dock, menu actions, export, and the first-start invitation.

`WalkthroughController` owns what the walk-through adds to the main window, so the
window itself only places three actions and calls `invite_once`:
- Help → Walk through (and the toolbar button) shows the dock with the panel
  (app/panels/walkthrough.py); closing the dock clears its outlines.
- At each step, `focus` brings forward the Inputs tab, the Results tab and the
  heatmap mode the step is about, and the head it follows.
- File → Export walk-through… writes `selfattn.worksheet`'s Markdown or HTML on the
  window's worker (a large preset takes a moment to compute and draw).
- The first start shows a one-line, closable invitation (remembered in QSettings).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from selfattn.walkthrough import walkthrough
from selfattn.walkthrough_command import write_atomically
from selfattn.worksheet import render

from . import help_page
from .files import slug
from .panels.walkthrough import WalkthroughPanel
from .table_view import MatrixTableView

if TYPE_CHECKING:
    from selfattn.walkstep import WalkStep, Walkthrough

    from .document import Document
    from .files import FileController
    from .highlights import Highlights
    from .panels.inputs import InputsPanel
    from .panels.results import ResultsPanel
    from .recompute import Recompute
    from .view_state import ViewState
    from .worker import Background

INVITED_KEY = "help/walkthrough_invited"
SEED = "seed-example"
HEATMAP_MODES = ("scores", "scaled_scores", "weights")


class Host(Protocol):
    """What the walk-through uses of the main window (which it must not import back)."""

    document: Document
    recompute: Recompute
    view_state: ViewState
    highlights: Highlights
    inputs_panel: InputsPanel
    results_panel: ResultsPanel
    files: FileController
    background: Background

    def show_message(self, text: str) -> None: ...


class WalkthroughDock(QDockWidget):
    """The panel's dock: shown starts the walk-through, closed (×) clears its outlines."""

    def __init__(self, panel: WalkthroughPanel, parent: QWidget) -> None:
        super().__init__("Walk-through", parent)
        self.setObjectName("dock_walkthrough")
        self.panel = panel
        self.setWidget(panel)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.panel.active:  # also when the saved layout had it open
            self.panel.start()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.panel.stop()
        super().closeEvent(event)


class InvitationBanner(QFrame):
    """One line over the heatmap: take the walk-through, or close it for good."""

    def __init__(self, on_take: object, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("walkthrough_invitation")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 2, 2)
        self.label = QLabel(
            "New to self-attention? Take the walk-through of the seed example: "
            "the tutorial's steps, one at a time, with the numbers highlighted."
        )
        self.label.setWordWrap(True)
        self.take_button = QPushButton("Walk through")
        self.take_button.clicked.connect(on_take)  # type: ignore[arg-type]
        self.take_button.clicked.connect(self.hide)
        self.close_button = QToolButton()
        self.close_button.setText("×")
        self.close_button.setToolTip("Close (Help → Walk through opens it any time)")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.take_button)
        layout.addWidget(self.close_button)


class WalkthroughController(QObject):
    """Creates the walk-through's dock and actions for `window` and wires them.

    window and host are the same main window: its Qt side, and the parts it holds.
    """

    def __init__(self, window: QMainWindow, host: Host) -> None:
        super().__init__(window)
        self._window = window
        self._host = host
        self.panel = WalkthroughPanel(host.recompute, host.highlights, self.focus)
        self.dock = WalkthroughDock(self.panel, window)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        window.resizeDocks([self.dock], [380], Qt.Orientation.Horizontal)
        self.dock.hide()
        self.banner: InvitationBanner | None = None
        self._exports = 0
        host.files.bundledOpened.connect(lambda _name: self.panel.restart())

        self.action_walk = QAction("&Walk through", window)
        self.action_walk.setStatusTip("The tutorial's steps on this preset, one at a time")
        self.action_walk.setToolTip("Walk through the steps (Help → Walk through)")
        self.action_walk.triggered.connect(lambda _checked=False: self.open())
        self.action_help = QAction("What am I &looking at?", window)
        self.action_help.triggered.connect(lambda _checked=False: help_page.show(window))
        self.action_export = QAction("Export &walk-through…", window)
        self.action_export.setStatusTip("Write the walk-through as a Markdown or HTML worksheet")
        self.action_export.triggered.connect(lambda _checked=False: self.export_dialog())

    # The dock -----------------------------------------------------------------
    def open(self) -> None:
        """Show the panel (starting at the first step if it was closed)."""
        self.dock.show()
        self.dock.raise_()
        if self.banner is not None:
            self.banner.hide()  # the invitation is taken: it would only repeat itself
        if not self.panel.active:
            self.panel.start()
        self.panel.next_button.setFocus()  # the arrow keys step at once

    def close(self) -> None:
        self.dock.close()

    def focus(self, step: WalkStep, walk: Walkthrough) -> None:
        """Bring forward what `step` is about: its head, heatmap mode, Inputs and Results tabs."""
        w = self._host
        # A cell clicked before (or during) the previous step would keep its outlines and
        # its Explain next to this step's: the step is what the window is about now.
        w.highlights.clear()
        names = [c.matrix for c in step.cells]
        if any(c.head is not None for c in step.cells):
            w.view_state.set_head(walk.head)
        modes = [n for n in names if n in HEATMAP_MODES]
        if modes:
            w.view_state.set_mode(modes[-1])
        inputs = [n for n in names if n in w.inputs_panel.tables]
        if inputs:
            self._show_input(w.inputs_panel.tables[inputs[0]])
        results = [n for n in names if n in w.results_panel.tables]
        if results:
            w.results_panel.show_table(results[-1])

    def _show_input(self, view: MatrixTableView) -> None:
        tabs = self._host.inputs_panel.tabs
        for i in range(tabs.count()):
            page = tabs.widget(i)
            if page is not None and (page is view or page.isAncestorOf(view)):
                tabs.setCurrentIndex(i)
                return

    # The invitation -------------------------------------------------------------
    def invite_once(self, settings: QSettings) -> bool:
        """On the first start only: a closable line inviting to the seed example's walk-through."""
        if settings.value(INVITED_KEY, False, type=bool):
            return False
        settings.setValue(INVITED_KEY, True)
        settings.sync()
        self.banner = InvitationBanner(self.take_invitation)
        central = self._window.centralWidget()
        layout = central.layout() if central is not None else None
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(0, self.banner)
        self.banner.show()
        return True

    def take_invitation(self) -> None:
        w = self._host
        if w.document.preset.name != "Seed example" and not w.files.open_bundled(SEED):
            return
        self.open()

    # Export -----------------------------------------------------------------------
    @property
    def exporting(self) -> bool:
        return self._exports > 0

    def export_dialog(self) -> None:
        w = self._host
        name = slug(w.document.preset.name)
        suggested = str(Path(w.files.last_folder()) / f"{name}-walkthrough.html")
        path, chosen = QFileDialog.getSaveFileName(
            self._window, "Export walk-through", suggested, "HTML page (*.html);;Markdown (*.md)"
        )
        if not path:
            return
        if not path.lower().endswith((".html", ".htm", ".md")):
            path += ".md" if "markdown" in chosen.lower() else ".html"
        self.export(Path(path))

    def export(self, path: Path) -> None:
        """Write the worksheet (HTML for .html/.htm, else Markdown) on the worker thread."""
        w = self._host
        fmt = "html" if path.suffix.lower() in (".html", ".htm") else "md"
        preset = w.document.preset  # immutable: the worker computes its own result
        query, head = self.panel.query_spin.value() - 1, self.panel.head_spin.value() - 1
        heads = w.recompute.result.heads
        head = head if head < heads else 0

        def job() -> Path:
            write_atomically(path, render(walkthrough(preset, query, head), fmt))
            return path

        def done(written: object) -> None:
            self._exports -= 1
            w.show_message(f"Wrote the walk-through to {written}")

        def failed(exc: BaseException) -> None:
            self._exports -= 1
            QMessageBox.warning(self._window, "Walk-through not exported", f"{path}: {exc}")

        self._exports += 1
        w.show_message(f"Writing the walk-through to {path}…")
        w.background.submit(job, done, failed)
