"""The exact partial derivatives of one result cell with respect to every input cell.

Reverse-mode differentiation of the attention layer written out by hand in numpy
(no autograd library): seed the chosen cell with 1 and carry it back through
each step to X, the source X, W_Q, W_K, W_V, W_O and the biases.

    score  s_ij = q_i · k_j                      ∂s/∂q_i = k_j,  ∂s/∂k_j = q_i
    logit  l_ij = s_ij / (scale · T)             masked logits are constants (-inf)
    weight a_ij = exp(l_ij) / Σ_k exp(l_ik)      ∂a_ij/∂l_ik = a_ij (δ_jk − a_ik)
    context c_i = Σ_j a_ij v_j                   ∂c/∂a_ij = v_j,  ∂c/∂v_j = a_ij
    output o_i = concat_h(c_i) W_O + b_O

With RoPE the scores multiply the rotated q and k: a gradient on them turns back by
the opposite angle (a rotation's transpose). With grouped heads (kv_heads G < H) the
query heads sharing a key/value head add their gradients on it.

Every result cell of query i depends on query row i alone, so the backward pass
works on that row (vectors of length m per head) and on the keys and values as
whole matrices: a few matrix-vector products, milliseconds at 64 x 64 and still
linear in the number of tokens for thousands. The numbers are float64 whatever
the preset's dtype (a float32 preset is recomputed in float64 first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attention import AttentionResult
from .explain import CellRef
from .preset import Preset, compute
from .provenance import HEAD_MATRICES, INPUT_MATRICES, Layout, check_cell
from .rope import apply_rope, rope_angles


@dataclass(frozen=True, eq=False)
class Gradient:
    """∂ cell / ∂ input for every input cell: one array per input, in the input's shape."""

    cell: CellRef
    value: float  # the cell's own (float64) value
    wrt: dict[str, np.ndarray]  # input matrix name -> array shaped like it (biases 1-D)

    def at(self, cell: CellRef) -> float:
        """The partial derivative with respect to one input cell (a bias cell has row 0)."""
        if cell.matrix not in self.wrt:
            raise ValueError(f"{cell.matrix} is not an input of this preset")
        a = self.wrt[cell.matrix]
        if a.ndim == 1:
            if cell.row != 0:
                raise IndexError(f"{cell.matrix} is a bias: its only row is 0")
            return float(a[cell.col])
        return float(a[cell.row, cell.col])


def float64_result(preset: Preset, result: AttentionResult | None) -> AttentionResult:
    """`result` if it is float64, else the preset recomputed in float64."""
    if result is not None and result.dtype == "float64":
        return result
    return compute(preset, dtype="float64")


@dataclass
class _Back:
    """Gradients gathered so far on Q row i, on K and V (None: nothing reached them)."""

    d_q_row: np.ndarray | None = None  # (H*d_k,)
    d_k: np.ndarray | None = None  # (m, G*d_k)
    d_v: np.ndarray | None = None  # (m, G*d_v)
    d_concat_row: np.ndarray | None = None  # (H*d_v,) gradient on concat_h(context)[i]
    d_w_output_col: np.ndarray | None = None  # (H*d_v,) gradient on W_O[:, c]


def _heads_view(a: np.ndarray, groups: int, d: int) -> np.ndarray:
    """(rows, groups*d) -> (groups, rows, d)."""
    return a.reshape(a.shape[0], groups, d).transpose(1, 0, 2)


def _from_heads(a: np.ndarray) -> np.ndarray:
    """(groups, rows, d) -> (rows, groups*d)."""
    return a.transpose(1, 0, 2).reshape(a.shape[1], a.shape[0] * a.shape[2])


def _sum_groups(per_head: np.ndarray, lay: Layout) -> np.ndarray:
    """(H, rows, d) per query head -> (G, rows, d) per key/value head (heads of a group add)."""
    grouped = per_head.reshape(lay.kv_heads, lay.group, *per_head.shape[1:])
    return np.asarray(grouped.sum(axis=1))


