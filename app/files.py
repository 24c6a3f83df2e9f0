"""File work of the window: open, save, save as, recent files, export, prompts, drops.

`FileController` talks to the document (open and save through its public API),
to the person (dialogs parented to the window) and to the file worker (big files
and CSV exports run off the GUI thread). The window only builds menus that call it.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QCoreApplication, QObject, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QInputDialog,
    QMessageBox,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QWidget,
)

import selfattn
from selfattn.bundled import Lesson, lessons, load_bundled
from selfattn.export import export_csv
from selfattn.models.origin import ModelOrigin, lesson_origin
from selfattn.preset import Preset, PresetError

from . import commands
from .desktop import APP_NAME
from .document import Document
from .export_dialog import ask_heatmap_export, default_title
from .heatmap.base import HeatmapBase
from .heatmap.slides import export_picture, writes_vectors
from .view_state import ViewState
from .worker import Background

MAX_RECENT = 8
BACKGROUND_LOAD_BYTES = 4 * 1024 * 1024  # files above this parse on the worker thread


class ExportableView(Protocol):
    def export_png(
        self, path: str, width_px: int = 1600, background: str | None = None, tight: bool = False
    ) -> None: ...
    def export_svg(self, path: str, background: str | None = None) -> None: ...


def as_list(value: object) -> list[str]:
    """QSettings gives back a one-item list as a plain string, and nothing as None."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]  # type: ignore[attr-defined]


def slug(name: str) -> str:
    """A file-name-safe version of a preset name."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name.strip().lower())
    return "-".join(part for part in cleaned.split("-") if part) or "preset"


def lesson_tooltip(lesson: Lesson) -> str:
    """The summary over the whole description (rich text, so the long description wraps)."""
    return f"<p><b>{escape(lesson.summary)}</b></p><p>{escape(lesson.description)}</p>"


def bundled_actions(parent: QObject, open_bundled: Callable[[str], object]) -> list[QAction]:
    """File → Open bundled preset: one entry per lesson, "n. Name — summary", in order."""
    actions = []
    for lesson in lessons():
        action = QAction(lesson.label.replace("&", "&&"), parent)  # no mnemonic
        action.setData(lesson.name)
        action.setStatusTip(lesson.summary)
        action.setToolTip(lesson.summary)
        action.triggered.connect(lambda _checked=False, name=lesson.name: open_bundled(name))
        actions.append(action)
    return actions


class LessonCombo(QComboBox):
    """The toolbar's bundled-preset chooser: an invitation, then the lessons in order.

    The closed combo is narrower than a lesson's "n. Name — summary": it ends the
    text with "…" instead of cutting a word in half.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.addItem("Bundled presets…", None)
        for lesson in lessons():
            self.addItem(lesson.label, lesson.name)
            index = self.count() - 1
            self.setItemData(index, lesson_tooltip(lesson), Qt.ItemDataRole.ToolTipRole)
            self.setItemData(index, lesson.summary, Qt.ItemDataRole.StatusTipRole)

    PREFERRED_CHARS = 40  # "n. Name — summ…" where the bar has room; else the minimum

    def sizeHint(self) -> QSize:
        """Wide enough for most of a lesson's label, shrinking (to the minimum contents
        length) when a zoomed or narrow window needs the room."""
        hint = super().sizeHint()
        extra = self.PREFERRED_CHARS - self.minimumContentsLength()
        if extra > 0:
            hint.setWidth(hint.width() + extra * self.fontMetrics().horizontalAdvance("x"))
        return hint

    def paintEvent(self, event: QPaintEvent) -> None:  # Qt API name
        del event
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        room = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox,
            option,
            QStyle.SubControl.SC_ComboBoxEditField,
            self,
        )
        option.currentText = self.fontMetrics().elidedText(  # type: ignore[attr-defined]
            option.currentText,  # type: ignore[attr-defined]
            Qt.TextElideMode.ElideRight,
            room.width(),
        )
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


