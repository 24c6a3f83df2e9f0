"""CSV export of every intermediate of an attention result (DESIGN.md, "Command line").

Two layouts:

* **wide** (default): one file per matrix, ``query.csv key.csv value.csv scores.csv
  scaled_scores.csv weights.csv context.csv output.csv``, and with RoPE on also
  ``query_rotated.csv key_rotated.csv`` (q and k after the rotation). With H > 1 heads the
  per-head matrices (scores, scaled_scores, weights, context) are written once per
  head as ``weights-head1.csv`` .. ``weights-headH.csv``; query/key/value/output
  stay whole. The first row is a header: a corner cell, then the column labels;
  every next row starts with its row label.
* **long**: one tidy file ``results.csv`` with the columns
  ``matrix,head,row,col,row_label,col_label,value``. ``head`` is 1..H for the
  per-head matrices and empty for query/key/value/output; ``row`` and ``col``
  count from 1 (like the ``-headN`` file names and the GUI's headers).

Labels (the same words as the maths and the window):

=============  ==========================  ======================================
matrix         rows                        columns
=============  ==========================  ======================================
query          tokens                      ``q1`` .. ``q{d_k}`` with one head;
                                           ``h1:q1`` .. ``h{H}:q{d_k}`` with several
key, value     key tokens (source tokens)  like query (``k``/``v``); with grouped
                                           heads ``kv1:k1`` .. ``kv{G}:k{d_k}``
query_rotated  tokens                      like query
key_rotated    key tokens                  like key
scores,        tokens (queries)            key tokens
scaled_scores,
weights
context        tokens                      ``c1`` .. ``c{d_v}`` (within the head)
output         tokens                      ``o1`` .. ``o{d_out}``
=============  ==========================  ======================================

Corner cells: ``token`` for token-by-dimension matrices, ``query\\key`` for the
query-by-key ones.

Numbers are written as ``repr(float(x))``: the shortest text that reads back to
the very same double (float32 results are widened exactly first), masked logits
as ``-inf``. Files are UTF-8, written with the csv module and ``newline=""``;
the locale is never consulted.

Writing is all-or-nothing: every file is written into a temporary folder inside
the target folder, then moved into place; if anything fails, files already
replaced are restored and nothing new is left behind.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .attention import AttentionResult
from .labels import dim_labels, head_col_labels, kv_col_labels
from .numbers import round_trip
from .preset import Preset, compute

CsvFormat = Literal["wide", "long"]
FORMATS: tuple[str, ...] = ("wide", "long")
LONG_FILE_NAME = "results.csv"
LONG_COLUMNS = ("matrix", "head", "row", "col", "row_label", "col_label", "value")
PER_HEAD = AttentionResult.PER_HEAD_FIELDS  # their file and CSV names are the field names
CORNER_TOKENS = "token"
CORNER_PAIRS = "query\\key"


class ExportError(ValueError):
    """Arguments that cannot be exported (label counts, unknown format, unreadable CSV)."""


@dataclass(frozen=True)
class Table:
    """One exported matrix with its labels; ``head`` is 1-based, None for whole matrices."""

    matrix: str
    head: int | None
    corner: str
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    values: np.ndarray  # (rows, cols)

    @property
    def file_stem(self) -> str:
        return self.matrix if self.head is None else f"{self.matrix}-head{self.head}"


def result_tables(
    result: AttentionResult, *, tokens: Sequence[str], key_tokens: Sequence[str]
) -> list[Table]:
    """Every matrix of a result with its row/column labels, in the order they are written.

    With one head the per-head matrices carry ``head=None`` (file ``weights.csv``);
    with H > 1 they carry 1..H (``weights-head2.csv``).
    """
    tokens = tuple(str(t) for t in tokens)
    key_tokens = tuple(str(t) for t in key_tokens)
    n, m = result.n_queries, result.n_keys
    if len(tokens) != n:
        raise ExportError(f"got {len(tokens)} token labels for {n} queries")
    if len(key_tokens) != m:
        raise ExportError(f"got {len(key_tokens)} key token labels for {m} keys")
    heads, kv = result.heads, result.kv_heads
    q_cols = tuple(head_col_labels("q", heads, result.d_k))
    k_cols = tuple(kv_col_labels("k", heads, kv, result.d_k))
    v_cols = tuple(kv_col_labels("v", heads, kv, result.d_v))
    corners_and_columns = {
        "q": (CORNER_TOKENS, tokens, q_cols),
        "k": (CORNER_TOKENS, key_tokens, k_cols),
        "v": (CORNER_TOKENS, key_tokens, v_cols),
        "q_rot": (CORNER_TOKENS, tokens, q_cols),
        "k_rot": (CORNER_TOKENS, key_tokens, k_cols),
        "scores": (CORNER_PAIRS, tokens, key_tokens),
        "scaled_scores": (CORNER_PAIRS, tokens, key_tokens),
        "weights": (CORNER_PAIRS, tokens, key_tokens),
        "context": (CORNER_TOKENS, tokens, tuple(dim_labels("c", result.d_v))),
        "output": (CORNER_TOKENS, tokens, tuple(dim_labels("o", result.output.shape[1]))),
    }
    tables = []
    for field_name, values in result.matrices():
        matrix = AttentionResult.MATRIX_NAMES[field_name]
        corner, rows, cols = corners_and_columns[field_name]
        if field_name not in AttentionResult.PER_HEAD_FIELDS:
            tables.append(Table(matrix, None, corner, rows, cols, values))
            continue
        for h in range(result.heads):
            head = None if result.heads == 1 else h + 1
            tables.append(Table(matrix, head, corner, rows, cols, values[h]))
    return tables


def format_number(x: float) -> str:
    """Shortest text that reads back to the same double: ``repr(float(x))``."""
    return round_trip(x)


def _wide_rows(table: Table) -> Iterable[list[str]]:
    yield [table.corner, *table.col_labels]
    for label, row in zip(table.row_labels, table.values, strict=True):
        yield [label, *(format_number(v) for v in row)]


def _long_rows(tables: Sequence[Table]) -> Iterable[list[str]]:
    yield list(LONG_COLUMNS)
    for t in tables:
        # Whole matrices have an empty head; with one head the per-head ones are head 1.
        head = "" if t.matrix not in PER_HEAD else str(t.head or 1)
        for i, (row_label, row) in enumerate(zip(t.row_labels, t.values, strict=True)):
            for j, (col_label, v) in enumerate(zip(t.col_labels, row, strict=True)):
                yield [
                    t.matrix,
                    head,
                    str(i + 1),
                    str(j + 1),
                    row_label,
                    col_label,
                    format_number(v),
                ]


def wide_csv_text(table: Table) -> str:
    """One table as wide CSV text (for the clipboard or a single-file save)."""
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(_wide_rows(table))
    return buf.getvalue()


def _write_rows(path: Path, rows: Iterable[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def write_csv(
    result: AttentionResult,
    out_dir: str | os.PathLike[str],
    *,
    tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    format: CsvFormat = "wide",
) -> list[Path]:
    """Write a result as CSV into ``out_dir`` (created if missing); return the paths written.

    ``key_tokens`` defaults to ``tokens`` (self-attention). All-or-nothing: on any
    failure the folder is left as it was and the error (OSError/ExportError) is raised.
    Other files already in ``out_dir`` are left alone, including stale
    ``-headN`` files of an earlier export with more heads.
    """
    if format not in FORMATS:
        raise ExportError(f"unknown CSV format {format!r}; expected 'wide' or 'long'")
    tables = result_tables(
        result, tokens=tokens, key_tokens=tokens if key_tokens is None else key_tokens
    )
    if format == "wide":
        files = [(f"{t.file_stem}.csv", _wide_rows(t)) for t in tables]
    else:
        files = [(LONG_FILE_NAME, _long_rows(tables))]
    return _write_all_or_nothing(Path(out_dir), files)


def _make_dirs(out_dir: Path) -> list[Path]:
    """Create out_dir and missing parents; return the ones created, deepest first."""
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(out_dir))
    created: list[Path] = []
    probe = out_dir
    while not probe.exists() and probe != probe.parent:
        created.append(probe)
        probe = probe.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    return created


def _write_all_or_nothing(
    out_dir: Path, files: Sequence[tuple[str, Iterable[list[str]]]]
) -> list[Path]:
    created_dirs = _make_dirs(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=".selfattn-export-", dir=out_dir))
    backups: list[tuple[Path, Path]] = []  # (target, its old content moved aside)
    placed: list[Path] = []
    try:
        (staging / "new").mkdir()
        (staging / "old").mkdir()
        for name, rows in files:
            _write_rows(staging / "new" / name, rows)
        for name, _ in files:
            target = out_dir / name
            if target.exists() or target.is_symlink():
                aside = staging / "old" / name
                os.replace(target, aside)
                backups.append((target, aside))
            os.replace(staging / "new" / name, target)
            placed.append(target)
    except BaseException:
        for target in placed:
            with contextlib.suppress(OSError):
                os.unlink(target)
        for target, aside in backups:
            with contextlib.suppress(OSError):
                os.replace(aside, target)
        shutil.rmtree(staging, ignore_errors=True)
        for d in created_dirs:  # deepest first; only if still empty
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name, _ in files]


def export_csv(
    preset: Preset,
    out_dir: str | os.PathLike[str],
    format: CsvFormat = "wide",
    dtype: str | None = None,
) -> list[Path]:
    """Compute a Preset (optionally in another dtype) and write its CSV files."""
    if not isinstance(preset, Preset):
        raise ExportError(f"expected a Preset, got {type(preset).__name__}")
    result = compute(preset, dtype=dtype)
    return write_csv(
        result, out_dir, tokens=preset.tokens, key_tokens=preset.key_tokens, format=format
    )


def read_wide_csv(path: str | os.PathLike[str]) -> tuple[list[str], list[str], np.ndarray]:
    """Read a wide CSV back: (row labels, column labels, float64 matrix).

    Accepts ``inf``/``-inf`` (masked logits) and any float Python reads; refuses
    ragged rows, empty files, non-numeric cells, text that is not UTF-8 and
    malformed CSV with an ExportError naming the file (and the cell, row/column
    counted from 1 as in a spreadsheet). OSError (missing file) passes through.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise ExportError(f"{path}: not UTF-8 text") from None
    except csv.Error as exc:
        raise ExportError(f"{path}: not a readable CSV file: {exc}") from None
    rows = [r for r in rows if r]  # tolerate a trailing blank line
    if not rows:
        raise ExportError(f"{path}: empty CSV file")
    header = rows[0]
    if len(header) < 2:
        raise ExportError(f"{path}: the header needs a corner cell and at least one column")
    col_labels = header[1:]
    row_labels: list[str] = []
    values = np.empty((len(rows) - 1, len(col_labels)), dtype=np.float64)
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise ExportError(
                f"{path}: row {i + 2} has {len(row)} cells, the header has {len(header)}"
            )
        row_labels.append(row[0])
        for j, cell in enumerate(row[1:]):
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise ExportError(
                    f"{path}: row {i + 2}, column {j + 2}: not a number: {cell[:40]!r}"
                ) from None
    return row_labels, col_labels, values


__all__ = [
    "FORMATS",
    "LONG_COLUMNS",
    "ExportError",
    "Table",
    "export_csv",
    "format_number",
    "read_wide_csv",
    "result_tables",
    "wide_csv_text",
    "write_csv",
]
