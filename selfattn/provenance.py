"""Where a number comes from and what it feeds: dependency sets between cells.

`depends_on(preset, result, cell)` names the input cells (X, source X, W_Q, W_K,
W_V, W_O and the biases) a result cell is computed from; `feeds(preset, result,
cell)` names the result cells (Q, K, V, raw and scaled scores, weights, context,
output) an input cell reaches. The two are exact inverses of each other.

The dependence is structural (which cells enter the formula), with one rule on
top: a cell the masks hold constant depends on nothing. A masked scaled score is
-inf and a masked weight 0 whatever the numbers; a fully masked query's weights
and context are 0 (and its output is b_O alone); a query row with a single
visible key has weight exactly 1 there, so its weights depend on nothing and its
context is that key's value row. The exact partial derivatives are in
`selfattn.gradient`.

The softmax couples every visible key of a row: weight[i, j] = exp(l_ij) / Σ_k
exp(l_ik), so it changes when any visible key k of row i changes, not only key j.
Each answer therefore comes in two sizes:

- `direct`: what the cell's own formula reads. For weight[i, j] of head h that is
  query row i (X row i, the head's W_Q columns, b_Q) and key row j (source row j,
  the key/value head's W_K columns, b_K) -- the cells a view outlines;
- `full`: `direct` plus what reaches the cell only through the row's softmax
  normaliser (the other visible keys' source rows for a weight).

Only weights have a normaliser part: a context cell reads every visible key's
weight and value row directly, and so does an output cell. Cells are
`explain.CellRef`s with 0-based indices like the arrays: Q, K, V and output keep
head None and full column indices; scores, scaled scores, weights and context
carry the head and head-local columns; a bias is a one-row matrix (row 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .attention import AttentionResult
from .explain import CellRef
from .preset import Preset

INPUT_MATRICES = (
    "inputs",
    "source_inputs",
    "w_query",
    "w_key",
    "w_value",
    "w_output",
    "b_query",
    "b_key",
    "b_value",
    "b_output",
)
RESULT_MATRICES = ("q", "k", "v", "scores", "scaled_scores", "weights", "context", "output")
HEAD_MATRICES = ("scores", "scaled_scores", "weights", "context")
SCORE_MATRICES = ("scores", "scaled_scores", "weights")  # (H, n, m), where the mask applies
BIASES = ("b_query", "b_key", "b_value", "b_output")


@dataclass(frozen=True)
class Block:
    """A rectangle of cells of one matrix (of one head, for per-head matrices).

    visible_only keeps only the cells the attention mask leaves visible (for
    scores-shaped matrices): a masked scaled score or weight is a constant.
    """

    matrix: str
    head: int | None
    rows: range
    cols: range
    visible_only: bool = False


class CellSet:
    """A set of cells stored as blocks (whole rows and columns stay compact)."""

    def __init__(self, blocks: Iterable[Block], mask: np.ndarray) -> None:
        self._mask = mask  # (n, m) True where key j is visible to query i
        kept = []
        for b in blocks:
            if not (len(b.rows) and len(b.cols)):
                continue
            if b.visible_only and not self._visible(b).any():
                continue
            kept.append(b)
        self.blocks: tuple[Block, ...] = tuple(kept)

    def _visible(self, b: Block) -> np.ndarray:
        return self._mask[b.rows.start : b.rows.stop, b.cols.start : b.cols.stop]

    def __bool__(self) -> bool:
        return bool(self.blocks)

    def __iter__(self) -> Iterator[CellRef]:
        return iter(sorted(self.cells(), key=_cell_order))

    def __len__(self) -> int:
        return len(self.cells())

    def __contains__(self, cell: object) -> bool:
        if not isinstance(cell, CellRef):
            return False
        return any(
            b.matrix == cell.matrix
            and b.head == cell.head
            and cell.row in b.rows
            and cell.col in b.cols
            and (not b.visible_only or bool(self._mask[cell.row, cell.col]))
            for b in self.blocks
        )

    def cells(self) -> frozenset[CellRef]:
        """Every cell, one CellRef each (for small sets: explanations and tests)."""
        out: set[CellRef] = set()
        for b in self.blocks:
            for r in b.rows:
                for c in b.cols:
                    if not b.visible_only or self._mask[r, c]:
                        out.add(CellRef(b.matrix, b.head, r, c))
        return frozenset(out)

    def matrices(self) -> list[tuple[str, int | None]]:
        """The (matrix, head) pairs that have cells in the set, in pipeline order."""
        seen = {(b.matrix, b.head) for b in self.blocks}
        return sorted(seen, key=lambda mh: (_MATRIX_ORDER[mh[0]], -1 if mh[1] is None else mh[1]))

    def mask_of(self, matrix: str, head: int | None, shape: tuple[int, int]) -> np.ndarray:
        """A boolean (rows, cols) array, True at this set's cells of one matrix (for outlines).

        Biases are one-row matrices: pass shape (1, width).
        """
        out = np.zeros(shape, dtype=bool)
        for b in self.blocks:
            if b.matrix != matrix or b.head != head:
                continue
            rows = slice(b.rows.start, b.rows.stop)
            cols = slice(b.cols.start, b.cols.stop)
            if b.visible_only:
                out[rows, cols] |= self._visible(b)
            else:
                out[rows, cols] = True
        return out


_MATRIX_ORDER = {name: i for i, name in enumerate(INPUT_MATRICES + RESULT_MATRICES)}


def _cell_order(c: CellRef) -> tuple[int, int, int, int]:
    return (_MATRIX_ORDER[c.matrix], -1 if c.head is None else c.head, c.row, c.col)


@dataclass(frozen=True)
class Provenance:
    """The answer for one cell: `direct` cells and `full` (= direct + through the softmax)."""

    cell: CellRef
    direct: CellSet
    full: CellSet

    def normaliser_only(self) -> frozenset[CellRef]:
        """The cells linked to this one only through a softmax row's normaliser."""
        return self.full.cells() - self.direct.cells()


