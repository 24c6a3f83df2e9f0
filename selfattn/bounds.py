"""Cheap checks that settle, before computing, whether a preset can be computed at all.

A program that computes large layers in the background wants to refuse a bad edit at
once, while the person still looks at it, not seconds later from a worker thread.
`check_shapes` refuses what `compute` would refuse for its shapes (O(1)); `surely_finite`
proves from norm bounds (O(n d + d^2), no matrix product) that no step can overflow.
When it cannot prove it, a caller computes the preset once to find out.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np

from .attention import AttentionError, ScaleSpec, resolve_scale
from .preset import ARRAY_FIELDS, Preset

# Head room below the dtype's largest number: the bounds are sums of a few terms and the
# softmax and output steps add a little on top; 64 keeps every intermediate finite.
_HEADROOM = 64.0


def check_shapes(preset: Preset) -> None:
    """Raise AttentionError when the heads do not fit the weights (what options can break)."""
    o = preset.options
    if o.heads < 1:
        raise AttentionError("heads must be at least 1")
    kv_heads = preset.kv_heads  # grouped key/value heads (preset version 2), else the heads
    if o.heads % kv_heads:
        raise AttentionError(f"{kv_heads} key/value heads do not divide the {o.heads} heads")
    width_q = preset.w_query.shape[1]
    width_k = preset.w_key.shape[1]
    width_v = preset.w_value.shape[1]
    if width_q % o.heads or width_v % kv_heads:
        raise AttentionError(
            f"{o.heads} heads do not divide the query/key width {width_q} "
            f"and the value width {width_v}"
        )
    if width_k * o.heads != width_q * kv_heads:
        raise AttentionError(
            f"W_K has {width_k} columns; {kv_heads} key head(s) of d_k = {width_q // o.heads} "
            f"need {width_q // o.heads * kv_heads}"
        )
    if o.key_mask is not None and len(o.key_mask) != preset.n_keys:
        raise AttentionError(f"the key mask has {len(o.key_mask)} entries for {preset.n_keys} keys")


def _row_norm_bound(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> float:
    """An upper bound of every row norm of x @ w + b (Cauchy-Schwarz), in O(n d + d^2)."""
    rows = math.sqrt(float(np.max(np.einsum("ij,ij->i", x, x))))
    bound = rows * float(np.linalg.norm(w))
    return bound + (float(np.linalg.norm(b)) if b is not None else 0.0)


def surely_finite(preset: Preset) -> bool:
    """True when no step of the computation can overflow the preset's dtype.

    Every number must fit the dtype first (1e40 is no float32). Scores are at most
    |q|·|k|, logits that over scale x temperature, the context a convex mix of values
    (at most max |v|), the output at most |concat|·|W_O| + |b_O| with |concat| <=
    sqrt(heads)·max |v|. Rotations (RoPE) keep norms. False means "not sure", not
    "overflows".
    """
    o = preset.options
    limit = float(np.finfo(o.dtype).max) / _HEADROOM
    arrays = [getattr(preset, name) for name in ARRAY_FIELDS]
    largest = max(float(np.max(np.abs(a), initial=0.0)) for a in arrays if a is not None)
    if not largest < limit:
        return False
    xs = preset.inputs if preset.source_inputs is None else preset.source_inputs
    with np.errstate(over="ignore", invalid="ignore"):
        q = _row_norm_bound(preset.inputs, preset.w_query, preset.b_query)
        k = _row_norm_bound(xs, preset.w_key, preset.b_key)
        v = _row_norm_bound(xs, preset.w_value, preset.b_value)
        scale = resolve_scale(cast(ScaleSpec, o.scale), max(preset.d_k, 1))
        logits = q * k / (scale * o.temperature)
        out = v * math.sqrt(o.heads)
        if preset.w_output is not None:
            out = out * float(np.linalg.norm(preset.w_output))
        if preset.b_output is not None:
            out += float(np.linalg.norm(preset.b_output))
    bounds = (q, k, v, q * k, logits, out)
    return all(math.isfinite(b) and b < limit for b in bounds)
