"""The preset's name and description, editable by a teacher (one undo step each time).

Save As proposes a file name from the name and writes both into the preset file.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from . import commands
from .document import Document


def set_name_and_description(document: Document, name: str, description: str) -> bool:
    """Rename and describe the preset as one undo step; an empty name is refused."""
    name = name.strip()
    if not name:
        document.report("Refused: a preset needs a name")
        return False
    p = document.preset
    if (name, description) == (p.name, p.description):
        return True
    return commands.push_preset(
        document,
        p.replace(name=name, description=description),
        f"Name the preset {name!r}",
        structure=False,
    )


class PresetInfoDialog(QDialog):
    """Name and description fields; OK applies them as one undo step."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Name and description")
        self._document = document
        form = QFormLayout(self)
        self.name_edit = QLineEdit(document.preset.name)
        self.description_edit = QPlainTextEdit(document.preset.description)
        self.description_edit.setPlaceholderText("What this preset shows, for your class")
        form.addRow("Name", self.name_edit)
        form.addRow("Description", self.description_edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.resize(520, 300)

    def accept(self) -> None:
        if set_name_and_description(
            self._document, self.name_edit.text(), self.description_edit.toPlainText()
        ):
            super().accept()