# The layer's shape, as the dependency rules need it ---------------------------------


@dataclass(frozen=True)
class _Layout:
    n: int
    m: int
    d_model: int
    heads: int
    kv_heads: int
    d_k: int
    d_v: int
    d_out: int
    has_w_output: bool
    biases: frozenset[str]
    source: str  # "source_inputs" for cross-attention, else "inputs"
    mask: np.ndarray  # (n, m)
    alive: np.ndarray  # (n,) the query sees at least one key
    soft: np.ndarray  # (n,) the query sees at least two keys: its weights vary
    rope: bool  # keys are rotated by position (then b_K no longer shifts a whole row)

    @property
    def group(self) -> int:
        return self.heads // self.kv_heads

    def kv_head(self, h: int) -> int:
        return h // self.group

    def q_cols(self, h: int) -> range:
        return range(h * self.d_k, (h + 1) * self.d_k)

    def k_cols(self, g: int) -> range:
        return range(g * self.d_k, (g + 1) * self.d_k)

    def v_cols(self, g: int) -> range:
        return range(g * self.d_v, (g + 1) * self.d_v)

    def out_cols(self, h: int, cols: range) -> range:
        """Output columns that head h's context columns `cols` reach."""
        if self.has_w_output:
            return range(self.d_out)
        return range(h * self.d_v + cols.start, h * self.d_v + cols.stop)

    def shape(self, matrix: str) -> tuple[int, int]:
        """(rows, cols) of a matrix as cells address it (per-head ones: one head)."""
        widths = {
            "inputs": (self.n, self.d_model),
            "source_inputs": (self.m, self.d_model),
            "w_query": (self.d_model, self.heads * self.d_k),
            "w_key": (self.d_model, self.kv_heads * self.d_k),
            "w_value": (self.d_model, self.kv_heads * self.d_v),
            "w_output": (self.heads * self.d_v, self.d_out),
            "b_query": (1, self.heads * self.d_k),
            "b_key": (1, self.kv_heads * self.d_k),
            "b_value": (1, self.kv_heads * self.d_v),
            "b_output": (1, self.d_out),
            "q": (self.n, self.heads * self.d_k),
            "k": (self.m, self.kv_heads * self.d_k),
            "v": (self.m, self.kv_heads * self.d_v),
            "scores": (self.n, self.m),
            "scaled_scores": (self.n, self.m),
            "weights": (self.n, self.m),
            "context": (self.n, self.d_v),
            "output": (self.n, self.d_out),
        }
        return widths[matrix]

    def present(self, matrix: str) -> bool:
        if matrix == "source_inputs":
            return self.source == "source_inputs"
        if matrix == "w_output":
            return self.has_w_output
        if matrix in BIASES:
            return matrix in self.biases
        return True