class FileController(QObject):
    """Every file operation the window offers; dialogs only where an answer is needed."""

    message = Signal(str)  # a transient status message
    busyChanged = Signal(bool)  # a file job (big open, export) started or ended
    recentChanged = Signal()  # the recent-files list changed: rebuild the menu
    bundledOpened = Signal(object)  # the bundled preset now open (name), or None
    atlasRequested = Signal(object, str)  # Load from model's "whole model": (model, text)
    generateRequested = Signal(object, str)  # Load from model's "Generate…": (model, text)

    def __init__(
        self,
        window: QWidget,
        document: Document,
        settings: QSettings,
        background: Background,
        heatmap_view: Callable[[], tuple[ExportableView, str]],
    ) -> None:
        super().__init__(window)
        self._window = window
        self._doc = document
        self._settings = settings
        self._background = background
        self._heatmap_view = heatmap_view  # the view in front and its mode, for exports
        self._jobs = 0

    # Background jobs ------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._jobs > 0

    def _submit(
        self,
        fn: Callable[[], object],
        done: Callable[[object], object],
        failed: Callable[[BaseException], object],
    ) -> None:
        self._jobs += 1
        if self._jobs == 1:
            self.busyChanged.emit(True)

        def finish() -> None:
            self._jobs -= 1
            if self._jobs == 0:
                self.busyChanged.emit(False)

        def on_done(value: object) -> None:
            finish()
            done(value)

        def on_failed(exc: BaseException) -> None:
            finish()
            failed(exc)

        self._background.submit(fn, on_done, on_failed)

    def wait(self) -> None:
        """Block until file jobs finished and were delivered (tests, scripts)."""
        while self._jobs:
            self._background.wait()
            QCoreApplication.processEvents()

    # Prompts --------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask before unsaved changes are lost; False means the person cancelled."""
        if not self._doc.is_modified:
            return True
        answer = QMessageBox.question(
            self._window,
            APP_NAME,
            f"“{self._doc.display_name()}” has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    # Opening --------------------------------------------------------------------
    def new_document(self) -> None:
        if self.maybe_save():
            commands.open_preset(self._doc, commands.blank_preset(), None, "New document")
            self.bundledOpened.emit(None)

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(
            self._window, "Open preset", self.last_folder(), "Presets (*.json);;All files (*)"
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
            self.message.emit(f"Opening {path}…")
            self._submit(
                lambda: selfattn.load_preset(path),
                lambda preset: self._opened(preset, path),  # type: ignore[arg-type]
                self._open_failed,
            )
            return True
        try:
            preset = selfattn.load_preset(path)
        except PresetError as exc:
            self._open_failed(exc)
            return False
        return self._opened(preset, path)

    def _opened(self, preset: Preset, path: Path) -> bool:
        try:
            commands.open_preset(self._doc, preset, path)
        except PresetError as exc:
            self._open_failed(exc)
            return False
        self.bundledOpened.emit(None)
        self.remember_file(path)
        self.message.emit(f"Opened “{preset.name}” from {path}")
        return True

    def _open_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, PresetError | OSError | MemoryError):
            raise exc
        QMessageBox.warning(self._window, "Cannot open preset", str(exc) or type(exc).__name__)
        self.message.emit(f"Not opened: {exc}")

    def open_bundled(self, name: str, ask: bool = True) -> bool:
        if ask and not self.maybe_save():
            return False
        try:
            preset = load_bundled(name)
            # a lesson made from a real model opens like a preset loaded from it
            origin = lesson_origin(name)
            commands.open_preset(self._doc, preset, None, f"Open bundled {name}", origin)
        except PresetError as exc:
            QMessageBox.warning(self._window, "Cannot open preset", str(exc))
            return False
        self.message.emit(f"Opened “{preset.name}”")
        self.bundledOpened.emit(name)
        return True

    def show_bundled(self, name: str | None) -> None:
        """Tell the views which bundled preset the window started with (None: a file)."""
        self.bundledOpened.emit(name)

    def load_from_model_dialog(self) -> None:
        from .model_dialog import LoadFromModelDialog  # only when asked: it is a big dialog

        if not self.maybe_save():
            return
        dialog = LoadFromModelDialog(self._background, self._window)
        start = self._doc.origin or self._last_model_choice()
        if start is not None:
            dialog.start_from(start.model, start.text, start.layer, start.head)
        try:
            accepted = dialog.exec()
            if accepted:
                self._remember_model_choice(dialog)
            if accepted and dialog.preset is not None:
                self.load_model_preset(dialog.preset, dialog.origin)
            elif dialog.result() and dialog.atlas_request is not None:
                self.atlasRequested.emit(*dialog.atlas_request)
            elif dialog.result() and dialog.generate_request is not None:
                self.generateRequested.emit(*dialog.generate_request)
        finally:
            dialog.deleteLater()  # parented to the window: without this every use leaks one

    def _last_model_choice(self) -> ModelOrigin | None:
        """Model, text, layer and head the dialog was last used with (QSettings)."""
        text = self._settings.value("model_dialog/text")
        if not isinstance(text, str) or not text:
            return None
        model = str(self._settings.value("model_dialog/model", "", type=str))
        layer: int = self._settings.value("model_dialog/layer", 1, type=int)  # type: ignore[assignment]
        head: int = self._settings.value("model_dialog/head", 0, type=int)  # type: ignore[assignment]
        return ModelOrigin(model or None, text, max(1, layer), head or None, is_decoder=False)

    def _remember_model_choice(self, dialog: Any) -> None:
        model, layer, head, text = dialog.selection()
        self._settings.setValue("model_dialog/model", "" if model is None else str(model))
        self._settings.setValue("model_dialog/text", text)
        self._settings.setValue("model_dialog/layer", int(layer))
        self._settings.setValue("model_dialog/head", 0 if head is None else int(head))

    def load_model_preset(self, preset: Preset, origin: ModelOrigin | None = None) -> None:
        """A preset made from a real model: undoable like any load, unsaved until saved."""
        try:
            commands.open_preset(self._doc, preset, None, f"Load {preset.name}", origin)
        except PresetError as exc:
            QMessageBox.warning(self._window, "Cannot load from model", str(exc))
            return
        self._doc.undo_stack.resetClean()  # never saved yet: closing asks
        self.bundledOpened.emit(None)
        self.message.emit(f"Loaded {preset.name}")

    # Saving ---------------------------------------------------------------------
    def save(self) -> bool:
        if self._doc.path is None:
            return self.save_as()
        return self.save_to(self._doc.path)

    def save_as(self) -> bool:
        suggested = str(Path(self.last_folder()) / f"{slug(self._doc.preset.name)}.json")
        path, _ = QFileDialog.getSaveFileName(
            self._window, "Save preset", suggested, "Presets (*.json)"
        )
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        try:
            self._doc.save(path)
        except PresetError as exc:
            QMessageBox.critical(
                self._window,
                "Save failed",
                f"{exc}\n\nThe file on disk is unchanged and your work is still open.",
            )
            self.message.emit(f"Not saved: {exc}")
            return False
        self.remember_file(path)
        self.message.emit(f"Saved {path}")
        return True

    # Exporting ------------------------------------------------------------------
    def export_csv_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self._window, "Export results as CSV into", self.last_folder()
        )
        if not folder:
            return
        formats = ["wide (one file per matrix)", "long (one tidy results.csv)"]
        choice, ok = QInputDialog.getItem(self._window, "CSV format", "Format:", formats, 0, False)
        if ok:
            self.export_csv(Path(folder), "wide" if choice.startswith("wide") else "long")

    def export_csv(self, folder: Path, fmt: str = "wide") -> bool:
        """Write the results as CSV on the file worker (a big layer takes seconds).

        The preset is taken now, so edits made while the files are written do not mix in.
        Returns True when the job started; `wait()` blocks until it is written.
        """
        preset = self._doc.preset

        def done(written: object) -> None:
            count = len(written) if isinstance(written, list) else 0
            self.message.emit(f"Wrote {count} CSV file(s) to {folder}")

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, OSError | ValueError | MemoryError):
                raise exc
            QMessageBox.critical(self._window, "Export failed", f"Nothing was written: {exc}")

        self.message.emit(f"Writing CSV files to {folder}…")
        self._submit(lambda: export_csv(preset, folder, fmt), done, failed)  # type: ignore[arg-type]
        return True

    def export_heatmap_dialog(self) -> None:
        """Ask for file, format, background and title (app.export_dialog), then export."""
        view, mode = self._heatmap_view()
        state = self._window.findChild(ViewState)  # which head the picture shows
        head, heads = (state.head, state.heads) if state is not None else (0, 1)
        choice = ask_heatmap_export(
            self._window,
            self._settings,
            folder=Path(self.last_folder()),
            base_name=f"{slug(self._doc.preset.name)}-{mode}",
            title=default_title(self._doc.preset.name, mode, head, heads),
            vectors=isinstance(view, HeatmapBase) and writes_vectors(view),
        )
        if choice is not None:
            self.export_heatmap(choice.path, choice.background, choice.title)

    def export_heatmap(self, path: Path, background: str = "white", title: str = "") -> bool:
        """A slide-ready picture: no selection outline, white or transparent, tight margins.

        An SVG of matrices up to 64 x 64 has vector cells (app.heatmap.svg).
        """
        view, _mode = self._heatmap_view()
        written = ""
        try:
            if isinstance(view, HeatmapBase):
                written = export_picture(view, str(path), background, title)
            elif path.suffix.lower() == ".svg":
                view.export_svg(str(path), background=background)
            else:
                view.export_png(str(path), 1800, background=background, tight=True)
        except Exception as exc:  # exporters raise assorted errors; the window must stay up
            QMessageBox.critical(self._window, "Export failed", str(exc))
            return False
        how = {
            "svg": " (cells as vector rectangles)",
            "svg-raster": " (cells as an embedded image: more than 64 × 64)",
        }.get(written, "")
        self.message.emit(f"Exported heatmap to {path}{how}")
        return True

    # Recent files ---------------------------------------------------------------
    def recent_files(self) -> list[str]:
        return as_list(self._settings.value("files/recent"))

    def remember_file(self, path: Path) -> None:
        entry = str(Path(path).resolve())
        recent = [p for p in self.recent_files() if p != entry]
        self._settings.setValue("files/recent", [entry, *recent][:MAX_RECENT])
        self._settings.setValue("files/lastFolder", str(Path(entry).parent))
        self.recentChanged.emit()

    def last_folder(self) -> str:
        return str(self._settings.value("files/lastFolder", str(Path.home()), type=str))

    # Drag and drop --------------------------------------------------------------
    @staticmethod
    def accept_drag(event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and urls[0].toLocalFile().lower().endswith(".json"):
            event.acceptProposedAction()

    def drop(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            # Open after the drop returns, so a dialog does not block the drag source.
            path = Path(urls[0].toLocalFile())
            QTimer.singleShot(0, lambda: self.open_path(path))
