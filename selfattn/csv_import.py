"""Read a matrix from a CSV file, with or without a header row and a label column."""

from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import numpy as np

MAX_IMPORT_BYTES = 64 * 1024 * 1024
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


class CsvImportError(ValueError):
    """A CSV file that does not hold a rectangular block of finite numbers."""


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def read_matrix_csv(
    path: str | os.PathLike[str], expected_shape: tuple[int, int] | None = None
) -> np.ndarray:
    """The numbers of a CSV (comma, semicolon or tab separated, '.' decimals) as float64.

    The file may have a header row and/or a label column. With `expected_shape`
    the reading that gives that shape wins (so numeric labels such as years are
    recognised); otherwise a first row or column that is not all numbers is a label.
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
    # Blank lines are skipped, but every message names the line of the file as an editor
    # numbers it: line_numbers[k] is the file's line of the k-th line kept.
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not numbered:
        raise CsvImportError(f"{path.name}: the file is empty")
    line_numbers = [n for n, _ in numbered]
    lines = [line for _, line in numbered]
    sample = "\n".join(lines[:5])
    if "\t" in sample:
        delimiter = "\t"
    elif all(";" in line for line in lines[:5]):
        delimiter = ";"  # also what spreadsheets with decimal commas write
    else:
        delimiter = ","
    rows: list[list[str]] = []
    row_lines: list[int] = []  # the file's line each row starts on
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        read = 0
        for row in reader:
            rows.append([cell.strip() for cell in row])
            row_lines.append(line_numbers[read])
            read = reader.line_num  # a quoted cell may span lines
    except csv.Error as exc:
        where = line_numbers[min(max(reader.line_num, 1), len(line_numbers)) - 1]
        raise CsvImportError(f"{path.name}: line {where}: not a CSV table: {exc}") from None
    for row, line in zip(rows, row_lines, strict=True):
        for j, cell in enumerate(row):
            if _DECIMAL_COMMA.match(cell):
                raise CsvImportError(
                    f"{path.name}: line {line}, column {j + 1}: {cell!r} has a decimal comma; "
                    "use '.' for decimals"
                )
    if expected_shape is not None:
        for skip_row, skip_col in ((0, 0), (1, 1), (1, 0), (0, 1)):
            if skip_row and not _looks_like_labels(rows, header=True, with_other=bool(skip_col)):
                continue
            if skip_col and not _looks_like_labels(rows, header=False, with_other=bool(skip_row)):
                continue
            body = [row[skip_col:] for row in rows[skip_row:]]
            if (len(body), len(body[0]) if body else 0) == tuple(expected_shape) and all(
                len(row) == len(body[0]) and all(_is_number(c) for c in row) for row in body
            ):
                return _to_array(path, body, row_lines[skip_row:], skip_col)
    if rows and not all(_is_number(c) for c in rows[0][1:] or rows[0]):
        rows, row_lines = rows[1:], row_lines[1:]  # header row
    if not rows:
        raise CsvImportError(f"{path.name}: only a header, no numbers")
    skip_col = 0
    if all(row and not _is_number(row[0]) for row in rows):
        rows = [row[1:] for row in rows]  # label column
        skip_col = 1
    return _to_array(path, rows, row_lines, skip_col)


def _looks_like_labels(rows: list[list[str]], *, header: bool, with_other: bool) -> bool:
    """Whether the first row (header) or first column holds labels rather than numbers.

    A label line has a non-number beyond the corner; or, when both a header and a
    label column are read, a non-numeric corner with numbers all along the other
    line (numeric labels such as years, as an exported CSV of such tokens has).
    """
    first = rows[0][1:] if header else [row[0] for row in rows[1:] if row]
    other = [row[0] for row in rows[1:] if row] if header else rows[0][1:]
    if header and not with_other:
        first = rows[0]
    if not header and not with_other:
        first = [row[0] for row in rows if row]
    if not all(_is_number(c) for c in first):
        return True
    corner_is_label = bool(rows[0]) and not _is_number(rows[0][0])
    return with_other and corner_is_label and all(_is_number(c) for c in other)


def _to_array(path: Path, rows: list[list[str]], lines: list[int], skip_col: int) -> np.ndarray:
    """The numbers as an array; a bad cell is named by its line and column in the file."""
    width = len(rows[0])
    if width == 0:
        raise CsvImportError(f"{path.name}: no numbers")
    out = np.empty((len(rows), width))
    for i, (row, line) in enumerate(zip(rows, lines, strict=True)):
        if len(row) != width:
            raise CsvImportError(
                f"{path.name}: line {line} has {len(row)} numbers, line {lines[0]} has {width}"
            )
        for j, cell in enumerate(row):
            if not _is_number(cell):
                hint = " (use '.' for decimals)" if "," in cell else ""
                raise CsvImportError(
                    f"{path.name}: line {line}, column {j + 1 + skip_col}: {cell[:20]!r} is not "
                    f"a finite number{hint}"
                )
            out[i, j] = float(cell)
    return out
