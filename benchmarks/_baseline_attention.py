"""The original straightforward attention (before optimisation), kept for before/after runs:

    python benchmarks/_worker.py core --impl benchmarks/_baseline_attention.py ...

A frozen copy of selfattn/attention.py as first committed; not used by the product.


The semantics are the project's public contract (DESIGN.md, "Semantics"):

    Q = X W_Q + b_Q        K = Xs W_K + b_K        V = Xs W_V + b_V
    S_h = Q_h K_h^T                        raw scores        (n, m)
    L_h = S_h / (scale * T), masked = -inf scaled scores      (n, m)
    A_h = softmax(L_h) row-wise            weights           (n, m)
    C_h = A_h V_h                          context           (n, d_v)
    output = concat_h(C_h) W_O + b_O       (or concat_h(C_h) without W_O)

Head h owns the contiguous column block h*d_k .. (h+1)*d_k-1 of Q and K, as in
torch.nn.MultiheadAttention.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

ScaleSpec = Literal["sqrt_dk", "none"] | float
DTYPES = ("float64", "float32")


class AttentionError(ValueError):
    """Raised for arguments that do not describe a valid attention layer."""


@dataclass(frozen=True)
class Biases:
    """Optional bias vectors; None means zero."""

    query: np.ndarray | None = None
    key: np.ndarray | None = None
    value: np.ndarray | None = None
    output: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class AttentionResult:
    """Every intermediate of one attention computation (arrays are read-only)."""

    q: np.ndarray  # (n, H*d_k)
    k: np.ndarray  # (m, H*d_k)
    v: np.ndarray  # (m, H*d_v)
    scores: np.ndarray  # (H, n, m) raw Q_h K_h^T
    scaled_scores: np.ndarray  # (H, n, m) logits, masked cells -inf
    weights: np.ndarray  # (H, n, m) softmax rows
    context: np.ndarray  # (H, n, d_v)
    output: np.ndarray  # (n, d_out)
    mask: np.ndarray  # (n, m) True where a key is visible to a query
    fully_masked: np.ndarray  # (n,) True where a query sees no key
    heads: int
    d_k: int
    d_v: int
    divisor: float  # scale * temperature, what the raw scores are divided by
    scale: float
    temperature: float
    dtype: str

    @property
    def n_queries(self) -> int:
        return self.q.shape[0]

    @property
    def n_keys(self) -> int:
        return self.k.shape[0]

    @property
    def concat_context(self) -> np.ndarray:
        """Heads' contexts side by side, (n, H*d_v): the input of W_O."""
        return np.concatenate(list(self.context), axis=1)


