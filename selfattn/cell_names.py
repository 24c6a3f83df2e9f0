"""Names of cells and of sets of cells, as explanations write them (numpy only, no Qt).

The window's conventions: rows count from 1; columns carry the tables' labels
(x3, q1, h2:q1 with several heads, k1, v1, c1, o1); weights' rows are the input
dimensions (W_Q[x3,q1]), W_O's the heads' value columns (W_O[h2:v1,o1]); a bias
has one row, named by its column (b_Q[q1]); scores, weights and context name
their head in words. Numbers have Explain's 10 significant digits.
"""

from __future__ import annotations

import numpy as np

from .attention import AttentionResult
from .explain import CellRef
from .numbers import EXPLAIN_DIGITS, significant
from .preset import Preset
from .provenance import (
    HEAD_MATRICES,
    INPUT_MATRICES,
    SCORE_MATRICES,
    CellSet,
    Layout,
    check_cell,
    runs,
)


def format_number(x: float) -> str:
    """Explain's numbers: 10 significant digits, ASCII minus (as `explain` renders its terms)."""
    return significant(x, EXPLAIN_DIGITS, ascii_minus=True)


NAMES = {
    "inputs": "X",
    "source_inputs": "Xs",
    "w_query": "W_Q",
    "w_key": "W_K",
    "w_value": "W_V",
    "w_output": "W_O",
    "b_query": "b_Q",
    "b_key": "b_K",
    "b_value": "b_V",
    "b_output": "b_O",
    "q": "Q",
    "k": "K",
    "v": "V",
    "q_rot": "Q_rot",
    "k_rot": "K_rot",
    "scores": "raw scores",
    "scaled_scores": "scaled scores",
    "weights": "weights",
    "context": "context",
    "output": "output",
}
CELL_NAMES = {"scores": "score", "scaled_scores": "scaled", "weights": "weight"}


# Labels ------------------------------------------------------------------------------


def column_label(prefix: str, col: int, groups: int, d: int) -> str:
    """A column of a head-block matrix as the tables name it: q1, or h2:q1 with several heads."""
    if groups == 1:
        return f"{prefix}{col + 1}"
    return f"h{col // d + 1}:{prefix}{col % d + 1}"


def col_label(lay: Layout, matrix: str, col: int) -> str:
    """The column label of `matrix` in the window's tables (head-local for per-head ones)."""
    if matrix in ("inputs", "source_inputs"):
        return f"x{col + 1}"
    if matrix in ("w_query", "b_query", "q", "q_rot"):
        return column_label("q", col, lay.heads, lay.d_k)
    if matrix in ("w_key", "b_key", "k", "k_rot"):
        return column_label("k", col, lay.kv_heads, lay.d_k)
    if matrix in ("w_value", "b_value", "v"):
        return column_label("v", col, lay.kv_heads, lay.d_v)
    if matrix == "context":
        return f"c{col + 1}"
    if matrix in SCORE_MATRICES:
        return str(col + 1)
    return f"o{col + 1}"  # output, w_output, b_output


def row_label(lay: Layout, matrix: str, row: int) -> str:
    if matrix in ("w_query", "w_key", "w_value"):
        return f"x{row + 1}"
    if matrix == "w_output":
        return column_label("v", row, lay.heads, lay.d_v)
    return str(row + 1)


def cell_name(lay: Layout, cell: CellRef) -> str:
    """E.g. "W_Q[x3,q1]", "b_O[o2]", "Q[1,q1]", "weight[1,2]" (the head is said apart)."""
    name = CELL_NAMES.get(cell.matrix, NAMES[cell.matrix])
    col = col_label(lay, cell.matrix, cell.col)
    if cell.matrix.startswith("b_"):
        return f"{name}[{col}]"
    return f"{name}[{row_label(lay, cell.matrix, cell.row)},{col}]"


def head_words(lay: Layout, cell: CellRef) -> str:
    return f" of head {int(cell.head or 0) + 1}" if cell.head is not None and lay.heads > 1 else ""


def cell_label(preset: Preset, result: AttentionResult, cell: CellRef) -> str:
    """A cell's name in explanations, with its head in words: "weight[1,2] of head 2"."""
    lay = check_cell(preset, result, cell)
    return cell_name(lay, cell) + head_words(lay, cell)


def numbers_text(indices: list[int] | np.ndarray) -> str:
    """0-based indices as 1-based numbers with runs shortened: [0, 1, 2, 5] -> "1..3, 6"."""
    selected = np.zeros(max((int(i) for i in indices), default=-1) + 1, dtype=bool)
    selected[np.asarray(indices, dtype=int)] = True
    parts = []
    for r in runs(selected):
        if len(r) >= 3:
            parts.append(f"{r.start + 1}..{r.stop}")
        else:
            parts.extend(str(k + 1) for k in r)
    return ", ".join(parts)


