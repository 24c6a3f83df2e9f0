"""Blocks of cells as text, the way spreadsheets put them on the clipboard."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import numpy as np

from .expr import ExpressionError, parse_number

MAX_PASTE_CELLS = 4_000_000


class ClipboardError(ValueError):
    """Text that is not a rectangular block of numbers."""


def format_block(block: np.ndarray, fmt: Callable[[float], str] = repr) -> str:
    """Tab-separated rows, newline-terminated, numbers as exact text."""
    return "".join("\t".join(fmt(float(v)) for v in row) + "\n" for row in block)


def parse_block(text: str) -> np.ndarray:
    """A 2-D float array from tab- or comma-separated text; refuses ragged or non-numeric blocks."""
    lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ClipboardError("the clipboard holds no numbers")
    delimiter = "\t" if any("\t" in line for line in lines) else ","
    if delimiter == "," and not any("," in line for line in lines):
        delimiter = " " if any(len(line.split()) > 1 for line in lines) else ","
    if delimiter == " ":
        rows = [line.split() for line in lines]
    else:
        try:
            rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
        except csv.Error as exc:
            raise ClipboardError(f"not a table of numbers: {exc}") from None
    width = len(rows[0])
    if len(rows) * width > MAX_PASTE_CELLS:
        raise ClipboardError(f"more than {MAX_PASTE_CELLS:,} cells")
    out = np.empty((len(rows), width))
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ClipboardError(f"row {i + 1} has {len(row)} cells, row 1 has {width}")
        for j, cell in enumerate(row):
            try:
                out[i, j] = parse_number(cell)
            except ExpressionError as exc:
                raise ClipboardError(f"row {i + 1}, column {j + 1}: {exc}") from None
    return out
