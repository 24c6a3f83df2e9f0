"""Whole-matrix edits of the Inputs panel: fills, scaling and CSV import, one undo step each."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget

from selfattn import edit
from selfattn.csv_import import CsvImportError, read_matrix_csv

from .. import commands
from ..document import Document

FILL_KINDS = ("zeros", "identity", "random", "scale")


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
            seed, ok = QInputDialog.getInt(
                parent, "Random normal", "Seed (reproducible):", 0, 0, 2**31 - 1
            )
            if not ok:
                return None
        block = edit.filled(current.shape, "random", seed=seed)
        text = f"Fill {title} with random normal (seed {seed})"
    elif kind == "scale":
        if factor is None:
            factor, ok = QInputDialog.getDouble(
                parent, "Scale", f"Multiply {title} by:", 2.0, -1e6, 1e6, 6
            )
            if not ok:
                return None
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