def value_of(preset: Preset, result: AttentionResult, cell: CellRef) -> float:
    """The number in a cell of the preset (inputs) or of the result."""
    if cell.matrix in INPUT_MATRICES:
        array = np.asarray(getattr(preset, cell.matrix))
        return float(array[cell.col] if array.ndim == 1 else array[cell.row, cell.col])
    array = getattr(result, cell.matrix)
    if cell.matrix in HEAD_MATRICES:
        return float(array[cell.head, cell.row, cell.col])
    return float(array[cell.row, cell.col])


def describe_matrices(lay: Layout, items: list[tuple[str, int | None, np.ndarray]]) -> list[str]:
    """(matrix, head, selected cells) in words, one entry per matrix; heads whose share
    reads the same are named together ("weights of heads 1..12: row 3 and key 3")."""
    texts = [(m, h, describe(lay, m, sel)) for m, h, sel in items]
    out: list[str] = []
    k = 0
    while k < len(texts):
        matrix, head, text = texts[k]
        heads = [] if head is None else [head]
        while (
            k + 1 < len(texts)
            and texts[k + 1][0] == matrix
            and texts[k + 1][2] == text
            and texts[k + 1][1] is not None
        ):
            k += 1
            heads.append(int(texts[k][1] or 0))
        name = NAMES[matrix]
        if heads and lay.heads > 1:
            if len(heads) == lay.heads:
                name += " of every head"
            else:
                name += f" of head{'s' if len(heads) > 1 else ''} {numbers_text(heads)}"
        out.append(f"{name}: {text}")
        k += 1
    return out


def describe(lay: Layout, matrix: str, selected: np.ndarray) -> str:
    """One matrix's share of a cell set in words: "rows 1..3", "row 2 and key 2"."""
    rows, cols = selected.shape
    exists = lay.mask if matrix in ("scaled_scores", "weights") else np.ones((rows, cols), bool)
    if np.array_equal(selected, exists):
        return "all" if rows > 1 or cols > 1 else "its cell"
    whole_rows = np.flatnonzero((selected | ~exists).all(axis=1) & selected.any(axis=1))
    whole_cols = np.flatnonzero((selected | ~exists).all(axis=0) & selected.any(axis=0))
    rebuilt = np.zeros_like(selected)
    rebuilt[whole_rows] |= exists[whole_rows]
    # columns the whole rows do not already cover
    whole_cols = whole_cols[(selected & ~rebuilt)[:, whole_cols].any(axis=0)]
    rebuilt[:, whole_cols] |= exists[:, whole_cols]
    if not np.array_equal(rebuilt, selected):
        used_rows = np.flatnonzero(selected.any(axis=1))
        count = int(selected.sum())
        return f"{count} cell{'s' if count > 1 else ''} in rows {numbers_text(used_rows)}"
    parts = []
    if whole_rows.size:
        plural = "s" if whole_rows.size > 1 else ""
        parts.append("the bias" if rows == 1 else f"row{plural} {numbers_text(whole_rows)}")
    if whole_cols.size and rows > 1:
        plural = "s" if whole_cols.size > 1 else ""
        if matrix in SCORE_MATRICES:
            parts.append(f"key{plural} {numbers_text(whole_cols)}")
        else:
            parts.append(f"column{plural} {col_list(lay, matrix, whole_cols)}")
    elif whole_cols.size:  # a bias
        plural = "s" if whole_cols.size > 1 else ""
        parts = [f"column{plural} {col_list(lay, matrix, whole_cols)}"]
    return " and ".join(parts)


def col_list(lay: Layout, matrix: str, cols: np.ndarray) -> str:
    labels = [col_label(lay, matrix, int(c)) for c in cols]
    if len(labels) <= 4:
        return ", ".join(labels)
    return f"{labels[0]}..{labels[-1]}" if cols[-1] - cols[0] + 1 == len(cols) else f"{len(labels)}"


def describe_cells(preset: Preset, result: AttentionResult, cells: CellSet) -> list[str]:
    """A cell set as one line per matrix, in pipeline order."""
    lay = check_cell(preset, result, CellRef("inputs", None, 0, 0))
    return describe_matrices(
        lay, [(m, h, cells.mask_of(m, h, lay.shape(m))) for m, h in cells.matrices()]
    )


def describe_difference(lay: Layout, full: CellSet, direct: CellSet) -> list[str]:
    """The cells of `full` that are not in `direct`, one line per matrix."""
    items = []
    for m, h in full.matrices():
        extra = full.mask_of(m, h, lay.shape(m)) & ~direct.mask_of(m, h, lay.shape(m))
        if extra.any():
            items.append((m, h, extra))
    return describe_matrices(lay, items)


__all__ = [
    "CELL_NAMES",
    "NAMES",
    "cell_label",
    "cell_name",
    "col_label",
    "column_label",
    "describe",
    "describe_cells",
    "describe_difference",
    "describe_matrices",
    "format_number",
    "head_words",
    "numbers_text",
    "row_label",
    "value_of",
]
