"""Whole-matrix edits of the Inputs panel: fills, scaling and CSV import, one undo step each."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QInputDialog, QMessageBox, QWidget

from selfattn import edit
from selfattn.csv_import import CsvImportError, read_matrix_csv

from .. import commands
from ..document import Document

FILL_KINDS = ("zeros", "identity", "random", "scale")


def _fit_title(dialog: QInputDialog) -> None:
    """Wide enough that the window manager shows the whole title (it names the matrix)."""
    shown = dialog.windowTitle()
    if QGuiApplication.applicationDisplayName():  # Qt adds " — Workbench" on Linux desktops
        shown += f" — {QGuiApplication.applicationDisplayName()}"
    title_width = dialog.fontMetrics().horizontalAdvance(shown)
    dialog.setMinimumWidth(title_width + 160)  # room for the title bar's icon and buttons


def random_seed_dialog(parent: QWidget, title: str) -> QInputDialog:
    """Ask for the seed of a random fill of matrix `title` (e.g. W_Q)."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(f"Fill {title} with random numbers")
    dialog.setInputMode(QInputDialog.InputMode.IntInput)
    dialog.setLabelText(
        f"Every cell of {title} gets a number from the standard normal distribution.\n"
        "Seed (the same seed gives the same numbers):"
    )
    dialog.setIntRange(0, 2**31 - 1)
    dialog.setIntValue(0)
    _fit_title(dialog)
    return dialog


def scale_factor_dialog(parent: QWidget, title: str) -> QInputDialog:
    """Ask for the factor that multiplies every cell of matrix `title`."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(f"Scale {title} by a factor")
    dialog.setInputMode(QInputDialog.InputMode.DoubleInput)
    dialog.setLabelText(f"Multiply every cell of {title} by:")
    dialog.setDoubleRange(-1e6, 1e6)
    dialog.setDoubleDecimals(6)
    dialog.setDoubleValue(2.0)
    _fit_title(dialog)
    return dialog


def fill_matrix(
    parent: QWidget,
    document: Document,
    key: str,
    kind: str,
    *,
    seed: int | None = None,
    factor: float | None = None,
) -> str | None:
    """Fill or scale input matrix `key`; ask for a missing seed or factor.

    Returns the undo text when done, None when refused or cancelled.
    """
    current = edit.matrix_of(document.preset, key)
    assert current is not None
    title = edit.MATRIX_TITLES[key]
    if kind == "random":
        if seed is None:
            dialog = random_seed_dialog(parent, title)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            seed = dialog.intValue()
        block = edit.filled(current.shape, "random", seed=seed)
        text = f"Fill {title} with random normal (seed {seed})"
    elif kind == "scale":
        if factor is None:
            dialog = scale_factor_dialog(parent, title)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            factor = dialog.doubleValue()
        block = current * factor
        text = f"Scale {title} by {factor:g}"
    else:
        block = edit.filled(current.shape, kind)
        text = f"Fill {title} with {kind}"
    return text if commands.set_cells(document, key, 0, 0, block, text) else None


def import_matrix_csv(parent: QWidget, document: Document, key: str, path: Path) -> bool:
    """Load a CSV block into input matrix `key`: with or without header row and label column."""
    current = edit.matrix_of(document.preset, key)
    assert current is not None
    try:
        block = read_matrix_csv(path, current.shape)
    except CsvImportError as exc:
        QMessageBox.warning(parent, "Cannot import CSV", str(exc))
        return False
    if block.shape != current.shape:
        QMessageBox.warning(
            parent,
            "Cannot import CSV",
            f"{path.name} holds a {block.shape[0]} x {block.shape[1]} matrix, but "
            f"{edit.MATRIX_TITLES[key]} is {current.shape[0]} x {current.shape[1]}. "
            "Resize the matrix first (Inputs panel) or fix the file.",
        )
        return False
    text = f"Import {path.name} into {edit.MATRIX_TITLES[key]}"
    return commands.set_cells(document, key, 0, 0, block, text)
