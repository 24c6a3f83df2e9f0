"""Scaled dot-product self-attention in numpy, keeping every intermediate.

The semantics are the project's public contract (DESIGN.md, "Semantics"):

    Q = X W_Q + b_Q        K = Xs W_K + b_K        V = Xs W_V + b_V
    S_h = Q_h K_h^T                        raw scores        (n, m)
    L_h = S_h / (scale * T), masked = -inf scaled scores      (n, m)
    A_h = softmax(L_h) row-wise            weights           (n, m)
    C_h = A_h V_h                          context           (n, d_v)
    output = concat_h(C_h) W_O + b_O       (or concat_h(C_h) without W_O)

Head h owns the contiguous column block h*d_k .. (h+1)*d_k-1 of Q and K, as in
torch.nn.MultiheadAttention.

Modern attention (each off by default; off means the formulas above, bit for bit):
kv_heads G < H shares key/value head g = h // (H/G) between query heads (repeat_kv);
rope rotates each head's q and k rows by their positions (selfattn.rope) before
S_h = rot(Q_h) rot(K_g)^T; window w hides keys at or beyond w positions away.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np

from .buffers import ResultBuffers
from .masks import _mask_arrays, build_mask, masked_softmax, window_mask
from .rope import Rope, check_positions, check_rope, rope_angles, rotate_in_place

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
    k: np.ndarray  # (m, G*d_k), G = kv_heads
    v: np.ndarray  # (m, G*d_v)
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
    q_rot: np.ndarray | None  # (n, H*d_k) q after RoPE, None when RoPE is off
    k_rot: np.ndarray | None  # (m, G*d_k) k after RoPE
    kv_heads: int  # G: key/value heads (== heads for plain multi-head attention)
    positions: np.ndarray  # (n,) int64 query positions (RoPE angles, window)
    key_positions: np.ndarray  # (m,) int64 key positions

    # The one vocabulary of a result's matrices (export, explain, the engine and views).
    PER_HEAD_FIELDS = ("scores", "scaled_scores", "weights", "context")  # (H, n, .)
    WHOLE_FIELDS = ("q", "k", "v", "output")  # (rows, columns), all heads side by side
    ROTATED_FIELDS = ("q_rot", "k_rot")  # like q and k, present only with RoPE (else None)
    # Every matrix field in the order files and tables list them, with its name in
    # file names, CSV and the window (DESIGN.md "Command line").
    MATRIX_NAMES = MappingProxyType(
        {
            "q": "query",
            "k": "key",
            "v": "value",
            "q_rot": "query_rotated",
            "k_rot": "key_rotated",
            "scores": "scores",
            "scaled_scores": "scaled_scores",
            "weights": "weights",
            "context": "context",
            "output": "output",
        }
    )

    def matrices(self) -> list[tuple[str, np.ndarray]]:
        """(field, array) of every matrix this result holds, in MATRIX_NAMES order."""
        present = ((f, getattr(self, f)) for f in self.MATRIX_NAMES)
        return [(f, a) for f, a in present if a is not None]

    @property
    def n_queries(self) -> int:
        return int(self.q.shape[0])

    @property
    def n_keys(self) -> int:
        return int(self.k.shape[0])

    @property
    def group_size(self) -> int:
        """How many query heads share one key/value head (1 without grouping)."""
        return self.heads // self.kv_heads

    def kv_head(self, head: int) -> int:
        """The key/value head that query head `head` reads (0-based, repeat_kv)."""
        return head // self.group_size

    @property
    def has_rope(self) -> bool:
        return self.q_rot is not None

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


# The fast path ---------------------------------------------------------------
# Softmax is memory-bound: the naive form makes ~8 full passes over n*m cells
# (divide, where, max, subtract, exp, sum, divide) and allocates 4 temporaries.
# Here each block of rows (sized to stay in the L2 cache) goes through every
# step while it is cache-resident, writing straight into the result arrays, and
# large matrices split their blocks over two threads (numpy releases the GIL in
# its loops). The arithmetic is the naive formula's, operation for operation, so
# float64 results are bit-identical to it.

_BLOCK_BYTES = 256 * 1024  # one row block of one array; several stay in L2
_THREAD_MIN_CELLS = 1 << 20  # below ~1M cells a second thread costs more than it saves
_THREADS = max(1, min(2, os.cpu_count() or 1))
_FLUSH32 = np.float32(2.0**-103)
_executor_obj: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _executor_obj
    with _executor_lock:
        if _executor_obj is None:
            _executor_obj = ThreadPoolExecutor(
                max_workers=_THREADS - 1, thread_name_prefix="selfattn"
            )
        return _executor_obj


def _fresh(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return np.empty(shape, dtype=dtype)


def _softmax_rows(
    scores: np.ndarray,
    divisor: np.floating,
    hidden: np.ndarray | None,
    fully_masked: np.ndarray,
    scaled: np.ndarray,
    weights: np.ndarray,
    blocks: list[tuple[int, int, int]],
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Scaled scores and weights for the given (head, row0, row1) blocks, in place.

    `stats`, if given, receives each row's max logit and exp-sum, (H, n) each:
    what an incremental edit needs to update a row without a full pass.
    """
    fast32 = weights.dtype == np.float32
    ones = np.ones(scores.shape[-1], dtype=weights.dtype)  # float32 row sums as a BLAS dot
    flush_below = math.log(np.finfo(np.float32).tiny * scores.shape[-1]) + 1.0
    for h, r0, r1 in blocks:
        s = scores[h, r0:r1]
        lg = scaled[h, r0:r1]
        w = weights[h, r0:r1]
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            np.divide(s, divisor, out=lg)
        if hidden is not None:
            np.copyto(lg, -np.inf, where=hidden[r0:r1])
        row_max = lg.max(axis=1, keepdims=True)
        dead = fully_masked[r0:r1]
        if hidden is not None and dead.any():
            row_max[dead] = 0.0  # exp(-inf - 0) == 0: the row becomes zeros, not NaN
        if not np.isfinite(row_max).all():
            raise _overflow_error(scores, divisor, h, r0, row_max)
        np.subtract(lg, row_max, out=w)
        np.exp(w, out=w)
        # A BLAS dot with ones sums 4x faster than the pairwise reduction;
        # float32 only, so float64 keeps the naive formula's exact bits.
        total = np.matmul(w, ones)[:, None] if fast32 else w.sum(axis=1, keepdims=True)
        if hidden is not None and dead.any():
            total[dead] = 1.0
        np.divide(w, total, out=w)
        if stats is not None:
            stats[0][h, r0:r1] = row_max[:, 0]
            stats[1][h, r0:r1] = total.ravel()
        # A weight exp(l - max) / sum is normal when l - max >= log(tiny * m):
        # skip the flush when the block's logit spread stays within that.
        if fast32 and np.min(lg) - np.max(row_max) < flush_below:
            # Flush subnormal weights to 0 (or up to tiny): they slow every later
            # pass. Adding then subtracting 2**-103 rounds to a multiple of
            # float32's smallest normal; weights >= 2**-78 come back unchanged.
            np.add(w, _FLUSH32, out=w)
            np.subtract(w, _FLUSH32, out=w)


