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

Two exact invariances remove dependencies the formulas seem to have. b_K adds
q_i · b_K to every logit of row i alike, and a softmax ignores a shift of its whole
row, so the weights, context and output never depend on b_K -- unless RoPE turns
b_K by each key's position: then its rotated columns reach the weights of the rows
that see keys at two or more positions. And RoPE leaves a row at angle 0 (position
0) unrotated, so its rotated cell reads its own column only, not its partner.

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
`explain.CellRef`s with 0-based indices like the arrays: Q, K, V, the rotated
q_rot, k_rot (with RoPE) and output keep head None and full column indices;
scores, scaled scores, weights and context carry the head and head-local
columns; a bias is a one-row matrix (row 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .attention import AttentionResult
from .explain import CellRef
from .preset import Preset
from .preset_model import ARRAY_FIELDS
from .rope import pair_columns, rope_angles

INPUT_MATRICES = ARRAY_FIELDS  # every matrix a person can edit, biases included
RESULT_MATRICES = (
    "q",
    "k",
    "v",
    "q_rot",
    "k_rot",
    "scores",
    "scaled_scores",
    "weights",
    "context",
    "output",
)
ROTATED = ("q_rot", "k_rot")  # present only with RoPE
HEAD_MATRICES = ("scores", "scaled_scores", "weights", "context")
SCORE_MATRICES = ("scores", "scaled_scores", "weights")  # (H, n, m), where the mask applies
BIASES = ("b_query", "b_key", "b_value", "b_output")


def cell_ref(matrix: str, row: int, col: int, head: int = 0) -> CellRef:
    """A CellRef the way this module reads it: `head` kept for per-head matrices only
    (scores, scaled scores, weights, context), None for every other matrix."""
    return CellRef(matrix, head if matrix in HEAD_MATRICES else None, row, col)


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
class Layout:
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
    rope_dims: int  # r: rotated columns of each head (0 without RoPE)
    partner: np.ndarray  # (d_k,) the column each rotated column is paired with (itself if not)
    q_sin: np.ndarray  # (n, d_k) True where a query row's rotation mixes in the partner
    k_sin: np.ndarray  # (m, d_k) the same for key rows
    bias_rows: np.ndarray  # (n,) queries whose weights see b_K: RoPE and >= 2 key positions

    @property
    def rope(self) -> bool:
        return self.rope_dims > 0

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
            "q_rot": (self.n, self.heads * self.d_k),
            "k_rot": (self.m, self.kv_heads * self.d_k),
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
        if matrix in ROTATED:
            return self.rope
        return True

    def partner_of(self, col: int) -> int:
        """The Q/K column that RoPE pairs with `col` (itself if `col` is not rotated)."""
        return col - col % self.d_k + int(self.partner[col % self.d_k])

    def rotation_reads(self, matrix: str, row: int, col: int) -> list[range]:
        """The Q (or K) columns of `row` that rotated column `col` is made of."""
        sin = self.q_sin if matrix == "q_rot" else self.k_sin
        partner = self.partner_of(col)
        if partner == col or not sin[row, col % self.d_k]:
            return [range(col, col + 1)]
        return [
            range(min(col, partner), min(col, partner) + 1),
            range(max(col, partner), max(col, partner) + 1),
        ]


def layout(preset: Preset, result: AttentionResult) -> Layout:
    """The shapes and masks the rules read (kv_heads = heads without grouped heads)."""
    mask = np.asarray(result.mask, dtype=bool)
    visible = mask.sum(axis=1)
    d_k = result.d_k
    partner = np.arange(d_k)
    q_sin = np.zeros((result.n_queries, d_k), dtype=bool)
    k_sin = np.zeros((result.n_keys, d_k), dtype=bool)
    bias_rows = np.zeros(result.n_queries, dtype=bool)
    rope = preset.options.rope
    rope_dims = 0
    if rope is not None and result.q_rot is not None:
        rope_dims = rope.rotary_dims(d_k)
        first, second = pair_columns(rope_dims, rope.style)
        partner[first], partner[second] = second, first
        inv_freq = rope.frequencies(d_k)
        for sin, pos in ((q_sin, result.positions), (k_sin, result.key_positions)):
            # a row at angle 0 (position 0) is not rotated: it does not read its partner
            moved = np.sin(rope_angles(pos, inv_freq)) != 0  # (rows, r/2)
            sin[:, first] = moved
            sin[:, second] = moved
        key_pos = np.asarray(result.key_positions, dtype=np.float64)[None, :]
        highest = np.where(mask, key_pos, -np.inf).max(axis=1)
        lowest = np.where(mask, key_pos, np.inf).min(axis=1)
        bias_rows = highest > lowest
    return Layout(
        n=result.n_queries,
        m=result.n_keys,
        d_model=preset.d_model,
        heads=result.heads,
        kv_heads=result.kv_heads,
        d_k=result.d_k,
        d_v=result.d_v,
        d_out=result.output.shape[1],
        has_w_output=preset.w_output is not None,
        biases=frozenset(b for b in BIASES if getattr(preset, b) is not None),
        source="inputs" if preset.source_inputs is None else "source_inputs",
        mask=mask,
        alive=visible >= 1,
        soft=visible >= 2,
        rope_dims=rope_dims,
        partner=partner,
        q_sin=q_sin,
        k_sin=k_sin,
        bias_rows=bias_rows,
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


def check_cell(preset: Preset, result: AttentionResult, cell: CellRef) -> Layout:
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


def _query_inputs(lay: Layout, rows: list[range], cols: range) -> list[Block]:
    """What Q's `cols` of the query `rows` are made of: X rows, W_Q columns, b_Q."""
    out = [Block("inputs", None, r, range(lay.d_model)) for r in rows]
    out.append(Block("w_query", None, range(lay.d_model), cols))
    if "b_query" in lay.biases:
        out.append(Block("b_query", None, range(1), cols))
    return out


def _key_inputs(
    lay: Layout, rows: list[range], cols: range, weights_of: int | None = None
) -> list[Block]:
    """What K's `cols` of the key `rows` are made of; `weights_of`: as query i's weights see it.

    b_K adds q_i · b_K to every logit of row i alike, and a softmax ignores a shift of
    its whole row: the weights (so context and output) never see b_K -- unless RoPE
    turns b_K differently for keys at different positions, in its rotated columns.
    """
    out = [Block(lay.source, None, r, range(lay.d_model)) for r in rows]
    out.append(Block("w_key", None, range(lay.d_model), cols))
    if "b_key" not in lay.biases:
        return out
    if weights_of is None:
        out.append(Block("b_key", None, range(1), cols))
    elif lay.bias_rows[weights_of]:
        rotated = range(cols.start, cols.start + lay.rope_dims)
        out.append(Block("b_key", None, range(1), rotated))
    return out


def _value_inputs(lay: Layout, rows: list[range], cols: range) -> list[Block]:
    out = [Block(lay.source, None, r, range(lay.d_model)) for r in rows]
    out.append(Block("w_value", None, range(lay.d_model), cols))
    if "b_value" in lay.biases:
        out.append(Block("b_value", None, range(1), cols))
    return out


def _context_inputs(lay: Layout, h: int, i: int, cols: range) -> list[Block]:
    """Inputs of head h's context cells (i, cols): the row's weights and the value rows."""
    if not lay.alive[i]:
        return []  # fully masked: the context is 0
    g = lay.kv_head(h)
    keys = runs(lay.mask[i])
    v_cols = range(g * lay.d_v + cols.start, g * lay.d_v + cols.stop)
    out = _value_inputs(lay, keys, v_cols)
    if lay.soft[i]:  # with one visible key its weight is 1 whatever the numbers
        out += _query_inputs(lay, [range(i, i + 1)], lay.q_cols(h))
        out += _key_inputs(lay, keys, lay.k_cols(g), weights_of=i)
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
    elif cell.matrix == "q_rot":
        for cols in lay.rotation_reads("q_rot", i, c):
            direct += _query_inputs(lay, [one], cols)
    elif cell.matrix == "k_rot":
        for cols in lay.rotation_reads("k_rot", i, c):
            direct += _key_inputs(lay, [one], cols)
    elif cell.matrix in SCORE_MATRICES:
        h = int(cell.head or 0)
        g = lay.kv_head(h)
        constant = cell.matrix != "scores" and not lay.mask[i, c]
        if cell.matrix == "weights" and not lay.soft[i]:
            constant = True
        if not constant:
            direct = _query_inputs(lay, [one], lay.q_cols(h))
            weights_of = i if cell.matrix == "weights" else None
            direct += _key_inputs(lay, [range(c, c + 1)], lay.k_cols(g), weights_of)
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


def _after_queries(lay: Layout, rows: np.ndarray, heads: Iterable[int]) -> list[Block]:
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
    lay: Layout, keys: np.ndarray, kv_heads: Iterable[int], queries: np.ndarray | None = None
) -> tuple[list[Block], list[Block]]:
    """(direct, through the normaliser) result cells reached from key rows `keys` (bool, m).

    `queries` (bool, n): the query rows whose weights can see the change at all (b_K's:
    see _key_inputs); default every row.
    """
    direct: list[Block] = []
    extra: list[Block] = []
    all_queries = range(lay.n)
    moving = lay.soft if queries is None else lay.soft & queries  # rows whose weights vary
    seen_by = (lay.mask[:, keys].any(axis=1)) & moving  # ... and see one of the keys
    for g in kv_heads:
        for h in range(g * lay.group, (g + 1) * lay.group):
            direct += [Block("scores", h, all_queries, r) for r in runs(keys)]
            direct += [Block("scaled_scores", h, all_queries, r, True) for r in runs(keys)]
            for r in runs(keys):
                direct += [Block("weights", h, q, r, True) for q in runs(moving)]
            extra += [Block("weights", h, q, range(lay.m), True) for q in runs(seen_by)]
            direct += [Block("context", h, q, range(lay.d_v)) for q in runs(seen_by)]
            direct += [
                Block("output", None, q, lay.out_cols(h, range(lay.d_v))) for q in runs(seen_by)
            ]
    return direct, extra


def _after_values(lay: Layout, keys: np.ndarray, v_cols: range) -> list[Block]:
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


def _rotated_columns(lay: Layout, matrix: str, col: int) -> list[Block]:
    """The rotated cells Q's (or K's) column `col` reaches: its own, and its partner's in
    every row whose angle is not 0."""
    if not lay.rope:
        return []
    rows = lay.shape(matrix)[0]
    out = [Block(matrix, None, range(rows), range(col, col + 1))]
    partner = lay.partner_of(col)
    if partner != col:
        sin = lay.q_sin if matrix == "q_rot" else lay.k_sin
        out += [
            Block(matrix, None, q, range(partner, partner + 1)) for q in runs(sin[:, col % lay.d_k])
        ]
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
        if lay.rope:
            direct.append(Block("q_rot", None, range(r, r + 1), range(lay.heads * lay.d_k)))
        direct += _after_queries(lay, query_row, range(lay.heads))
    if cell.matrix == lay.source and cell.matrix in ("inputs", "source_inputs"):
        key_row[r] = True
        direct.append(Block("k", None, range(r, r + 1), range(lay.kv_heads * lay.d_k)))
        if lay.rope:
            direct.append(Block("k_rot", None, range(r, r + 1), range(lay.kv_heads * lay.d_k)))
        direct.append(Block("v", None, range(r, r + 1), range(lay.kv_heads * lay.d_v)))
        key_direct, key_extra = _after_keys(lay, key_row, range(lay.kv_heads))
        direct += key_direct + _after_values(lay, key_row, range(lay.kv_heads * lay.d_v))
        extra += key_extra
    elif cell.matrix in ("w_query", "b_query"):
        direct.append(Block("q", None, range(lay.n), col))
        direct += _rotated_columns(lay, "q_rot", c)
        direct += _after_queries(lay, every_query, [c // lay.d_k])
    elif cell.matrix in ("w_key", "b_key"):
        direct.append(Block("k", None, range(lay.m), col))
        direct += _rotated_columns(lay, "k_rot", c)
        queries = None
        if cell.matrix == "b_key":
            queries = lay.bias_rows if c % lay.d_k < lay.rope_dims else np.zeros(lay.n, bool)
        key_direct, key_extra = _after_keys(lay, every_key, [c // lay.d_k], queries)
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
    "Layout",
    "HEAD_MATRICES",
    "INPUT_MATRICES",
    "RESULT_MATRICES",
    "ROTATED",
    "Block",
    "CellSet",
    "Provenance",
    "cell_ref",
    "check_cell",
    "depends_on",
    "feeds",
    "layout",
    "runs",
]
