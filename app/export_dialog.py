"""The heatmap export dialog: file, format, background and title of a slide-ready picture.

One small dialog rather than a file dialog with extra widgets: the choices a teacher
makes (PNG or SVG, white or transparent, the title) sit next to the file name, and
are remembered for the next export (QSettings).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

FORMATS = ("png", "svg")
BACKGROUNDS = ("white", "transparent")
# What is shown, for the default title: "Seed example — attention weights, head 1".
SHOWN = {
    "weights": "attention weights",
    "scaled_scores": "scaled scores",
    "scores": "raw scores",
    "all_heads": "attention weights",
}
FILTERS = {"png": "PNG picture (*.png)", "svg": "SVG drawing (*.svg)"}


@dataclass(frozen=True)
class ExportChoice:
    path: Path
    background: str  # "white" or "transparent"
    title: str  # "" for no title


def default_title(preset_name: str, mode: str, head: int, heads: int) -> str:
    """The preset's name and what the heatmap shows: "Seed example — raw scores, head 2"."""
    shown = SHOWN.get(mode, mode.replace("_", " "))
    which = "all heads" if mode == "all_heads" else f"head {head + 1}"
    name = preset_name.strip()
    return f"{name} — {shown}, {which}" if name else f"{shown[0].upper()}{shown[1:]}, {which}"


def with_format(path: str, fmt: str) -> str:
    """``path`` ending in .png or .svg as ``fmt`` says (another ending is kept, one added)."""
    if not path:
        return path
    stem, dot, suffix = path.rpartition(".")
    if dot and suffix.lower() in FORMATS and "/" not in suffix:
        return f"{stem}.{fmt}"
    return f"{path}.{fmt}"


class ExportDialog(QDialog):
    """Asks where and how to export; ``choice()`` afterwards, ``remember()`` on success."""

    def __init__(
        self,
        parent: QWidget | None,
        settings: QSettings,
        folder: Path,
        base_name: str,
        title: str,
        vectors: bool,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export heatmap")
        self._settings = settings
        self._default_title = title
        self._browsed: str | None = None  # a path the file dialog confirmed (overwrite)
        fmt = str(settings.value("export/format", "png", type=str))
        fmt = fmt if fmt in FORMATS else "png"
        background = str(settings.value("export/background", "white", type=str))
        folder = Path(str(settings.value("export/folder", str(folder), type=str)))

        self.path_edit = QLineEdit(str(folder / f"{base_name}.{fmt}"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)

        self.png_button = QRadioButton("PNG picture, 1800 px wide")
        self.svg_button = QRadioButton("SVG drawing")
        self._formats = QButtonGroup(self)
        for button in (self.png_button, self.svg_button):
            self._formats.addButton(button)
        (self.svg_button if fmt == "svg" else self.png_button).setChecked(True)
        self._formats.buttonToggled.connect(self._format_changed)
        note = (
            "SVG cells are vector rectangles with their numbers: sharp at any size."
            if vectors
            else "This matrix is larger than 64 × 64: an SVG embeds its cells as an image."
        )
        self.svg_note = QLabel(note)
        self.svg_note.setWordWrap(True)
        self.svg_note.setIndent(22)  # under the SVG button's text
        formats = QVBoxLayout()
        formats.addWidget(self.png_button)
        formats.addWidget(self.svg_button)
        formats.addWidget(self.svg_note)

        self.white_button = QRadioButton("White")
        self.transparent_button = QRadioButton("Transparent")
        self._backgrounds = QButtonGroup(self)
        for button in (self.white_button, self.transparent_button):
            self._backgrounds.addButton(button)
        chosen = self.transparent_button if background == "transparent" else self.white_button
        chosen.setChecked(True)
        backgrounds = QHBoxLayout()
        backgrounds.addWidget(self.white_button)
        backgrounds.addWidget(self.transparent_button)
        backgrounds.addStretch(1)

        # The title: the last one typed for this same picture, else the default; the
        # box remembers whether the last export had a title at all.
        same_picture = settings.value("export/defaultTitle", "", type=str) == title
        text = str(settings.value("export/title", title, type=str)) if same_picture else title
        self.title_box = QCheckBox("Title")
        self.title_box.setChecked(bool(settings.value("export/titled", True, type=bool)))
        self.title_edit = QLineEdit(text or title)
        self.title_edit.setPlaceholderText("no title")
        self.title_edit.setEnabled(self.title_box.isChecked())
        self.title_box.toggled.connect(self.title_edit.setEnabled)
        title_row = QHBoxLayout()
        title_row.addWidget(self.title_box)
        title_row.addWidget(self.title_edit, 1)

        form = QFormLayout()
        form.addRow("File:", path_row)
        form.addRow("Format:", formats)
        form.addRow("Background:", backgrounds)
        form.addRow("", title_row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("Export")
        buttons.accepted.connect(self._accept_if_writable)
        buttons.rejected.connect(self.reject)
        self.path_edit.textChanged.connect(
            lambda text: self.save_button.setEnabled(bool(text.strip()))
        )
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(max(self.sizeHint().width(), 560), self.sizeHint().height())

    # -- reading the choice -----------------------------------------------------------
    def fmt(self) -> str:
        return "svg" if self.svg_button.isChecked() else "png"

    def background(self) -> str:
        return "transparent" if self.transparent_button.isChecked() else "white"

    def title(self) -> str:
        return self.title_edit.text().strip() if self.title_box.isChecked() else ""

    def choice(self) -> ExportChoice:
        path = with_format(self.path_edit.text().strip(), self.fmt())
        return ExportChoice(Path(path).expanduser(), self.background(), self.title())

    def remember(self) -> None:
        """Keep the choices for the next export."""
        s = self._settings
        s.setValue("export/format", self.fmt())
        s.setValue("export/background", self.background())
        s.setValue("export/titled", self.title_box.isChecked())
        s.setValue("export/title", self.title_edit.text().strip())
        s.setValue("export/defaultTitle", self._default_title)
        s.setValue("export/folder", str(self.choice().path.parent))

    # -- reactions ----------------------------------------------------------------------
    def _format_changed(self, _button: QRadioButton, checked: bool) -> None:
        if checked:
            self.path_edit.setText(with_format(self.path_edit.text().strip(), self.fmt()))

    def _browse(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(
            self, "Export heatmap", self.path_edit.text(), FILTERS[self.fmt()]
        )
        if path:
            suffix = Path(path).suffix.lower().lstrip(".")
            if suffix in FORMATS:  # a name ending in .svg or .png chooses the format
                (self.svg_button if suffix == "svg" else self.png_button).setChecked(True)
            self.path_edit.setText(with_format(path, self.fmt()))
            self._browsed = with_format(path, self.fmt())

    def _accept_if_writable(self) -> None:
        path = self.choice().path
        if not path.parent.is_dir():
            QMessageBox.warning(self, "Export heatmap", f"There is no folder {path.parent}.")
            return
        if path.exists() and str(path) != self._browsed:
            answer = QMessageBox.question(
                self, "Export heatmap", f"{path.name} exists already. Replace it?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.accept()


def ask_heatmap_export(
    parent: QWidget | None,
    settings: QSettings,
    folder: Path,
    base_name: str,
    title: str,
    vectors: bool,
) -> ExportChoice | None:
    """Show the dialog; the choice (remembered for next time), or None when cancelled."""
    dialog = ExportDialog(parent, settings, folder, base_name, title, vectors)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        dialog.remember()
        return dialog.choice()
    finally:
        dialog.deleteLater()
