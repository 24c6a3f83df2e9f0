"""Pure edits of a Preset: cells, resizing, optional parts, fills. No Qt.

Every function returns a new Preset (presets are immutable) and keeps every
number that still fits; new cells are 0 unless said otherwise.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np

from .preset import ARRAY_FIELDS, MAX_TEXT_CHARS, Preset, PresetError, Rope, default_tokens

# Matrix keys shared by the document, the tables, undo commands and CSV import.
MATRIX_KEYS = ARRAY_FIELDS
BIAS_KEYS = ("b_query", "b_key", "b_value", "b_output")
MATRIX_TITLES = {
    "inputs": "X",
    "source_inputs": "Xs (source)",
    "w_query": "W_Q",
    "w_key": "W_K",
    "w_value": "W_V",
    "w_output": "W_O",
    "b_query": "b_Q",
    "b_key": "b_K",
    "b_value": "b_V",
    "b_output": "b_O",
}


def matrix_of(preset: Preset, key: str) -> np.ndarray | None:
    """The 2-D array behind a table (biases as one row), or None if the part is absent."""
    if key not in MATRIX_KEYS:
        raise KeyError(key)
    value: np.ndarray | None = getattr(preset, key)
    if value is None:
        return None
    return value.reshape(1, -1) if key in BIAS_KEYS else value


def with_block(preset: Preset, key: str, row: int, col: int, block: np.ndarray) -> Preset:
    """Replace the cells starting at (row, col) with `block` (2-D); refuses what does not fit."""
    current = matrix_of(preset, key)
    if current is None:
        raise PresetError(f"{key} is not part of this preset")
    block = np.asarray(block, dtype=np.float64)
    if block.ndim != 2:
        raise PresetError("a block of cells must be 2-D")
    rows, cols = block.shape
    if row < 0 or col < 0 or row + rows > current.shape[0] or col + cols > current.shape[1]:
        raise PresetError(
            f"a {rows} x {cols} block at row {row + 1}, column {col + 1} does not fit "
            f"the {current.shape[0]} x {current.shape[1]} matrix {MATRIX_TITLES[key]}"
        )
    if not np.all(np.isfinite(block)):
        raise PresetError("cells must be finite numbers")
    new = current.copy()
    new[row : row + rows, col : col + cols] = block
    if key in BIAS_KEYS:
        new = new.reshape(-1)
    return preset.replace(**{key: new})


def _fit(a: np.ndarray | None, shape: tuple[int, ...], fill: float = 0.0) -> np.ndarray:
    """`a` cut or padded (with `fill`) to `shape`, keeping the overlapping top-left block."""
    out = np.full(shape, fill, dtype=np.float64)
    if a is None:
        return out
    overlap = tuple(slice(0, min(s, t)) for s, t in zip(a.shape, shape, strict=True))
    out[overlap] = a[overlap]
    return out


def _fit_labels(labels: tuple[str, ...], n: int, prefix: str) -> tuple[str, ...]:
    defaults = default_tokens(n, prefix)
    return tuple(labels[:n]) + defaults[len(labels) : n]


def _fit_head_blocks(
    w: np.ndarray, rows: int, heads_old: int, d_old: int, heads: int, d: int
) -> np.ndarray:
    """Resize per-head column blocks so each head keeps its own numbers."""
    out = np.zeros((rows, heads * d))
    r = min(rows, w.shape[0])
    for h in range(min(heads, heads_old)):
        c = min(d, d_old)
        out[:r, h * d : h * d + c] = w[:r, h * d_old : h * d_old + c]
    return out


def _fit_head_vector(
    b: np.ndarray | None, heads_old: int, d_old: int, heads: int, d: int
) -> np.ndarray | None:
    if b is None:
        return None
    return _fit_head_blocks(b.reshape(1, -1), 1, heads_old, d_old, heads, d).reshape(-1)


def resized(
    preset: Preset,
    *,
    n_tokens: int | None = None,
    d_model: int | None = None,
    d_k: int | None = None,
    d_v: int | None = None,
    heads: int | None = None,
    n_source: int | None = None,
    d_out: int | None = None,
    kv_heads: int | None | Literal["keep"] = "keep",
) -> Preset:
    """A preset with new dimensions; every number whose position still exists is kept.

    d_k and d_v are per head: W_Q/W_K have heads*d_k columns, and each head's
    column block keeps its own numbers when heads or d_k change. With grouped
    heads W_K/W_V have kv_heads blocks instead; `kv_heads` None switches grouping
    off (one key/value head per query head), "keep" keeps the preset's setting.
    Positions given for RoPE/window follow the token count (new tokens continue
    counting from the last position).
    """
    o = preset.options
    n = preset.n_tokens if n_tokens is None else n_tokens
    dm = preset.d_model if d_model is None else d_model
    h_old, dk_old, dv_old = o.heads, preset.d_k, preset.d_v
    g_old = preset.kv_heads
    h = h_old if heads is None else heads
    dk = dk_old if d_k is None else d_k
    dv = dv_old if d_v is None else d_v
    kv = o.kv_heads if kv_heads == "keep" else kv_heads
    g = h if kv is None else kv
    for label, value in (
        ("tokens", n),
        ("d_model", dm),
        ("d_k", dk),
        ("d_v", dv),
        ("heads", h),
        ("kv_heads", g),
    ):
        if value < 1:
            raise PresetError(f"{label} must be at least 1, got {value}")
    if h % g:
        raise PresetError(f"kv_heads={g} must divide heads={h}")
    wq = _fit_head_blocks(
        _fit(preset.w_query, (dm, preset.w_query.shape[1])), dm, h_old, dk_old, h, dk
    )
    wk = _fit_head_blocks(_fit(preset.w_key, (dm, preset.w_key.shape[1])), dm, g_old, dk_old, g, dk)
    wv = _fit_head_blocks(
        _fit(preset.w_value, (dm, preset.w_value.shape[1])), dm, g_old, dv_old, g, dv
    )
    wo = preset.w_output
    if wo is not None:
        out_cols = wo.shape[1] if d_out is None else d_out
        # W_O rows are per-head blocks of d_v: fit its transpose like W_V.
        wo = _fit_head_blocks(wo.T, out_cols, h_old, dv_old, h, dv).T.copy()
    d_out_final = wo.shape[1] if wo is not None else h * dv
    x = _fit(preset.inputs, (n, dm))
    source = preset.source_inputs
    source_tokens = preset.source_tokens
    if source is not None:
        m = source.shape[0] if n_source is None else n_source
        if m < 1:
            raise PresetError(f"source tokens must be at least 1, got {m}")
        source = _fit(source, (m, dm))
        source_tokens = _fit_labels(preset.source_tokens or (), m, "s")
    m = n if source is None else source.shape[0]
    key_mask = o.key_mask
    if key_mask is not None:
        key_mask = tuple(key_mask[:m]) + (True,) * max(0, m - len(key_mask))
    b_o = preset.b_output
    if b_o is not None and wo is not None:
        b_o = _fit(b_o, (d_out_final,))
    elif b_o is not None:  # without W_O, b_O is added to concat(heads): one d_v block per head
        b_o = _fit_head_vector(b_o, h_old, dv_old, h, dv)
    rope = o.rope if dk == dk_old else _fit_rope(o.rope, dk)
    if rope is not None and rope.positions is not None:
        rope = replace(rope, positions=_fit_positions(rope.positions, n))
    source_positions = preset.source_positions
    if source_positions is not None and source is not None:
        source_positions = _fit_positions(source_positions, source.shape[0])
    return preset.replace(
        inputs=x,
        w_query=wq,
        w_key=wk,
        w_value=wv,
        w_output=wo,
        b_query=_fit_head_vector(preset.b_query, h_old, dk_old, h, dk),
        b_key=_fit_head_vector(preset.b_key, g_old, dk_old, g, dk),
        b_value=_fit_head_vector(preset.b_value, g_old, dv_old, g, dv),
        b_output=b_o,
        source_inputs=source,
        source_tokens=source_tokens,
        source_positions=source_positions,
        tokens=_fit_labels(preset.tokens, n, "t"),
        options=replace(o, heads=h, key_mask=key_mask, kv_heads=kv, rope=rope),
    )


def _fit_rope(rope: Rope | None, d_k: int) -> Rope | None:
    """RoPE for heads of d_k: rotate as many column pairs as still fit (none: off)."""
    if rope is None:
        return None
    dims = 2 * len(rope.inv_freq) if rope.inv_freq is not None else rope.dims or d_k
    if dims <= d_k and dims % 2 == 0:
        return rope
    fit = d_k - d_k % 2
    if fit < 2:
        return None
    inv = rope.inv_freq[: fit // 2] if rope.inv_freq is not None else None
    return replace(rope, dims=fit, inv_freq=inv)


def _fit_positions(positions: tuple[int, ...], count: int) -> tuple[int, ...]:
    """The first `count` positions; extra tokens continue from the last one (+1 each)."""
    kept = tuple(positions[:count])
    start = kept[-1] + 1 if kept else 0
    return kept + tuple(range(start, start + count - len(kept)))


def with_output_projection(preset: Preset, enabled: bool) -> Preset:
    """Add W_O (identity, so the output starts equal to the context) or drop it; b_O stays
    whenever the biases are on, resized to the new output width."""
    width = _concat_width(preset)
    if enabled == (preset.w_output is not None):
        return preset
    b_o = preset.b_output
    if b_o is not None and b_o.shape[0] != width:
        b_o = _fit(b_o, (width,))
    return preset.replace(w_output=np.eye(width) if enabled else None, b_output=b_o)


def _concat_width(preset: Preset) -> int:
    """H*d_v: the width of the heads' contexts side by side (W_V has kv_heads*d_v columns)."""
    return preset.options.heads * preset.d_v