# Each intermediate in words a learner reads, the row's name, and what to make smaller.
_WHAT = {
    "q": ("the queries (inputs × W_Q + b_Q)", "query", "the inputs or W_Q"),
    "k": ("the keys ({x} × W_K + b_K)", "key", "the {x} or W_K"),
    "v": ("the values ({x} × W_V + b_V)", "key", "the {x} or W_V"),
    "context": ("the context (weights × values)", "query", "the values"),
    "output": ("the output (context × W_O + b_O)", "query", "W_O or the values"),
}


def _check_finite(cross: bool = False, **arrays: np.ndarray) -> None:
    """Refuse overflow (O(n*d) per array): results never hold inf or NaN made from finite input.

    The message names the matrix, its first bad row and the dtype, e.g. "the values
    (source inputs × W_V + b_V) overflow float32 in row 2 (key 2): the source inputs or
    W_V are too large".
    """
    x = "source inputs" if cross else "inputs"
    for name, a in arrays.items():
        finite = np.isfinite(a)
        if not finite.all():
            what, row_name, cause = (t.format(x=x) for t in _WHAT[name])
            bad = np.argwhere(~finite)[0]  # (row, column) or (head, row, column)
            row = int(bad[-2]) + 1
            head = f", head {int(bad[0]) + 1}" if a.ndim == 3 and a.shape[0] > 1 else ""
            verb = "overflows" if name in ("context", "output") else "overflow"
            raise AttentionError(
                f"{what} {verb} {a.dtype.name} in row {row} ({row_name} {row}{head}): "
                f"{cause} are too large"
            )


