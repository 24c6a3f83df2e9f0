"""The main window: heatmap in the centre, inputs left, options and explain right, results below."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

import selfattn
from selfattn import edit
from selfattn.bundled import bundled_descriptions, load_bundled
from selfattn.export import export_csv
from selfattn.preset import Preset, PresetError

from .document import Document, blank_preset
from .heatmap import SEQUENTIAL_COLORMAPS, WEIGHT_RANGES, AllHeadsView, HeatmapView
from .panels.explain import ExplainPanel
from .panels.inputs import InputsPanel
from .panels.options import OptionsPanel
from .panels.results import ResultsPanel
from .worker import Background

APP_NAME = "Self-Attention Workbench"
MAX_RECENT = 8
BACKGROUND_LOAD_BYTES = 4 * 1024 * 1024  # files above this parse on the worker thread
VIEW_MODES = (
    ("Weights", "weights"),
    ("Scaled scores (logits)", "scaled_scores"),
    ("Raw scores", "scores"),
    ("All heads", "all_heads"),
)


def app_settings() -> QSettings:
    return QSettings("SelfAttentionWorkbench", "Workbench")


def _as_list(value: object) -> list[str]:
    """QSettings gives back a one-item list as a plain string, and nothing as None."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]  # type: ignore[union-attr]


