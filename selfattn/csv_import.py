"""Read a matrix from a CSV file, with or without a header row and a label column."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

MAX_IMPORT_BYTES = 64 * 1024 * 1024


class CsvImportError(ValueError):
    """A CSV file that does not hold a rectangular block of finite numbers."""


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def read_matrix_csv(path: str | os.PathLike[str]) -> np.ndarray:
    """The numbers of a CSV (comma, semicolon or tab separated, '.' decimals) as float64.

    A first row that is not all numbers is taken as a header; a first column that
    is not all numbers is taken as row labels. Anything else must be a number.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise CsvImportError(f"{path.name}: larger than {MAX_IMPORT_BYTES // 2**20} MiB")
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CsvImportError(f"{path.name}: not UTF-8 text") from None
    except OSError as exc:
        raise CsvImportError(f"{path.name}: cannot read: {exc.strerror or exc}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise CsvImportError(f"{path.name}: the file is empty")
    sample = "\n".join(lines[:5])
    delimiter = "\t" if "\t" in sample else (";" if sample.count(";") > sample.count(",") else ",")
    rows = [[cell.strip() for cell in row] for row in csv.reader(lines, delimiter=delimiter)]
    if rows and not all(_is_number(c) for c in rows[0][1:] or rows[0]):
        rows = rows[1:]  # header row
    if not rows:
        raise CsvImportError(f"{path.name}: only a header, no numbers")
    if all(row and not _is_number(row[0]) for row in rows):
        rows = [row[1:] for row in rows]  # label column
    width = len(rows[0])
    if width == 0:
        raise CsvImportError(f"{path.name}: no numbers")
    out = np.empty((len(rows), width))
    for i, row in enumerate(rows):
        if len(row) != width:
            raise CsvImportError(
                f"{path.name}: row {i + 1} has {len(row)} numbers, row 1 has {width}"
            )
        for j, cell in enumerate(row):
            if not _is_number(cell):
                raise CsvImportError(
                    f"{path.name}: row {i + 1}, column {j + 1}: {cell[:20]!r} is not a finite number"
                )
            out[i, j] = float(cell)
    return out