def _check_scores_finite(q_h: np.ndarray, k_h: np.ndarray, scores: np.ndarray) -> None:
    """Refuse raw scores that overflowed to +-inf (a -inf would pass for a masked cell).

    Cauchy-Schwarz settles it in O((n + m) d): |q.k| <= |q| |k|; only when that bound
    reaches the dtype's range is the (H, n, m) matrix itself scanned.
    """
    big = float(np.finfo(scores.dtype).max)
    with np.errstate(over="ignore", invalid="ignore"):
        q_norm = float(np.max(np.sqrt(np.einsum("hnd,hnd->hn", q_h, q_h, dtype=np.float64))))
        k_norm = float(np.max(np.sqrt(np.einsum("hmd,hmd->hm", k_h, k_h, dtype=np.float64))))
        bound = q_norm * k_norm
    if math.isfinite(bound) and bound < 0.5 * big:
        return
    bad = ~np.isfinite(scores)
    if bad.any():
        h, i, _ = (int(c[0]) for c in np.nonzero(bad))
        head = f" in head {h + 1}" if scores.shape[0] > 1 else ""
        raise AttentionError(
            f"raw scores of query {i + 1} overflow {scores.dtype.name} "
            f"(inputs or weights too large){head}"
        )


def _overflow_error(
    scores: np.ndarray, divisor: np.floating, h: int, r0: int, row_max: np.ndarray
) -> AttentionError:
    """A message for logits that overflowed: softmax of inf would be NaN."""
    i = r0 + int(np.flatnonzero(~np.isfinite(row_max.ravel()))[0])
    dtype = scores.dtype.name
    if not np.isfinite(scores[h, i]).all():
        why = f"raw scores of query {i + 1} overflow {dtype} (inputs or weights too large)"
    else:
        why = f"scaled scores of query {i + 1} overflow {dtype}: divisor {float(divisor)!r} is too small (raise the temperature or the scale)"
    head = f" in head {h + 1}" if scores.shape[0] > 1 else ""
    return AttentionError(why + head)