class MainWindow(QMainWindow):
    def __init__(
        self,
        preset: Preset | None = None,
        settings: QSettings | None = None,
        path: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else app_settings()
        self.document = Document(preset if preset is not None else blank_preset(), self, path)
        self.background = Background(self)
        self._head = 0
        self._mode = "weights"
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
        )

        self._build_central()
        self.inputs_panel = InputsPanel(self.document)
        self.options_panel = OptionsPanel(self.document)
        self.explain_panel = ExplainPanel(self.document)
        self.results_panel = ResultsPanel(self.document, lambda: self._head)
        # Inputs and Options share the left column; Results and Explain sit under the
        # heatmap, which keeps the largest share of the window.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inputs_dock = self._dock(
            "Inputs", "inputs", self.inputs_panel, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        options_scroll = QScrollArea()
        options_scroll.setWidget(self.options_panel)
        options_scroll.setWidgetResizable(True)
        options_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.options_dock = self._dock(
            "Options", "options", options_scroll, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.results_dock = self._dock(
            "Results", "results", self.results_panel, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.explain_dock = self._dock(
            "Explain", "explain", self.explain_panel, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.splitDockWidget(self.inputs_dock, self.options_dock, Qt.Orientation.Vertical)
        self.splitDockWidget(self.results_dock, self.explain_dock, Qt.Orientation.Horizontal)
        self.resizeDocks([self.inputs_dock], [400], Qt.Orientation.Horizontal)
        self.resizeDocks([self.inputs_dock, self.options_dock], [520, 330], Qt.Orientation.Vertical)
        self.resizeDocks(
            [self.results_dock, self.explain_dock], [420, 620], Qt.Orientation.Horizontal
        )
        self.resizeDocks([self.results_dock], [250], Qt.Orientation.Vertical)

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
        self._build_actions()

        self.document.changed.connect(self._on_document_changed)
        self.document.fileStateChanged.connect(self._update_title)
        self.document.message.connect(self.show_message)
        self.document.busyChanged.connect(self._on_busy_changed)
        self.inputs_panel.message.connect(self.show_message)
        self.results_panel.cellSelected.connect(self._on_result_cell_selected)
        for view in self.inputs_panel.tables.values():
            view.message.connect(self.show_message)
        self._restore_settings()
        self._redraw_heatmap()
        self._update_title()

    # Construction -----------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_central(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 4, 6, 4)
        bar = QHBoxLayout()
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("Open a bundled preset")
        self.preset_combo.addItem("Bundled presets…", None)
        for name, title, description in bundled_descriptions():
            self.preset_combo.addItem(title or name, name)
            self.preset_combo.setItemData(
                self.preset_combo.count() - 1, description, Qt.ItemDataRole.ToolTipRole
            )
        self.preset_combo.activated.connect(self._on_preset_combo)
        self.mode_combo = QComboBox()
        for label, mode in VIEW_MODES:
            self.mode_combo.addItem(label, mode)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_changed)
        self.head_spin = QSpinBox()
        self.head_spin.setMinimum(1)
        self.head_spin.setPrefix("head ")
        self.head_spin.valueChanged.connect(self._on_head_changed)
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
        self.heatmap = HeatmapView()
        self.all_heads = AllHeadsView()
        self.heatmap_stack = QStackedWidget()
        self.heatmap_stack.addWidget(self.heatmap)
        self.heatmap_stack.addWidget(self.all_heads)
        layout.addWidget(self.heatmap_stack, 1)
        self.heatmap.cellHovered.connect(self._on_cell_hovered)
        self.heatmap.cellClicked.connect(self._on_heatmap_clicked)
        self.all_heads.headClicked.connect(self._on_all_heads_clicked)
        self.all_heads.headCellHovered.connect(self._on_head_cell_hovered)
        self.setCentralWidget(central)

    def _action(
        self,
        text: str,
        slot,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        tip: str = "",
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
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.action_new = self._action("&New", self.new_document, sk.New)
        self.action_open = self._action("&Open…", self.open_dialog, sk.Open)
        self.action_save = self._action("&Save", self.save, sk.Save)
        self.action_save_as = self._action("Save &As…", self.save_as, sk.SaveAs)
        self.action_export_csv = self._action(
            "&Export results as CSV…", self.export_csv_dialog, "Ctrl+E"
        )
        self.action_export_image = self._action(
            "Export &heatmap as PNG/SVG…", self.export_heatmap_dialog, "Ctrl+Shift+E"
        )
        self.action_quit = self._action("&Quit", self.close, sk.Quit)
        file_menu.addAction(self.action_new)
        file_menu.addAction(self.action_open)
        self.bundled_menu = file_menu.addMenu("Open &bundled preset")
        for name, title, description in bundled_descriptions():
            act = self._action(f"{title or name}  ({name})", lambda n=name: self.open_bundled(n))
            act.setStatusTip(description[:160])
            self.bundled_menu.addAction(act)
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        file_menu.addAction(self.action_save)
        file_menu.addAction(self.action_save_as)
        file_menu.addSeparator()
        self.action_from_model = self._action(
            "Load from &model…",
            self.load_from_model_dialog,
            "Ctrl+M",
            "Turn a real transformer head (BERT family) into an editable preset",
        )
        file_menu.insertAction(self.recent_menu.menuAction(), self.action_from_model)
        self.action_import_csv = self._action(
            "&Import matrix from CSV…", self.import_csv_dialog, "Ctrl+I"
        )
        file_menu.addAction(self.action_import_csv)
        file_menu.addAction(self.action_export_csv)
        file_menu.addAction(self.action_export_image)
        file_menu.addSeparator()
        file_menu.addAction(self.action_quit)

        edit_menu = menu.addMenu("&Edit")
        self.action_undo = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.action_undo.setShortcut(sk.Undo)
        self.action_redo = self.document.undo_stack.createRedoAction(self, "&Redo")
        self.action_redo.setShortcut(sk.Redo)
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
        fill_menu = edit_menu.addMenu("&Fill matrix")
        fill_menu.addAction(self._action("with &zeros", lambda: self.fill_active("zeros")))
        fill_menu.addAction(self._action("with &identity", lambda: self.fill_active("identity")))
        fill_menu.addAction(
            self._action("with &random normal…", lambda: self.fill_active("random"))
        )
        fill_menu.addAction(self._action("&scale by a factor…", lambda: self.fill_active("scale")))

        view_menu = menu.addMenu("&View")
        for dock in (self.inputs_dock, self.options_dock, self.explain_dock, self.results_dock):
            view_menu.addAction(dock.toggleViewAction())

        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self._action("&About", self.about))

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
        for act in (
            self.action_new,
            self.action_open,
            self.action_save,
            self.tool_undo,
            self.tool_redo,
        ):
            toolbar.addAction(act)
        toolbar.addSeparator()
        toolbar.addAction(self.action_export_csv)
        toolbar.addAction(self.action_export_image)
        self._refresh_recent_menu()

    # Settings ---------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        self.geometry_restored = isinstance(geometry, QByteArray | bytes) and self.restoreGeometry(
            geometry
        )
        if not self.geometry_restored:
            self.resize(1440, 900)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray | bytes):
            self.restoreState(state)
        colormap = self.settings.value("view/colormap", SEQUENTIAL_COLORMAPS[0], type=str)
        if colormap in SEQUENTIAL_COLORMAPS:
            self.colormap_combo.setCurrentText(colormap)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("view/colormap", self.colormap_combo.currentText())
        self.settings.sync()

    def recent_files(self) -> list[str]:
        return _as_list(self.settings.value("files/recent"))

    def _remember_file(self, path: Path) -> None:
        entry = str(Path(path).resolve())
        recent = [p for p in self.recent_files() if p != entry]
        self.settings.setValue("files/recent", [entry, *recent][:MAX_RECENT])
        self.settings.setValue("files/lastFolder", str(Path(entry).parent))
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for entry in recent:
            self.recent_menu.addAction(self._action(entry, lambda p=entry: self.open_path(Path(p))))
        self.recent_menu.setEnabled(bool(recent))

    def last_folder(self) -> str:
        return self.settings.value("files/lastFolder", str(Path.home()), type=str)

    # Title, status ----------------------------------------------------------
    def _update_title(self) -> None:
        doc = self.document
        name = doc.preset.name or "Untitled"
        where = f" — {doc.path.name}" if doc.path else ""
        self.setWindowTitle(f"{name}{where}[*] — {APP_NAME}")
        self.setWindowModified(doc.is_modified)

    def _on_busy_changed(self, busy: bool) -> None:
        self.busy_bar.setVisible(busy or self.background.busy)
        if busy:
            self.show_message("Computing in the background — keep editing, the newest edit wins")

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # Heatmap ----------------------------------------------------------------
    def _on_document_changed(self, _change: object) -> None:
        self._redraw_heatmap()

    def _redraw_heatmap(self) -> None:
        r, p = self.document.result, self.document.result_preset
        self.head_spin.blockSignals(True)
        self.head_spin.setMaximum(r.heads)
        self._head = min(self._head, r.heads - 1)
        self.head_spin.setValue(self._head + 1)
        self.head_spin.blockSignals(False)
        self.head_spin.setEnabled(r.heads > 1 and self._mode != "all_heads")
        rows, cols = list(p.tokens), list(p.key_tokens)
        if self._mode == "all_heads":
            self.heatmap_stack.setCurrentWidget(self.all_heads)
            self.all_heads.set_heads(r.weights, rows, cols, r.mask)
            self.all_heads.select_head(self._head)
        else:
            self.heatmap_stack.setCurrentWidget(self.heatmap)
            values = getattr(r, self._mode)[self._head]
            kind = "weights" if self._mode == "weights" else "scores"
            title = dict((m, label) for label, m in VIEW_MODES)[self._mode]
            if r.heads > 1:
                title += f" — head {self._head + 1} of {r.heads}"
            self.heatmap.set_matrix(values, rows, cols, kind=kind, visible=r.mask, title=title)
        masked = [p.tokens[i] for i in np.flatnonzero(r.fully_masked)]
        if masked:
            shown = ", ".join(masked[:4]) + ("…" if len(masked) > 4 else "")
            self.masked_label.setText(f"⚠ fully masked: {shown} (weights 0)")
            self.masked_label.setToolTip("These queries see no key: their weights are all 0.")
        else:
            self.masked_label.setText("")

    def _on_mode_changed(self, _index: int) -> None:
        self._mode = self.mode_combo.currentData()
        scores = self._mode in ("scores", "scaled_scores")
        self.colormap_combo.setEnabled(not scores)
        self.range_combo.setEnabled(not scores)
        self.colormap_combo.setToolTip(
            "Scores use a diverging map (blue below 0, red above)"
            if scores
            else "Colour map of the weights"
        )
        self.results_panel.show_table("weights" if self._mode == "all_heads" else self._mode)
        self.heatmap.select_cell(-1, -1)
        self._redraw_heatmap()

    def _on_head_changed(self, value: int) -> None:
        self._head = value - 1
        self.results_panel.head_changed()
        self._redraw_heatmap()

    def _on_all_heads_clicked(self, head: int) -> None:
        self._head = head
        self.mode_combo.setCurrentIndex(0)  # back to one head's weights

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

    def _on_heatmap_clicked(self, row: int, col: int) -> None:
        self.heatmap.set_click_hint(False)
        self.heatmap.select_cell(row, col)
        self.explain_panel.explain(self._mode, self._head, row, col)
        self.explain_dock.raise_()
        table = self.results_panel.tables.get(self._mode)
        if table is not None:
            self.results_panel.show_table(self._mode)
            index = table.model().index(row, col)
            table.blockSignals(True)
            table.setCurrentIndex(index)
            table.blockSignals(False)
            table.scrollTo(index)

    def _on_result_cell_selected(self, key: str, row: int, col: int) -> None:
        if key in ("weights", "scores", "scaled_scores", "context", "output"):
            self.explain_panel.explain(key, self._head, row, col)
            same = key in ("weights", "scores", "scaled_scores") and self._mode == key
            self.heatmap.select_cell(row, col) if same else self.heatmap.select_cell(-1, -1)

    def select_head(self, head: int) -> None:
        self.head_spin.setValue(head + 1)

    def set_view_mode(self, mode: str) -> None:
        self.mode_combo.setCurrentIndex([m for _, m in VIEW_MODES].index(mode))

    # Files ------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask before unsaved changes are lost; False means the person cancelled."""
        if not self.document.is_modified:
            return True
        answer = QMessageBox.question(
            self,
            APP_NAME,
            f"“{self.document.display_name()}” has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_document(self) -> None:
        if self.maybe_save():
            self.document.open_preset(blank_preset(), None, "New document")

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Open preset", self.last_folder(), "Presets (*.json);;All files (*)"
        )
        if path:
            self.open_path(Path(path), ask=False)

    def open_path(self, path: Path, ask: bool = True) -> bool:
        """Load a preset file; a bad file gets a dialog and the document stays untouched."""
        if ask and not self.maybe_save():
            return False
        path = Path(path)
        try:
            big = path.stat().st_size > BACKGROUND_LOAD_BYTES
        except OSError:
            big = False
        if big:  # parsing takes long: keep the window live
            self.busy_bar.setVisible(True)
            self.show_message(f"Opening {path}…")
            self.background.submit(
                lambda: selfattn.load_preset(path),
                lambda preset: self._opened(preset, path),
                lambda exc: self._open_failed(exc),
            )
            return True
        try:
            preset = selfattn.load_preset(path)
        except PresetError as exc:
            self._open_failed(exc)
            return False
        return self._opened(preset, path)

    def _opened(self, preset: Preset, path: Path) -> bool:
        self.busy_bar.setVisible(self.document.busy)
        try:
            self.document.open_preset(preset, path)
        except PresetError as exc:
            self._open_failed(exc)
            return False
        self._show_bundled_in_combo(None)
        self._remember_file(path)
        self.show_message(f"Opened “{preset.name}” from {path}")
        return True

    def _open_failed(self, exc: BaseException) -> None:
        self.busy_bar.setVisible(self.document.busy)
        if not isinstance(exc, PresetError | OSError | MemoryError):
            raise exc
        QMessageBox.warning(self, "Cannot open preset", str(exc) or type(exc).__name__)
        self.show_message(f"Not opened: {exc}")

    def open_bundled(self, name: str, ask: bool = True) -> bool:
        if ask and not self.maybe_save():
            return False
        try:
            preset = load_bundled(name)
        except PresetError as exc:
            QMessageBox.warning(self, "Cannot open preset", str(exc))
            return False
        try:
            self.document.open_preset(preset, None, f"Open bundled {name}")
        except PresetError as exc:
            QMessageBox.warning(self, "Cannot open preset", str(exc))
            return False
        self.show_message(f"Opened “{preset.name}”")
        self._show_bundled_in_combo(name)
        return True

    def _on_preset_combo(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name and not self.open_bundled(name):
            self._show_bundled_in_combo(None)

    def _show_bundled_in_combo(self, name: str | None) -> None:
        """The combo names the bundled preset that is open, or invites to open one."""
        index = self.preset_combo.findData(name) if name else 0
        self.preset_combo.setCurrentIndex(max(index, 0))

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        suggested = str(Path(self.last_folder()) / f"{_slug(self.document.preset.name)}.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save preset", suggested, "Presets (*.json)")
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            self.document.save(path)
        except PresetError as exc:
            QMessageBox.critical(
                self,
                "Save failed",
                f"{exc}\n\nThe file on disk is unchanged and your work is still open.",
            )
            self.show_message(f"Not saved: {exc}")
            return False
        self._remember_file(path)
        self.show_message(f"Saved {path}")
        return True

    def export_csv_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Export results as CSV into", self.last_folder()
        )
        if not folder:
            return
        formats = ["wide (one file per matrix)", "long (one tidy results.csv)"]
        choice, ok = QInputDialog.getItem(self, "CSV format", "Format:", formats, 0, False)
        if ok:
            self.export_csv(Path(folder), "wide" if choice.startswith("wide") else "long")

    def export_csv(self, folder: Path, fmt: str = "wide") -> list[Path]:
        try:
            written = export_csv(self.document.preset, folder, fmt)
        except (OSError, ValueError) as exc:
            QMessageBox.critical(self, "Export failed", f"Nothing was written: {exc}")
            return []
        self.show_message(f"Wrote {len(written)} CSV file(s) to {folder}")
        return written

    def export_heatmap_dialog(self) -> None:
        suggested = str(
            Path(self.last_folder()) / f"{_slug(self.document.preset.name)}-{self._mode}.png"
        )
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export heatmap", suggested, "PNG image (*.png);;SVG drawing (*.svg)"
        )
        if path:
            if not path.lower().endswith((".png", ".svg")):
                path += ".svg" if "svg" in chosen.lower() else ".png"
            self.export_heatmap(Path(path))

    def export_heatmap(self, path: Path) -> bool:
        view = self.all_heads if self._mode == "all_heads" else self.heatmap
        try:
            if path.suffix.lower() == ".svg":
                view.export_svg(str(path))
            else:
                view.export_png(str(path), 1800)
        except Exception as exc:  # exporters raise assorted errors; the window must stay up
            QMessageBox.critical(self, "Export failed", str(exc))
            return False
        self.show_message(f"Exported heatmap to {path}")
        return True

    def load_from_model_dialog(self) -> None:
        from .model_dialog import LoadFromModelDialog

        if not self.maybe_save():
            return
        dialog = LoadFromModelDialog(self.background, self)
        if dialog.exec() and dialog.preset is not None:
            self.load_model_preset(dialog.preset)

    def load_model_preset(self, preset: Preset) -> None:
        """A preset made from a real model: undoable like any load, unsaved until saved."""
        try:
            self.document.open_preset(preset, None, f"Load {preset.name}")
        except PresetError as exc:
            QMessageBox.warning(self, "Cannot load from model", str(exc))
            return
        self.document.undo_stack.resetClean()  # never saved yet: closing asks
        self.show_message(f"Loaded {preset.name}")

    # Editing ----------------------------------------------------------------
    def _active_table(self):
        focus = QApplication.focusWidget()
        for view in list(self.inputs_panel.tables.values()) + list(
            self.results_panel.tables.values()
        ):
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

    def fill_active(
        self, kind: str, *, seed: int | None = None, factor: float | None = None
    ) -> bool:
        """Fill or scale the matrix in front in the Inputs panel, as one undo step."""
        view = self.inputs_panel.active_table()
        if view is None or view.matrix_model().key is None:
            self.show_message("Choose an input matrix tab (X, W_Q, …) first")
            return False
        key = view.matrix_model().key
        current = edit.matrix_of(self.document.preset, key)
        assert current is not None
        title = edit.MATRIX_TITLES[key]
        if kind == "random":
            if seed is None:
                seed, ok = QInputDialog.getInt(
                    self, "Random normal", "Seed (reproducible):", 0, 0, 2**31 - 1
                )
                if not ok:
                    return False
            block = edit.filled(current.shape, "random", seed=seed)
            text = f"Fill {title} with random normal (seed {seed})"
        elif kind == "scale":
            if factor is None:
                factor, ok = QInputDialog.getDouble(
                    self, "Scale", f"Multiply {title} by:", 2.0, -1e6, 1e6, 6
                )
                if not ok:
                    return False
            block = current * factor
            text = f"Scale {title} by {factor:g}"
        else:
            block = edit.filled(current.shape, kind)
            text = f"Fill {title} with {kind}"
        done = self.document.set_cells(key, 0, 0, block, text)
        if done:
            self.show_message(text)
        return done

    def import_csv_dialog(self) -> None:
        view = self.inputs_panel.active_table()
        if view is None or view.matrix_model().key is None:
            self.show_message("Choose an input matrix tab (X, W_Q, …) first")
            return
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import matrix from CSV",
            self.last_folder(),
            "CSV (*.csv *.tsv *.txt);;All files (*)",
        )
        if path:
            self.import_csv(Path(path), view.matrix_model().key)

    def import_csv(self, path: Path, key: str) -> bool:
        """Load a CSV block into an input matrix: with or without header row and label column."""
        from selfattn.csv_import import CsvImportError, read_matrix_csv

        current = edit.matrix_of(self.document.preset, key)
        assert current is not None
        try:
            block = read_matrix_csv(path, current.shape)
        except CsvImportError as exc:
            QMessageBox.warning(self, "Cannot import CSV", str(exc))
            return False
        if block.shape != current.shape:
            QMessageBox.warning(
                self,
                "Cannot import CSV",
                f"{path.name} holds a {block.shape[0]} x {block.shape[1]} matrix, but "
                f"{edit.MATRIX_TITLES[key]} is {current.shape[0]} x {current.shape[1]}. "
                "Resize the matrix first (Inputs panel) or fix the file.",
            )
            return False
        return self.document.set_cells(
            key, 0, 0, block, f"Import {path.name} into {edit.MATRIX_TITLES[key]}"
        )

    # Drag and drop ----------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and urls[0].toLocalFile().lower().endswith(".json"):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            # Open after the drop returns, so a dialog does not block the drag source.
            path = Path(urls[0].toLocalFile())
            QTimer.singleShot(0, lambda: self.open_path(path))

    # Lifecycle --------------------------------------------------------------
    def about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME}</b> {selfattn.__version__}<br>See every step of self-attention, "
            "exact to the last digit.<br>Python " + sys.version.split()[0],
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.maybe_save():
            self.save_settings()
            self.background.shutdown()
            event.accept()
        else:
            event.ignore()


def _slug(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name.strip().lower())
    return "-".join(part for part in cleaned.split("-") if part) or "preset"
