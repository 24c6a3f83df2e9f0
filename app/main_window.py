"""The main window: heatmap in the centre, inputs left, options and explain right, results below.

The window builds widgets, menus and docks and wires them together; it holds no
numbers and no selection. The document (app/document.py) holds the preset, the
recompute (app/recompute.py) the result, the view state (app/view_state.py) the
mode, head and selected cell, and the file controller (app/files.py) the file work.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from selfattn.preset import Preset

from . import about, zoom
from .atlas_tab import install_atlas
from .commands import blank_preset
from .desktop import APP_NAME
from .dock_heights import keep_bottom_docks_tall
from .document import Document
from .files import ExportableView, FileController, LessonCombo, bundled_actions
from .generate_dock import install_generate_panel
from .heatmap import SEQUENTIAL_COLORMAPS, WEIGHT_RANGES, AllHeadsView, HeatmapView
from .highlights import Highlights, attach_heatmap
from .model_nav import install_model_nav
from .panels.explain import ExplainPanel
from .panels.inputs import InputsPanel
from .panels.options import OptionsPanel, OptionsScrollArea
from .panels.results import ResultsPanel, StaleBanner
from .pipeline_view import PipelineView, is_small
from .precision_menu import install_precision_menu
from .preset_info import PresetInfoDialog
from .recompute import Recompute
from .shutdown import delete_windows_before_exit
from .table_view import MatrixTableView
from .view_state import Cell, ViewState
from .walkthrough_window import WalkthroughController
from .worker import Background
from .zoom import install_zoom

VIEW_MODES = (
    ("Weights", "weights"),
    ("Scaled scores (logits)", "scaled_scores"),
    ("Raw scores", "scores"),
    ("All heads", "all_heads"),
)
ShortcutSpec = QKeySequence | QKeySequence.StandardKey | str | None


def app_settings() -> QSettings:
    return QSettings("SelfAttentionWorkbench", "Workbench")


class MainWindow(QMainWindow):
    def __init__(
        self,
        preset: Preset | None = None,
        settings: QSettings | None = None,
        path: Path | None = None,
    ) -> None:
        """Raises selfattn.AttentionError when `preset` cannot be computed."""
        super().__init__()
        delete_windows_before_exit()  # before PySide's exit cleanup (app/shutdown.py)
        self.settings = settings if settings is not None else app_settings()
        zoom.restore(self.settings)  # the saved View → Zoom, before any widget is built
        self.document = Document(preset if preset is not None else blank_preset(), self, path)
        self.recompute = Recompute(self.document, self)
        self.view_state = ViewState(self)
        self.background = Background(self)  # file jobs and model loading
        self.files = FileController(
            self, self.document, self.settings, self.background, self._exportable_view
        )
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
        )
        about.set_window_icon(self)

        self.highlights = Highlights(self.recompute, self.view_state, self.settings, self)
        self._build_central()
        self.inputs_panel = InputsPanel(self.document, folder=self.files.last_folder)
        self.options_panel = OptionsPanel(self.document)
        self.explain_panel = ExplainPanel(
            self.recompute, self.view_state, highlights=self.highlights
        )
        self.results_panel = ResultsPanel(self.recompute, self.view_state)
        self._attach_highlights()
        self._build_docks()
        self.walk = WalkthroughController(self, self)
        self._build_status_bar()
        self._build_actions()
        self.generate_panel = install_generate_panel(self)  # its dock, menu entry, button
        self._build_atlas()
        self.precision_actions = install_precision_menu(self)  # View → Number precision
        self.model_nav = install_model_nav(self)  # layer/head bar while a model preset is shown
        self.zoom = install_zoom(self, self.settings)  # View → Zoom; app/zoom.py
        self.zoom.changed.connect(lambda _factor: self._redraw_heatmap())

        self.document.fileStateChanged.connect(self._update_title)
        self.document.message.connect(self.show_message)
        self.recompute.resultChanged.connect(lambda _change: self._redraw_heatmap())
        self.recompute.busyChanged.connect(lambda _busy: self._show_busy())
        self.recompute.message.connect(self.show_message)
        self.files.message.connect(self.show_message)
        self.files.busyChanged.connect(lambda _busy: self._show_busy())
        self.files.recentChanged.connect(self._refresh_recent_menu)
        self.files.bundledOpened.connect(self._show_bundled_in_combo)
        self.inputs_panel.message.connect(self.show_message)
        for view in self.inputs_panel.tables.values():
            view.message.connect(self.show_message)
        self.view_state.modeChanged.connect(self._on_mode_changed)
        self.view_state.headChanged.connect(lambda _head: self._redraw_heatmap())
        self.view_state.cellChanged.connect(self._on_cell_changed)
        self._restore_settings()
        self._redraw_heatmap()
        self._update_title()
        if settings is None:  # a person's own start (tests and screenshots pass settings)
            self.walk.invite_once(self.settings)

    # Construction -----------------------------------------------------------
    def _attach_highlights(self) -> None:
        """Every table outlines, flashes and focuses cells through the one Highlights."""
        for key, view in self.inputs_panel.tables.items():
            view.set_highlights(self.highlights, key)
        for key, view in self.results_panel.tables.items():
            view.set_highlights(self.highlights, key, lambda: self.view_state.head)
        state = self.view_state

        def shown() -> tuple[str, int] | None:  # what the heatmap draws
            return None if state.mode == "all_heads" else (state.mode, state.head)

        redraws = (state.modeChanged, state.headChanged, self.recompute.resultChanged)
        attach_heatmap(self.highlights, self.heatmap, shown, *redraws)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        # Inputs and Options share the left column; Results and Explain sit under the
        # heatmap, which keeps the largest share of the window.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        left, bottom = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
        self.inputs_dock = self._dock("Inputs", "inputs", self.inputs_panel, left)
        options_scroll = OptionsScrollArea(self.options_panel)  # fits the dock's width
        self.options_dock = self._dock("Options", "options", options_scroll, left)
        self.results_dock = self._dock("Results", "results", self.results_panel, bottom)
        self.explain_dock = self._dock("Explain", "explain", self.explain_panel, bottom)
        self.splitDockWidget(self.inputs_dock, self.options_dock, Qt.Orientation.Vertical)
        self.splitDockWidget(self.results_dock, self.explain_dock, Qt.Orientation.Horizontal)
        self.resizeDocks([self.inputs_dock], [400], Qt.Orientation.Horizontal)
        self.resizeDocks([self.inputs_dock, self.options_dock], [520, 330], Qt.Orientation.Vertical)
        self.resizeDocks(
            [self.results_dock, self.explain_dock], [420, 620], Qt.Orientation.Horizontal
        )
        self.resizeDocks([self.results_dock], [250], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # busy indicator
        self.busy_bar.setMaximumWidth(140)
        self.busy_bar.setFormat("computing…")
        self.busy_bar.setToolTip("A large recompute is running; you can keep editing")
        self.busy_bar.setVisible(False)
        self.statusBar().addPermanentWidget(self.busy_bar)
        self.hover_label = QLabel()
        self.masked_label = QLabel()
        self.statusBar().addPermanentWidget(self.masked_label)
        self.statusBar().addPermanentWidget(self.hover_label)

    def _build_central(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 4, 6, 4)
        bar = QHBoxLayout()
        self.preset_combo = LessonCombo()
        self.preset_combo.setToolTip("Open a bundled preset")
        self.preset_combo.activated.connect(self._on_preset_combo)
        self.mode_combo = QComboBox()
        for label, mode in VIEW_MODES:
            self.mode_combo.addItem(label, mode)
        self.mode_combo.currentIndexChanged.connect(
            lambda _i: self.view_state.set_mode(self.mode_combo.currentData())
        )
        self.head_spin = QSpinBox()
        self.head_spin.setMinimum(1)
        self.head_spin.setPrefix("head ")
        self.head_spin.valueChanged.connect(lambda value: self.view_state.set_head(value - 1))
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(list(SEQUENTIAL_COLORMAPS))
        self.colormap_combo.setToolTip("Colour map of the weights")
        self.colormap_combo.currentTextChanged.connect(self._on_colormap_changed)
        self.range_combo = QComboBox()
        for label, mode in WEIGHT_RANGES:
            self.range_combo.addItem(label, mode)
        self.range_combo.setToolTip(
            "Colour range of the weights: 0 .. 1, or 0 .. the largest weight (for long rows)"
        )
        self.range_combo.currentIndexChanged.connect(self._on_range_changed)
        for combo in (self.preset_combo, self.mode_combo, self.colormap_combo):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(14 if combo is self.preset_combo else 8)
        bar.addWidget(self.preset_combo)
        bar.addStretch(1)
        bar.addWidget(QLabel("Show"))
        bar.addWidget(self.mode_combo)
        bar.addWidget(self.head_spin)
        bar.addWidget(self.colormap_combo)
        bar.addWidget(self.range_combo)
        layout.addLayout(bar)
        self.stale_banner = StaleBanner(self.recompute)
        layout.addWidget(self.stale_banner)
        self.heatmap = HeatmapView()
        self.all_heads = AllHeadsView()
        self.heatmap_stack = QStackedWidget()
        self.heatmap_stack.addWidget(self.heatmap)
        self.heatmap_stack.addWidget(self.all_heads)
        self.pipeline = PipelineView(
            self.document, self.recompute, self.view_state, self.highlights
        )
        self.center_tabs = QTabWidget()
        self.center_tabs.setDocumentMode(True)
        self.center_tabs.addTab(self.pipeline, "Pipeline")
        self.center_tabs.addTab(self.heatmap_stack, "Heatmap")
        self._small_preset: bool | None = None
        self._choose_center_view()
        self.document.changed.connect(lambda _change: self._choose_center_view())
        self.view_state.modeChanged.connect(
            lambda _mode: self.center_tabs.setCurrentWidget(self.heatmap_stack)
        )
        layout.addWidget(self.center_tabs, 1)
        self.heatmap.cellHovered.connect(self._on_cell_hovered)
        self.heatmap.cellClicked.connect(self._on_heatmap_clicked)
        self.all_heads.headClicked.connect(self._on_all_heads_clicked)
        self.all_heads.headCellHovered.connect(self._on_head_cell_hovered)
        self.setCentralWidget(central)

    def _choose_center_view(self) -> None:
        """The pipeline in front for small presets, the heatmap for large ones (when it flips)."""
        p = self.document.preset
        small = is_small(p.n_tokens, p.n_keys, p.d_model)
        if small != self._small_preset:
            self._small_preset = small
            self.center_tabs.setCurrentWidget(self.pipeline if small else self.heatmap_stack)

    def _action(
        self, text: str, slot: Callable[[], object], shortcut: ShortcutSpec = None, tip: str = ""
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(
                shortcut if not isinstance(shortcut, str) else QKeySequence(shortcut)
            )
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        sk = QKeySequence.StandardKey
        files = self.files
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.action_new = self._action("&New", files.new_document, sk.New)
        self.action_open = self._action("&Open…", files.open_dialog, sk.Open)
        self.action_save = self._action("&Save", files.save, sk.Save)
        self.action_save_as = self._action("Save &As…", files.save_as, sk.SaveAs)
        self.action_export_csv = self._action(
            "&Export results as CSV…", files.export_csv_dialog, "Ctrl+E"
        )
        self.action_export_image = self._action(
            "Export &heatmap as PNG/SVG…", files.export_heatmap_dialog, "Ctrl+Shift+E"
        )
        self.action_quit = self._action("&Quit", self.close, sk.Quit)
        file_menu.addAction(self.action_new)
        file_menu.addAction(self.action_open)
        self.bundled_menu = file_menu.addMenu("Open &bundled preset")
        self.bundled_menu.addActions(bundled_actions(self, files.open_bundled))
        self.action_from_model = self._action(
            "Load from &model…",
            files.load_from_model_dialog,
            "Ctrl+M",
            "Turn a real transformer head (BERT, Llama, Qwen2, Mistral, GPT-2) into a preset",
        )
        file_menu.addAction(self.action_from_model)
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        file_menu.addAction(self.action_save)
        file_menu.addAction(self.action_save_as)
        file_menu.addSeparator()
        self.action_import_csv = self._action(
            "&Import matrix from CSV…", self.inputs_panel.import_csv_dialog, "Ctrl+I"
        )
        file_menu.addAction(self.action_import_csv)
        file_menu.addAction(self.action_export_csv)
        file_menu.addAction(self.action_export_image)
        file_menu.addAction(self.walk.action_export)
        file_menu.addSeparator()
        file_menu.addAction(self.action_quit)

        edit_menu = menu.addMenu("&Edit")
        self.action_undo = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.action_undo.setShortcut(sk.Undo)
        self.action_redo = self.document.undo_stack.createRedoAction(self, "&Redo")
        # Both habits work everywhere: Ctrl+Y (Windows, office programs) and Ctrl+Shift+Z.
        redo_keys = [*QKeySequence.keyBindings(sk.Redo)]
        for extra in ("Ctrl+Y", "Ctrl+Shift+Z"):
            if QKeySequence(extra) not in redo_keys:
                redo_keys.append(QKeySequence(extra))
        self.action_redo.setShortcuts(redo_keys)
        self.action_copy = self._action("&Copy cells", self.copy_cells, sk.Copy)
        self.action_paste = self._action("&Paste cells", self.paste_cells, sk.Paste)
        self.action_clear = self._action("Set selection to &0", self.clear_cells, sk.Delete)
        for act in (self.action_copy, self.action_paste, self.action_clear):
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        edit_menu.addAction(self.action_undo)
        edit_menu.addAction(self.action_redo)
        edit_menu.addSeparator()
        edit_menu.addAction(self.action_copy)
        edit_menu.addAction(self.action_paste)
        edit_menu.addAction(self.action_clear)
        edit_menu.addSeparator()
        self.action_preset_info = self._action(
            "&Name and description…",
            lambda: PresetInfoDialog(self.document, self).exec(),
            tip="Name and describe this preset (Save As writes both, and proposes the name)",
        )
        edit_menu.addAction(self.action_preset_info)
        self.action_flash = QAction("&Flash changed cells", self, checkable=True)
        self.action_flash.setChecked(self.highlights.flash_enabled)
        self.action_flash.toggled.connect(self.highlights.set_flash_enabled)
        edit_menu.addAction(self.action_flash)
        fill_menu = edit_menu.addMenu("&Fill matrix")
        fill = self.inputs_panel.fill_active
        fill_menu.addAction(self._action("with &zeros", lambda: fill("zeros")))
        fill_menu.addAction(self._action("with &identity", lambda: fill("identity")))
        fill_menu.addAction(self._action("with &random normal…", lambda: fill("random")))
        fill_menu.addAction(self._action("&scale by a factor…", lambda: fill("scale")))

        view_menu = menu.addMenu("&View")
        for dock in (self.inputs_dock, self.options_dock, self.explain_dock, self.results_dock):
            view_menu.addAction(dock.toggleViewAction())

        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.walk.action_walk)
        help_menu.addAction(self.walk.action_help)
        help_menu.addSeparator()
        self.action_about = self._action("&About", self.about)
        help_menu.addAction(self.action_about)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("toolbar_main")
        toolbar.setMovable(False)
        stack = self.document.undo_stack
        self.tool_undo = self._action("Undo", stack.undo)
        self.tool_redo = self._action("Redo", stack.redo)
        stack.canUndoChanged.connect(self.tool_undo.setEnabled)
        stack.canRedoChanged.connect(self.tool_redo.setEnabled)
        stack.undoTextChanged.connect(lambda text: self.tool_undo.setToolTip(f"Undo {text}"))
        stack.redoTextChanged.connect(lambda text: self.tool_redo.setToolTip(f"Redo {text}"))
        self.tool_undo.setEnabled(stack.canUndo())
        self.tool_redo.setEnabled(stack.canRedo())
        for act in (self.action_new, self.action_open, self.action_save):
            toolbar.addAction(act)
        toolbar.addAction(self.tool_undo)
        toolbar.addAction(self.tool_redo)
        toolbar.addSeparator()
        toolbar.addAction(self.action_export_csv)
        toolbar.addAction(self.action_export_image)
        toolbar.addSeparator()
        toolbar.addAction(self.walk.action_walk)
        self._refresh_recent_menu()

    def _build_atlas(self) -> None:
        """The Atlas tab (every layer and head of a model), its toolbar button and View entry."""
        self.atlas_view = install_atlas(self)

    # Settings ---------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        self.geometry_restored = isinstance(geometry, QByteArray | bytes) and self.restoreGeometry(
            geometry
        )
        if not self.geometry_restored:
            self.resize(1440, 900)
        keep_bottom_docks_tall(self.results_panel, self.explain_panel)  # a saved state too
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray | bytes):
            self.restoreState(state)
        colormap = self.settings.value("view/colormap", SEQUENTIAL_COLORMAPS[0], type=str)
        if colormap in SEQUENTIAL_COLORMAPS:
            self.colormap_combo.setCurrentText(str(colormap))

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("view/colormap", self.colormap_combo.currentText())
        self.settings.sync()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.files.recent_files()
        for entry in recent:
            self.recent_menu.addAction(
                self._action(entry, partial(self.files.open_path, Path(entry)))
            )
        self.recent_menu.setEnabled(bool(recent))

    # Title, status ----------------------------------------------------------
    def _update_title(self) -> None:
        doc = self.document
        name = doc.preset.name or "Untitled"
        where = f" — {doc.path.name}" if doc.path else ""
        self.setWindowTitle(f"{name}{where}[*] — {APP_NAME}")
        self.setWindowModified(doc.is_modified)

    def _show_busy(self) -> None:
        busy = self.recompute.busy or self.files.busy
        self.busy_bar.setVisible(busy)
        if self.recompute.busy:
            self.show_message("Computing in the background — keep editing, the newest edit wins")

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # The view state: mode, head, selected cell ------------------------------------
    def select_head(self, head: int) -> None:
        """Show head `head` (0-based) everywhere."""
        self.view_state.set_head(head)

    def set_view_mode(self, mode: str) -> None:
        self.view_state.set_mode(mode)

    def _on_mode_changed(self, mode: str) -> None:
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentIndex([m for _, m in VIEW_MODES].index(mode))
        self.mode_combo.blockSignals(False)
        scores = mode in ("scores", "scaled_scores")
        self.colormap_combo.setEnabled(not scores)
        self.range_combo.setEnabled(not scores)
        self.colormap_combo.setToolTip(
            "Scores use a diverging map (blue below 0, red above)"
            if scores
            else "Colour map of the weights"
        )
        self._redraw_heatmap()

    def _on_cell_changed(self, cell: Cell | None) -> None:
        mode = self.view_state.mode
        if cell is not None and cell.kind == mode:
            self.heatmap.select_cell(cell.row, cell.col)
        else:
            self.heatmap.select_cell(-1, -1)

    def _on_heatmap_clicked(self, row: int, col: int) -> None:
        if self.generate_panel.step_view.active:
            self.show_message("Open this step as a preset to explain its cells")
            return
        self.heatmap.set_click_hint(False)
        self.view_state.select(self.view_state.mode, row, col)
        self.explain_dock.raise_()

    def _on_all_heads_clicked(self, head: int) -> None:
        self.view_state.set_head(head)
        self.view_state.set_mode("weights")  # back to one head's weights

    # Heatmap ----------------------------------------------------------------
    def _redraw_heatmap(self) -> None:
        stepping = self.generate_panel.step_view.active
        self.heatmap.set_explainable(not stepping)
        if stepping:  # a generation step instead of the document
            self.heatmap_stack.setCurrentWidget(self.heatmap)
            self.generate_panel.step_view.draw(self.heatmap)
            return
        r, p = self.recompute.result, self.recompute.result_preset
        state = self.view_state
        state.set_head_count(r.heads)  # may emit headChanged: its redraw comes here too
        head, mode = state.head, state.mode
        self.head_spin.blockSignals(True)
        self.head_spin.setMaximum(r.heads)
        self.head_spin.setValue(head + 1)
        self.head_spin.blockSignals(False)
        self.head_spin.setEnabled(r.heads > 1 and mode != "all_heads")
        rows, cols = list(p.tokens), list(p.key_tokens)
        if mode == "all_heads":
            self.heatmap_stack.setCurrentWidget(self.all_heads)
            self.all_heads.set_heads(r.weights, rows, cols, r.mask)
            self.all_heads.select_head(head)
        else:
            self.heatmap_stack.setCurrentWidget(self.heatmap)
            values = getattr(r, mode)[head]
            kind = "weights" if mode == "weights" else "scores"
            title = dict((m, label) for label, m in VIEW_MODES)[mode]
            if r.heads > 1:
                title += f" — head {head + 1} of {r.heads}"
            self.heatmap.set_matrix(values, rows, cols, kind=kind, visible=r.mask, title=title)
            self._on_cell_changed(state.cell)
        masked = [p.tokens[i] for i in np.flatnonzero(r.fully_masked)]
        if masked:
            shown = ", ".join(masked[:4]) + ("…" if len(masked) > 4 else "")
            self.masked_label.setText(f"⚠ fully masked: {shown} (weights 0)")
            self.masked_label.setToolTip("These queries see no key: their weights are all 0.")
        else:
            self.masked_label.setText("")

    def _exportable_view(self) -> tuple[ExportableView, str]:
        mode = self.view_state.mode
        return (self.all_heads if mode == "all_heads" else self.heatmap), mode

    def _on_range_changed(self, _index: int) -> None:
        mode = self.range_combo.currentData()
        self.heatmap.set_weight_range(mode)
        self.all_heads.set_weight_range(mode)

    def _on_colormap_changed(self, name: str) -> None:
        self.heatmap.set_colormap(name)
        self.all_heads.set_colormap(name)

    def _on_cell_hovered(self, row: int, col: int) -> None:
        self.hover_label.setText("" if row < 0 else self.heatmap.hover_text(row, col))

    def _on_head_cell_hovered(self, head: int, row: int, col: int) -> None:
        self.hover_label.setText("" if head < 0 else self.all_heads.hover_text(head, row, col))

    def _on_preset_combo(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name and not self.files.open_bundled(name):
            self._show_bundled_in_combo(None)

    def _show_bundled_in_combo(self, name: str | None) -> None:
        """The combo names the bundled preset that is open, or invites to open one."""
        index = self.preset_combo.findData(name) if name else 0
        self.preset_combo.setCurrentIndex(max(index, 0))

    # Cell editing (the table with the focus) ---------------------------------------
    def _active_table(self) -> MatrixTableView | None:
        focus = QApplication.focusWidget()
        for view in [*self.inputs_panel.tables.values(), *self.results_panel.tables.values()]:
            if focus is not None and (view is focus or view.isAncestorOf(focus)):
                return view
        return self.inputs_panel.active_table()

    def copy_cells(self) -> None:
        view = self._active_table()
        if view is not None:
            view.copy_selection()

    def paste_cells(self) -> None:
        view = self._active_table()
        if view is not None:
            view.paste()

    def clear_cells(self) -> None:
        view = self._active_table()
        if view is not None:
            view.clear_selection_to_zero()

    # Window events ----------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.files.accept_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.files.drop(event)

    def about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", about.about_html())

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.files.maybe_save():
            self.save_settings()
            self.recompute.shutdown()
            self.background.shutdown()
            event.accept()
        else:
            event.ignore()