def _unrotate(
    preset: Preset, r: AttentionResult, d_rotated: np.ndarray, positions: np.ndarray
) -> np.ndarray:
    """A gradient on rotated rows (rows, groups*d_k) carried back through RoPE.

    Each pair turns by an angle a: the rotation's transpose turns by -a.
    """
    rope = preset.options.rope
    if rope is None or r.q_rot is None:
        return d_rotated
    rows, width = d_rotated.shape
    groups = width // r.d_k
    angles = -rope_angles(positions, rope.frequencies(r.d_k))[:, None, :]  # (rows, 1, r/2)
    back = apply_rope(d_rotated.reshape(rows, groups, r.d_k), angles, rope.style)
    return np.asarray(back.reshape(rows, width))


def _back_scores(
    preset: Preset, r: AttentionResult, lay: Layout, i: int, d_scores: np.ndarray, back: _Back
) -> None:
    """Carry a gradient on the raw scores of row i, (H, m), back to Q row i and to K."""
    kv = np.arange(lay.heads) // lay.group
    q_used = r.q if r.q_rot is None else r.q_rot  # what the scores multiply
    k_used = r.k if r.k_rot is None else r.k_rot
    q_i = np.asarray(q_used[i], dtype=np.float64).reshape(lay.heads, lay.d_k)  # (H, d_k)
    k_h = _heads_view(np.asarray(k_used, dtype=np.float64), lay.kv_heads, lay.d_k)[kv]
    d_q_i = np.einsum("hm,hmd->hd", d_scores, k_h)  # (H, d_k)
    d_k_h = d_scores[:, :, None] * q_i[:, None, :]  # (H, m, d_k)
    d_k = _from_heads(_sum_groups(d_k_h, lay))  # (m, G*d_k)
    d_q_row = _unrotate(preset, r, d_q_i.reshape(1, -1), r.positions[i : i + 1])[0]
    d_k = _unrotate(preset, r, d_k, r.key_positions)
    back.d_q_row = d_q_row if back.d_q_row is None else back.d_q_row + d_q_row
    back.d_k = d_k if back.d_k is None else back.d_k + d_k


def _softmax_back(weights_row: np.ndarray, d_weights_row: np.ndarray) -> np.ndarray:
    """∂/∂logits of a softmax row (..., m) given ∂/∂weights: a ⊙ (g − a·g)."""
    dot = np.sum(weights_row * d_weights_row, axis=-1, keepdims=True)
    return np.asarray(weights_row * (d_weights_row - dot))


def _back_context(
    preset: Preset, r: AttentionResult, lay: Layout, i: int, d_context_row: np.ndarray, back: _Back
) -> None:
    """Carry a gradient on the context row i of every head, (H, d_v), to the weights and V."""
    kv = np.arange(lay.heads) // lay.group
    a_i = np.asarray(r.weights[:, i, :], dtype=np.float64)  # (H, m)
    v_h = _heads_view(np.asarray(r.v, dtype=np.float64), lay.kv_heads, lay.d_v)[kv]  # (H, m, d_v)
    d_weights = np.einsum("hmd,hd->hm", v_h, d_context_row)  # (H, m)
    d_v_h = a_i[:, :, None] * d_context_row[:, None, :]  # (H, m, d_v)
    d_v = _from_heads(_sum_groups(d_v_h, lay))
    back.d_v = d_v if back.d_v is None else back.d_v + d_v
    _back_scores(preset, r, lay, i, _softmax_back(a_i, d_weights) / r.divisor, back)