def layout(preset: Preset, result: AttentionResult) -> _Layout:
    """The shapes and masks the rules read (kv_heads = heads without grouped heads)."""
    mask = np.asarray(result.mask, dtype=bool)
    visible = mask.sum(axis=1)
    return _Layout(
        n=result.n_queries,
        m=result.n_keys,
        d_model=preset.d_model,
        heads=result.heads,
        kv_heads=int(getattr(result, "kv_heads", result.heads)),
        d_k=result.d_k,
        d_v=result.d_v,
        d_out=result.output.shape[1],
        has_w_output=preset.w_output is not None,
        biases=frozenset(b for b in BIASES if getattr(preset, b) is not None),
        source="inputs" if preset.source_inputs is None else "source_inputs",
        mask=mask,
        alive=visible >= 1,
        soft=visible >= 2,
        rope=getattr(result, "k_rot", None) is not None,
    )


def runs(selected: np.ndarray) -> list[range]:
    """The runs of consecutive True entries of a boolean vector, as ranges."""
    idx = np.flatnonzero(selected)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = idx[np.concatenate(([0], breaks + 1))]
    stops = idx[np.concatenate((breaks, [idx.size - 1]))] + 1
    return [range(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def check_cell(preset: Preset, result: AttentionResult, cell: CellRef) -> _Layout:
    """The layout, after checking that `cell` names an existing cell (IndexError/ValueError)."""
    lay = layout(preset, result)
    if cell.matrix not in _MATRIX_ORDER:
        raise ValueError(
            f"unknown matrix {cell.matrix!r}; expected one of "
            f"{', '.join(INPUT_MATRICES + RESULT_MATRICES)}"
        )
    if not lay.present(cell.matrix):
        raise ValueError(f"{cell.matrix} is not part of this preset")
    if cell.matrix in HEAD_MATRICES:
        if cell.head is None or not 0 <= cell.head < lay.heads:
            raise IndexError(f"head {cell.head} out of range: the result has {lay.heads} head(s)")
    elif cell.head is not None:
        raise ValueError(f"{cell.matrix} is not a per-head matrix: its cells have head None")
    rows, cols = lay.shape(cell.matrix)
    if not (0 <= cell.row < rows and 0 <= cell.col < cols):
        raise IndexError(
            f"cell ({cell.row}, {cell.col}) out of range for {cell.matrix} of shape {rows} x {cols}"
        )
    return lay


# Input side of each projection ---------------------------------------------------


def _all(size: int) -> list[range]:
    return [range(size)]


def _query_inputs(lay: _Layout, rows: list[range], cols: range) -> list[Block]:
    """What Q's `cols` of the query `rows` are made of: X rows, W_Q columns, b_Q."""
    out = [Block("inputs", None, r, range(lay.d_model)) for r in rows]
    out.append(Block("w_query", None, range(lay.d_model), cols))
    if "b_query" in lay.biases:
        out.append(Block("b_query", None, range(1), cols))
    return out


def _key_inputs(lay: _Layout, rows: list[range], cols: range, softmax: bool = False) -> list[Block]:
    """What K's `cols` of the key `rows` are made of; `softmax`: as seen by the weights.

    b_K adds q_i · b_K to every logit of row i alike, and a softmax ignores a shift
    of its whole row: without RoPE the weights (so context and output) never see b_K.
    """
    out = [Block(lay.source, None, r, range(lay.d_model)) for r in rows]
    out.append(Block("w_key", None, range(lay.d_model), cols))
    if "b_key" in lay.biases and (lay.rope or not softmax):
        out.append(Block("b_key", None, range(1), cols))
    return out


def _value_inputs(lay: _Layout, rows: list[range], cols: range) -> list[Block]:
    out = [Block(lay.source, None, r, range(lay.d_model)) for r in rows]
    out.append(Block("w_value", None, range(lay.d_model), cols))
    if "b_value" in lay.biases:
        out.append(Block("b_value", None, range(1), cols))
    return out


def _context_inputs(lay: _Layout, h: int, i: int, cols: range) -> list[Block]:
    """Inputs of head h's context cells (i, cols): the row's weights and the value rows."""
    if not lay.alive[i]:
        return []  # fully masked: the context is 0
    g = lay.kv_head(h)
    keys = runs(lay.mask[i])
    v_cols = range(g * lay.d_v + cols.start, g * lay.d_v + cols.stop)
    out = _value_inputs(lay, keys, v_cols)
    if lay.soft[i]:  # with one visible key its weight is 1 whatever the numbers
        out += _query_inputs(lay, [range(i, i + 1)], lay.q_cols(h))
        out += _key_inputs(lay, keys, lay.k_cols(g), softmax=True)
    return out


def depends_on(preset: Preset, result: AttentionResult, cell: CellRef) -> Provenance:
    """The input cells `cell` (a result cell) is computed from; see the module docstring."""
    lay = check_cell(preset, result, cell)
    if cell.matrix in INPUT_MATRICES:
        raise ValueError(f"{cell.matrix} is an input: ask `feeds` what it affects")
    i, c = cell.row, cell.col
    one = range(i, i + 1)
    col = range(c, c + 1)
    direct: list[Block] = []
    extra: list[Block] = []
    if cell.matrix == "q":
        direct = _query_inputs(lay, [one], col)
    elif cell.matrix == "k":
        direct = _key_inputs(lay, [one], col)
    elif cell.matrix == "v":
        direct = _value_inputs(lay, [one], col)
    elif cell.matrix in SCORE_MATRICES:
        h = int(cell.head or 0)
        g = lay.kv_head(h)
        constant = cell.matrix != "scores" and not lay.mask[i, c]
        if cell.matrix == "weights" and not lay.soft[i]:
            constant = True
        if not constant:
            direct = _query_inputs(lay, [one], lay.q_cols(h))
            weights = cell.matrix == "weights"
            direct += _key_inputs(lay, [range(c, c + 1)], lay.k_cols(g), softmax=weights)
        if cell.matrix == "weights" and not constant:
            extra = [Block(lay.source, None, r, range(lay.d_model)) for r in runs(lay.mask[i])]
    elif cell.matrix == "context":
        direct = _context_inputs(lay, int(cell.head or 0), i, col)
    else:  # output
        if lay.has_w_output:
            if lay.alive[i]:
                for h in range(lay.heads):
                    direct += _context_inputs(lay, h, i, range(lay.d_v))
                direct.append(Block("w_output", None, range(lay.heads * lay.d_v), col))
        else:
            h, cc = divmod(c, lay.d_v)
            direct = _context_inputs(lay, h, i, range(cc, cc + 1))
        if "b_output" in lay.biases:
            direct.append(Block("b_output", None, range(1), col))
    return Provenance(cell, CellSet(direct, lay.mask), CellSet(direct + extra, lay.mask))


# Forward: what an input cell reaches ----------------------------------------------


def _after_queries(lay: _Layout, rows: np.ndarray, heads: Iterable[int]) -> list[Block]:
    """Result cells reached from the query rows `rows` (bool, n) of `heads`."""
    out: list[Block] = []
    all_keys = range(lay.m)
    for h in heads:
        out += [Block("scores", h, r, all_keys) for r in runs(rows)]
        out += [Block("scaled_scores", h, r, all_keys, True) for r in runs(rows)]
        varying = runs(rows & lay.soft)
        out += [Block("weights", h, r, all_keys, True) for r in varying]
        out += [Block("context", h, r, range(lay.d_v)) for r in varying]
        out += [Block("output", None, r, lay.out_cols(h, range(lay.d_v))) for r in varying]
    return out


def _after_keys(
    lay: _Layout, keys: np.ndarray, kv_heads: Iterable[int], key_bias: bool = False
) -> tuple[list[Block], list[Block]]:
    """(direct, through the normaliser) result cells reached from key rows `keys` (bool, m).

    `key_bias`: reached from b_K, whose shift of whole rows the softmax ignores without RoPE.
    """
    direct: list[Block] = []
    extra: list[Block] = []
    all_queries = range(lay.n)
    seen_by = (lay.mask[:, keys].any(axis=1)) & lay.soft  # queries whose weights move
    for g in kv_heads:
        for h in range(g * lay.group, (g + 1) * lay.group):
            direct += [Block("scores", h, all_queries, r) for r in runs(keys)]
            direct += [Block("scaled_scores", h, all_queries, r, True) for r in runs(keys)]
            if key_bias and not lay.rope:
                continue
            for r in runs(keys):
                direct += [Block("weights", h, q, r, True) for q in runs(lay.soft)]
            extra += [Block("weights", h, q, range(lay.m), True) for q in runs(seen_by)]
            direct += [Block("context", h, q, range(lay.d_v)) for q in runs(seen_by)]
            direct += [
                Block("output", None, q, lay.out_cols(h, range(lay.d_v))) for q in runs(seen_by)
            ]
    return direct, extra


def _after_values(lay: _Layout, keys: np.ndarray, v_cols: range) -> list[Block]:
    """Result cells reached from V's columns `v_cols` of the key rows `keys` (bool, m)."""
    out: list[Block] = []
    reached = lay.mask[:, keys].any(axis=1) & lay.alive
    for g in range(lay.kv_heads):
        own = range(max(v_cols.start, g * lay.d_v), min(v_cols.stop, (g + 1) * lay.d_v))
        if not len(own):
            continue
        local = range(own.start - g * lay.d_v, own.stop - g * lay.d_v)
        for h in range(g * lay.group, (g + 1) * lay.group):
            out += [Block("context", h, q, local) for q in runs(reached)]
            out += [Block("output", None, q, lay.out_cols(h, local)) for q in runs(reached)]
    return out


def feeds(preset: Preset, result: AttentionResult, cell: CellRef) -> Provenance:
    """The result cells an input cell (X, source X, a weight or bias cell) reaches."""
    lay = check_cell(preset, result, cell)
    if cell.matrix not in INPUT_MATRICES:
        raise ValueError(f"{cell.matrix} is a result: ask `depends_on` where it comes from")
    r, c = cell.row, cell.col
    col = range(c, c + 1)
    direct: list[Block] = []
    extra: list[Block] = []
    every_query = np.ones(lay.n, dtype=bool)
    every_key = np.ones(lay.m, dtype=bool)
    query_row = np.zeros(lay.n, dtype=bool)
    key_row = np.zeros(lay.m, dtype=bool)
    if cell.matrix == "inputs":
        query_row[r] = True
        direct.append(Block("q", None, range(r, r + 1), range(lay.heads * lay.d_k)))
        direct += _after_queries(lay, query_row, range(lay.heads))
    if cell.matrix == lay.source and cell.matrix in ("inputs", "source_inputs"):
        key_row[r] = True
        direct.append(Block("k", None, range(r, r + 1), range(lay.kv_heads * lay.d_k)))
        direct.append(Block("v", None, range(r, r + 1), range(lay.kv_heads * lay.d_v)))
        key_direct, key_extra = _after_keys(lay, key_row, range(lay.kv_heads))
        direct += key_direct + _after_values(lay, key_row, range(lay.kv_heads * lay.d_v))
        extra += key_extra
    elif cell.matrix in ("w_query", "b_query"):
        direct.append(Block("q", None, range(lay.n), col))
        direct += _after_queries(lay, every_query, [c // lay.d_k])
    elif cell.matrix in ("w_key", "b_key"):
        direct.append(Block("k", None, range(lay.m), col))
        key_direct, key_extra = _after_keys(
            lay, every_key, [c // lay.d_k], key_bias=cell.matrix == "b_key"
        )
        direct += key_direct
        extra += key_extra
    elif cell.matrix in ("w_value", "b_value"):
        direct.append(Block("v", None, range(lay.m), col))
        direct += _after_values(lay, every_key, col)
    elif cell.matrix == "w_output":
        direct += [Block("output", None, q, col) for q in runs(lay.alive)]
    elif cell.matrix == "b_output":
        direct.append(Block("output", None, range(lay.n), col))
    return Provenance(cell, CellSet(direct, lay.mask), CellSet(direct + extra, lay.mask))


__all__ = [
    "BIASES",
    "HEAD_MATRICES",
    "INPUT_MATRICES",
    "RESULT_MATRICES",
    "Block",
    "CellSet",
    "Provenance",
    "check_cell",
    "depends_on",
    "feeds",
    "layout",
    "runs",
]