def _softmax_into(
    scores: np.ndarray,
    divisor: np.floating,
    hidden: np.ndarray | None,
    fully_masked: np.ndarray,
    scaled: np.ndarray,
    weights: np.ndarray,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Fill `scaled` (masked logits) and `weights` (softmax rows) from (H, n, m) scores."""
    heads, n, m = scores.shape
    rows = max(1, _BLOCK_BYTES // max(1, m * scores.itemsize))
    blocks = [(h, r0, min(n, r0 + rows)) for h in range(heads) for r0 in range(0, n, rows)]
    args = (scores, divisor, hidden, fully_masked, scaled, weights)
    if _THREADS < 2 or heads * n * m < _THREAD_MIN_CELLS or len(blocks) < 2:
        _softmax_rows(*args, blocks, stats)
        return
    half = len(blocks) // 2
    other = _executor().submit(_softmax_rows, *args, blocks[half:], stats)
    _softmax_rows(*args, blocks[:half], stats)
    other.result()


def attention(
    x: object,
    w_q: object,
    w_k: object,
    w_v: object,
    *,
    heads: int = 1,
    w_o: object | None = None,
    biases: Biases | dict[str, object] | None = None,
    source: object | None = None,
    scale: ScaleSpec = "sqrt_dk",
    temperature: float = 1.0,
    causal: bool = False,
    key_mask: Sequence[bool] | None = None,
    dtype: str = "float64",
    kv_heads: int | None = None,
    rope: Rope | None = None,
    window: int | None = None,
    positions: Sequence[int] | None = None,
    key_positions: Sequence[int] | None = None,
    buffers: ResultBuffers | None = None,
) -> AttentionResult:
    """Compute multi-head scaled dot-product attention, keeping every step.

    kv_heads (None = heads), rope and window follow DESIGN.md's "Semantics".
    `positions` are the queries' (default rope.positions, else 0..n-1);
    `key_positions` the keys' (default: the query positions in self-attention,
    0..m-1 with a source). `buffers` lends the (H, n, m) arrays (see ResultBuffers);
    without it every result gets arrays of its own.
    """
    return _attention(
        x,
        w_q,
        w_k,
        w_v,
        heads=heads,
        w_o=w_o,
        biases=biases,
        source=source,
        scale=scale,
        temperature=temperature,
        causal=causal,
        key_mask=key_mask,
        dtype=dtype,
        kv_heads=kv_heads,
        rope=rope,
        window=window,
        positions=positions,
        key_positions=key_positions,
        buffers=buffers,
    )


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise AttentionError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _position_array(name: str, given: Sequence[int] | None, count: int, what: str) -> np.ndarray:
    """Positions as a read-only int64 array: the given ones (checked) or 0..count-1."""
    if given is None:
        out = np.arange(count, dtype=np.int64)
    else:
        given = list(given)
        problem = check_positions(given, count, what)
        if problem is not None:
            raise AttentionError(f"{name}{'' if problem.startswith('[') else ' '}{problem}")
        out = np.array(given, dtype=np.int64)
    out.flags.writeable = False
    return out


def rotate_heads(
    x: np.ndarray, heads: int, d_k: int, rope: Rope, inv_freq: np.ndarray, positions: np.ndarray
) -> np.ndarray:
    """Each head's block of x (rows, heads*d_k) rotated by its row's position: a new array."""
    out = np.array(x)
    angles = rope_angles(positions, inv_freq)[:, None, :]  # (rows, 1, r/2): same for every head
    rotate_in_place(out.reshape(x.shape[0], heads, d_k), angles, rope.style)
    return out


# Overflow is detected explicitly (_check_finite raises AttentionError naming the step),
# so numpy's own RuntimeWarnings would only be noise before that one clear message.
@np.errstate(over="ignore", invalid="ignore")
def _attention(
    x: object,
    w_q: object,
    w_k: object,
    w_v: object,
    *,
    heads: int = 1,
    w_o: object | None = None,
    biases: Biases | dict[str, object] | None = None,
    source: object | None = None,
    scale: ScaleSpec = "sqrt_dk",
    temperature: float = 1.0,
    causal: bool = False,
    key_mask: Sequence[bool] | None = None,
    dtype: str = "float64",
    kv_heads: int | None = None,
    rope: Rope | None = None,
    window: int | None = None,
    positions: Sequence[int] | None = None,
    key_positions: Sequence[int] | None = None,
    buffers: ResultBuffers | None = None,
    stats: list[np.ndarray] | None = None,
) -> AttentionResult:
    """`attention`; if `stats` is a list, appends per-row (max, exp-sum), (H, n) each."""
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
    heads = _positive_int("heads", heads)
    groups = heads if kv_heads is None else _positive_int("kv_heads", kv_heads)
    if heads % groups:
        raise AttentionError(f"kv_heads={groups} must divide heads={heads}")
    if w_q.shape[1] % heads or w_q.shape[1] == 0:
        raise AttentionError(f"heads={heads} must divide the query width {w_q.shape[1]}")
    d_k = w_q.shape[1] // heads
    if w_k.shape[1] != groups * d_k:
        if groups == heads:
            raise AttentionError(f"W_Q has {w_q.shape[1]} columns but W_K has {w_k.shape[1]}")
        raise AttentionError(
            f"W_K has {w_k.shape[1]} columns, expected kv_heads*d_k={groups}*{d_k}={groups * d_k}"
        )
    if w_v.shape[1] % groups or w_v.shape[1] == 0:
        if groups == heads:
            raise AttentionError(
                f"heads={heads} must divide the query/key width {w_q.shape[1]} "
                f"and the value width {w_v.shape[1]}"
            )
        raise AttentionError(f"kv_heads={groups} must divide the value width {w_v.shape[1]}")
    d_v = w_v.shape[1] // groups
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
    if window is not None:
        window = _positive_int("window", window)
    inv_freq = None
    if rope is not None:
        problem = check_rope(rope, d_k)
        if problem is not None:
            raise AttentionError(f"rope {problem}")
        inv_freq = rope.frequencies(d_k)
        if positions is None:
            positions = rope.positions
    q_pos = _position_array("positions", positions, n, "query")
    if key_positions is None and source is None:
        k_pos = q_pos
    else:
        k_pos = _position_array("key positions", key_positions, m, "key")
    if isinstance(biases, dict):
        biases = Biases(**biases)  # type: ignore[arg-type]
    biases = biases or Biases()
    w_o_arr = None
    if w_o is not None:
        w_o_arr = _as_matrix("W_O", w_o, dt)
        if w_o_arr.shape[0] != heads * d_v:
            raise AttentionError(f"W_O has {w_o_arr.shape[0]} rows, expected H*d_v={heads * d_v}")
    b_q = None if biases.query is None else _as_vector("b_Q", biases.query, heads * d_k, dt)
    b_k = None if biases.key is None else _as_vector("b_K", biases.key, groups * d_k, dt)
    b_v = None if biases.value is None else _as_vector("b_V", biases.value, groups * d_v, dt)
    d_out = w_o_arr.shape[1] if w_o_arr is not None else heads * d_v
    b_o = None if biases.output is None else _as_vector("b_O", biases.output, d_out, dt)

    q = x @ w_q  # (n, H*d_k)
    k = xs @ w_k  # (m, G*d_k)
    v = xs @ w_v  # (m, G*d_v)
    if b_q is not None:
        q += b_q
    if b_k is not None:
        k += b_k
    if b_v is not None:
        v += b_v
    _check_finite(source is not None, q=q, k=k, v=v)

    q_rot = k_rot = None
    q_used, k_used = q, k  # what the scores multiply: q and k, rotated with RoPE
    if rope is not None and inv_freq is not None:
        q_rot = q_used = rotate_heads(q, heads, d_k, rope, inv_freq, q_pos)
        k_rot = k_used = rotate_heads(k, groups, d_k, rope, inv_freq, k_pos)
    q_h = q_used.reshape(n, heads, d_k).transpose(1, 0, 2)  # (H, n, d_k)
    k_h = k_used.reshape(m, groups, d_k).transpose(1, 0, 2)  # (G, m, d_k)
    v_h = v.reshape(m, groups, d_v).transpose(1, 0, 2)  # (G, m, d_v)
    if groups != heads:  # repeat_kv: query head h reads key/value head h // (H/G)
        k_h = np.repeat(k_h, heads // groups, axis=0)  # (H, m, d_k)
        v_h = np.repeat(v_h, heads // groups, axis=0)  # (H, m, d_v)
    take = buffers.take if buffers is not None else _fresh
    scores = np.matmul(q_h, k_h.transpose(0, 2, 1), out=take((heads, n, m), dt))  # (H, n, m)
    _check_scores_finite(q_h, k_h, scores)

    divisor = scale_value * temperature
    visible, hidden = _mask_arrays(n, m, causal, key_mask, window, q_pos, k_pos)
    fully_masked: np.ndarray = (
        np.asarray(~visible.any(axis=1)) if hidden is not None else np.zeros(n, dtype=bool)
    )
    scaled = take((heads, n, m), dt)
    weights = take((heads, n, m), dt)
    row_stats = None
    if stats is not None:
        row_stats = (np.empty((heads, n), dtype=dt), np.empty((heads, n), dtype=dt))
        stats.extend(row_stats)
    _softmax_into(scores, dt.type(divisor), hidden, fully_masked, scaled, weights, row_stats)
    context = np.matmul(weights, v_h)  # (H, n, d_v)

    concat = context.transpose(1, 0, 2).reshape(n, heads * d_v)
    output = concat @ w_o_arr if w_o_arr is not None else concat.copy()
    if b_o is not None:
        output += b_o
    _check_finite(context=context, output=output)

    for a in (q, k, v, scores, scaled, weights, context, output, visible, fully_masked):
        a.flags.writeable = False
    for r in (q_rot, k_rot):
        if r is not None:
            r.flags.writeable = False
    result = AttentionResult(
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
        q_rot=q_rot,
        k_rot=k_rot,
        kv_heads=groups,
        positions=q_pos,
        key_positions=k_pos,
    )
    if buffers is not None:
        buffers.claim(result)
    return result


__all__ = [
    "DTYPES",
    "AttentionError",
    "AttentionResult",
    "Biases",
    "ResultBuffers",
    "ScaleSpec",
    "attention",
    "build_mask",
    "masked_softmax",
    "resolve_scale",
    "rotate_heads",
    "window_mask",
]