def _seed(preset: Preset, r: AttentionResult, lay: Layout, cell: CellRef) -> _Back:
    """The gradients on Q row i, K, V (and W_O's column) that the chosen cell starts from."""
    back = _Back()
    i, c = cell.row, cell.col
    h = 0 if cell.head is None else cell.head
    if cell.matrix == "q":
        back.d_q_row = np.zeros(lay.heads * lay.d_k)
        back.d_q_row[c] = 1.0
    elif cell.matrix == "k":
        back.d_k = np.zeros((lay.m, lay.kv_heads * lay.d_k))
        back.d_k[i, c] = 1.0
    elif cell.matrix == "v":
        back.d_v = np.zeros((lay.m, lay.kv_heads * lay.d_v))
        back.d_v[i, c] = 1.0
    elif cell.matrix == "q_rot":
        seed = np.zeros((1, lay.heads * lay.d_k))
        seed[0, c] = 1.0
        back.d_q_row = _unrotate(preset, r, seed, r.positions[i : i + 1])[0]
    elif cell.matrix == "k_rot":
        seed = np.zeros((lay.m, lay.kv_heads * lay.d_k))
        seed[i, c] = 1.0
        back.d_k = _unrotate(preset, r, seed, r.key_positions)
    elif cell.matrix in ("scores", "scaled_scores"):
        d_scores = np.zeros((lay.heads, lay.m))
        if cell.matrix == "scores":
            d_scores[h, c] = 1.0
        elif lay.mask[i, c]:  # a masked logit is the constant -inf
            d_scores[h, c] = 1.0 / r.divisor
        _back_scores(preset, r, lay, i, d_scores, back)
    elif cell.matrix == "weights":
        a_i = np.asarray(r.weights[h, i], dtype=np.float64)
        d_scores = np.zeros((lay.heads, lay.m))
        d_scores[h] = a_i[c] * (np.eye(1, lay.m, c)[0] - a_i) / r.divisor
        _back_scores(preset, r, lay, i, d_scores, back)
    elif cell.matrix == "context":
        d_context = np.zeros((lay.heads, lay.d_v))
        d_context[h, c] = 1.0
        _back_context(preset, r, lay, i, d_context, back)
    else:  # output
        if preset.w_output is not None:
            back.d_concat_row = np.array(preset.w_output[:, c], dtype=np.float64)
            back.d_w_output_col = np.asarray(r.context[:, i, :], dtype=np.float64).reshape(-1)
        else:
            back.d_concat_row = np.eye(1, lay.heads * lay.d_v, c)[0]
        _back_context(preset, r, lay, i, back.d_concat_row.reshape(lay.heads, lay.d_v), back)
    return back


def gradient(preset: Preset, cell: CellRef, result: AttentionResult | None = None) -> Gradient:
    """∂ cell / ∂ every input cell, for a result cell (Q, K, V, scores ... output).

    `result` is reused when it is float64 (the document's latest); otherwise the
    preset is recomputed in float64.
    """
    r = float64_result(preset, result)
    lay = check_cell(preset, r, cell)
    if cell.matrix in INPUT_MATRICES:
        raise ValueError(f"{cell.matrix} is an input; choose a result cell to differentiate")
    back = _seed(preset, r, lay, cell)
    x = np.asarray(preset.inputs, dtype=np.float64)
    xs = x if preset.source_inputs is None else np.asarray(preset.source_inputs, dtype=np.float64)
    wrt: dict[str, np.ndarray] = {
        name: np.zeros(np.shape(getattr(preset, name)))
        for name in INPUT_MATRICES
        if getattr(preset, name) is not None
    }
    i = cell.row
    if back.d_q_row is not None:
        wrt["inputs"][i] += preset.w_query @ back.d_q_row
        wrt["w_query"] += np.outer(x[i], back.d_q_row)
        if "b_query" in wrt:
            wrt["b_query"] += back.d_q_row
    for d, weight, bias in ((back.d_k, "w_key", "b_key"), (back.d_v, "w_value", "b_value")):
        if d is None:
            continue
        wrt[lay.source] += d @ getattr(preset, weight).T
        wrt[weight] += xs.T @ d
        if bias in wrt:
            wrt[bias] += d.sum(axis=0)
    if cell.matrix == "output":
        if back.d_w_output_col is not None:
            wrt["w_output"][:, cell.col] = back.d_w_output_col
        if "b_output" in wrt:
            wrt["b_output"][cell.col] = 1.0
    for a in wrt.values():
        a.flags.writeable = False
    return Gradient(cell=cell, value=_value(r, cell), wrt=wrt)


def _value(r: AttentionResult, cell: CellRef) -> float:
    array = getattr(r, cell.matrix)
    if cell.matrix in HEAD_MATRICES:
        return float(array[cell.head, cell.row, cell.col])
    return float(array[cell.row, cell.col])


__all__ = ["Gradient", "float64_result", "gradient"]