def _as_matrix(name: str, a: object, dtype: np.dtype) -> np.ndarray:
    try:
        arr = np.asarray(a, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise AttentionError(f"{name} is not a numeric matrix: {exc}") from None
    if arr.ndim != 2:
        raise AttentionError(f"{name} must be a 2-D matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise AttentionError(f"{name} contains a non-finite value")
    return arr


def _as_vector(name: str, a: object, length: int, dtype: np.dtype) -> np.ndarray:
    try:
        arr = np.asarray(a, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise AttentionError(f"{name} is not a numeric vector: {exc}") from None
    if arr.shape != (length,):
        raise AttentionError(f"{name} must have length {length}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise AttentionError(f"{name} contains a non-finite value")
    return arr


def resolve_scale(scale: ScaleSpec, d_k: int) -> float:
    """The number the raw scores are divided by before temperature."""
    if isinstance(scale, str):
        if scale == "sqrt_dk":
            return math.sqrt(d_k)
        if scale == "none":
            return 1.0
        raise AttentionError(f"scale must be 'sqrt_dk', 'none' or a positive number, got {scale!r}")
    if isinstance(scale, bool) or not isinstance(scale, int | float | np.floating | np.integer):
        raise AttentionError(f"scale must be 'sqrt_dk', 'none' or a positive number, got {scale!r}")
    value = float(scale)
    if not (math.isfinite(value) and value > 0):
        raise AttentionError(f"scale must be a positive finite number, got {scale!r}")
    return value


def build_mask(n: int, m: int, causal: bool, key_mask: Sequence[bool] | None) -> np.ndarray:
    """(n, m) boolean: True where query i may attend to key j."""
    visible = np.ones((n, m), dtype=bool)
    if causal:
        visible &= np.tri(n, m, dtype=bool)  # key j <= query i
    if key_mask is not None:
        visible &= np.asarray(key_mask, dtype=bool)[None, :]
    return visible


def masked_softmax(logits: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (..., n, m) logits where masked cells are already -inf.

    Max-subtracted, so logits of +-1e4 give exact one-hot rows; a row with no
    visible key gives zeros instead of NaN.
    """
    any_visible = visible.any(axis=-1)  # (n,)
    row_max = np.max(logits, axis=-1, keepdims=True)
    row_max = np.where(any_visible[..., None], row_max, 0.0)
    e = np.exp(logits - row_max)  # exp(-inf) == 0 for masked cells
    total = e.sum(axis=-1, keepdims=True)
    total = np.where(total > 0, total, 1.0)
    return e / total


def attention(
    x: object,
    w_q: object,
    w_k: object,
    w_v: object,
    *,
    heads: int = 1,
    w_o: object | None = None,
    biases: Biases | dict | None = None,
    source: object | None = None,
    scale: ScaleSpec = "sqrt_dk",
    temperature: float = 1.0,
    causal: bool = False,
    key_mask: Sequence[bool] | None = None,
    dtype: str = "float64",
) -> AttentionResult:
    """Compute multi-head scaled dot-product attention, keeping every step."""
    if dtype not in DTYPES:
        raise AttentionError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    dt = np.dtype(dtype)
    x = _as_matrix("inputs", x, dt)
    xs = x if source is None else _as_matrix("source inputs", source, dt)
    w_q = _as_matrix("W_Q", w_q, dt)
    w_k = _as_matrix("W_K", w_k, dt)
    w_v = _as_matrix("W_V", w_v, dt)
    n, d_model = x.shape
    m = xs.shape[0]
    if n == 0 or m == 0 or d_model == 0:
        raise AttentionError(f"need at least one token and one dimension, got inputs {x.shape}")
    if xs.shape[1] != d_model:
        raise AttentionError(f"source inputs have width {xs.shape[1]}, expected d_model={d_model}")
    for name, w in (("W_Q", w_q), ("W_K", w_k), ("W_V", w_v)):
        if w.shape[0] != d_model:
            raise AttentionError(f"{name} has {w.shape[0]} rows, expected d_model={d_model}")
    if w_q.shape[1] != w_k.shape[1]:
        raise AttentionError(f"W_Q has {w_q.shape[1]} columns but W_K has {w_k.shape[1]}")
    if isinstance(heads, bool) or not isinstance(heads, int | np.integer) or heads < 1:
        raise AttentionError(f"heads must be a positive integer, got {heads!r}")
    heads = int(heads)
    if w_q.shape[1] % heads or w_v.shape[1] % heads or w_q.shape[1] == 0 or w_v.shape[1] == 0:
        raise AttentionError(
            f"heads={heads} must divide the query/key width {w_q.shape[1]} "
            f"and the value width {w_v.shape[1]}"
        )
    d_k = w_q.shape[1] // heads
    d_v = w_v.shape[1] // heads
    scale_value = resolve_scale(scale, d_k)
    if isinstance(temperature, bool):
        raise AttentionError(f"temperature must be a positive number, got {temperature!r}")
    try:
        temperature = float(temperature)
    except (TypeError, ValueError):
        raise AttentionError(
            f"temperature must be a positive number, got {temperature!r}"
        ) from None
    if not (math.isfinite(temperature) and temperature > 0):
        raise AttentionError(f"temperature must be a positive finite number, got {temperature!r}")
    if key_mask is not None:
        key_mask = list(key_mask)
        if len(key_mask) != m:
            raise AttentionError(
                f"key_mask has {len(key_mask)} entries, expected {m} (one per key)"
            )
    if isinstance(biases, dict):
        biases = Biases(**biases)
    biases = biases or Biases()
    w_o_arr = None
    if w_o is not None:
        w_o_arr = _as_matrix("W_O", w_o, dt)
        if w_o_arr.shape[0] != heads * d_v:
            raise AttentionError(f"W_O has {w_o_arr.shape[0]} rows, expected H*d_v={heads * d_v}")
    b_q = None if biases.query is None else _as_vector("b_Q", biases.query, heads * d_k, dt)
    b_k = None if biases.key is None else _as_vector("b_K", biases.key, heads * d_k, dt)
    b_v = None if biases.value is None else _as_vector("b_V", biases.value, heads * d_v, dt)
    d_out = w_o_arr.shape[1] if w_o_arr is not None else heads * d_v
    b_o = None if biases.output is None else _as_vector("b_O", biases.output, d_out, dt)

    q = x @ w_q  # (n, H*d_k)
    k = xs @ w_k  # (m, H*d_k)
    v = xs @ w_v  # (m, H*d_v)
    if b_q is not None:
        q += b_q
    if b_k is not None:
        k += b_k
    if b_v is not None:
        v += b_v

    q_h = q.reshape(n, heads, d_k).transpose(1, 0, 2)  # (H, n, d_k)
    k_h = k.reshape(m, heads, d_k).transpose(1, 0, 2)  # (H, m, d_k)
    v_h = v.reshape(m, heads, d_v).transpose(1, 0, 2)  # (H, m, d_v)
    scores = q_h @ k_h.transpose(0, 2, 1)  # (H, n, m)

    divisor = scale_value * temperature
    visible = build_mask(n, m, causal, key_mask)
    with np.errstate(over="ignore"):
        # Python float divisor keeps float32 scores in float32 (NumPy 2 promotion).
        scaled = scores / dt.type(divisor)
    scaled = np.where(visible[None], scaled, -np.inf).astype(dt, copy=False)
    weights = masked_softmax(scaled, visible).astype(dt, copy=False)
    context = weights @ v_h  # (H, n, d_v)

    concat = context.transpose(1, 0, 2).reshape(n, heads * d_v)
    output = concat @ w_o_arr if w_o_arr is not None else concat.copy()
    if b_o is not None:
        output += b_o

    arrays = (q, k, v, scores, scaled, weights, context, output, visible)
    for a in arrays:
        a.flags.writeable = False
    fully_masked = ~visible.any(axis=1)
    fully_masked.flags.writeable = False
    return AttentionResult(
        q=q,
        k=k,
        v=v,
        scores=scores,
        scaled_scores=scaled,
        weights=weights,
        context=context,
        output=output,
        mask=visible,
        fully_masked=fully_masked,
        heads=heads,
        d_k=d_k,
        d_v=d_v,
        divisor=divisor,
        scale=scale_value,
        temperature=temperature,
        dtype=dtype,
    )