def with_biases(preset: Preset, enabled: bool) -> Preset:
    """Add zero biases for Q, K, V (and O when W_O exists) or drop them all."""
    if not enabled:
        return preset.replace(b_query=None, b_key=None, b_value=None, b_output=None)
    d_out = preset.w_output.shape[1] if preset.w_output is not None else _concat_width(preset)
    return preset.replace(
        b_query=preset.b_query if preset.b_query is not None else np.zeros(preset.w_query.shape[1]),
        b_key=preset.b_key if preset.b_key is not None else np.zeros(preset.w_key.shape[1]),
        b_value=preset.b_value if preset.b_value is not None else np.zeros(preset.w_value.shape[1]),
        b_output=preset.b_output if preset.b_output is not None else np.zeros(d_out),
    )


def with_source(preset: Preset, enabled: bool) -> Preset:
    """Switch cross-attention on (source starts as a copy of X) or off (keys are X again)."""
    if not enabled:
        if preset.source_inputs is None:
            return preset
        mask = preset.options.key_mask
        if mask is not None:
            mask = tuple(mask[: preset.n_tokens]) + (True,) * max(0, preset.n_tokens - len(mask))
        return preset.replace(
            source_inputs=None, source_tokens=None, source_positions=None
        ).with_options(key_mask=mask)
    if preset.source_inputs is not None:
        return preset
    return preset.replace(
        source_inputs=preset.inputs.copy(),
        source_tokens=tuple(f"src {t}"[:MAX_TEXT_CHARS] for t in preset.tokens),
    )


def with_label(preset: Preset, which: str, index: int, label: str) -> Preset:
    """Rename one query token ("tokens") or source token ("source_tokens")."""
    labels = list(preset.tokens if which == "tokens" else preset.source_tokens or ())
    if not 0 <= index < len(labels):
        raise PresetError(f"no token {index + 1} to rename")
    labels[index] = label
    return preset.replace(**{which: tuple(labels)})


def with_key_masked(preset: Preset, index: int, attend: bool) -> Preset:
    """Let queries attend to key `index` (True) or mask it (False)."""
    m = preset.n_keys
    mask = list(preset.options.key_mask or (True,) * m)
    mask[index] = attend
    return preset.with_options(key_mask=None if all(mask) else tuple(mask))


def filled(shape: tuple[int, int], kind: str, *, seed: int = 0, std: float = 1.0) -> np.ndarray:
    """A block for the fill actions: zeros, identity (as far as it goes) or seeded normal."""
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "identity":
        return np.eye(*shape)
    if kind == "random":
        return np.random.default_rng(seed).normal(0.0, std, size=shape)
    raise ValueError(f"unknown fill {kind!r}")
