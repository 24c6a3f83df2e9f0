"""Rotary position embeddings (RoPE): rotate pairs of q/k columns by position-dependent angles.

DESIGN.md, "Semantics": r = dims (even, <= d_k), inv_freq_i = theta^(-2i/r) for
i < r/2 unless given, angle a_i = p * inv_freq_i for a token at position p, and a
pair (u, w) becomes (u cos a - w sin a, w cos a + u sin a). Two layouts pair the
columns differently:

    "half"        (transformers, GPT-NeoX):        pair i = (x_i, x_{i + r/2})
    "interleaved" (RoFormer, GPT-J, GGUF's llama):  pair i = (x_{2i}, x_{2i + 1})

Columns r .. d_k-1 pass unchanged. After rotation q_i . k_j depends on the
positions only through p_i - p_j, which is the point of RoPE.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ROPE_STYLES = ("half", "interleaved")
MAX_POSITION = 2**31 - 1  # positions are stored as int64; this keeps p * inv_freq exact enough


class RopeError(ValueError):
    """Rotary settings that do not fit the head (odd dims, wrong inv_freq length...)."""


@dataclass(frozen=True)
class Rope:
    """Rotary position embedding settings of a preset (None fields take the defaults)."""

    style: str = "half"  # "half" | "interleaved"
    theta: float = 10000.0
    dims: int | None = None  # None = d_k (even, <= d_k)
    inv_freq: tuple[float, ...] | None = None  # r/2 positive numbers; overrides theta
    positions: tuple[int, ...] | None = None  # query positions (default 0..n-1); in
    # self-attention also the key positions

    def __post_init__(self) -> None:
        # Lists and arrays become tuples so that options compare and hash by value.
        # Values are kept as given (check_rope refuses what is not a number).
        if self.inv_freq is not None:
            object.__setattr__(self, "inv_freq", tuple(_plain(f) for f in self.inv_freq))
        if self.positions is not None:
            object.__setattr__(self, "positions", tuple(_plain(p) for p in self.positions))

    def rotary_dims(self, d_k: int) -> int:
        """r: how many columns of each head are rotated."""
        return d_k if self.dims is None else int(self.dims)

    def frequencies(self, d_k: int) -> np.ndarray:
        """inv_freq, (r/2,) float64: the given numbers, or theta^(-2i/r)."""
        if self.inv_freq is not None:
            return np.asarray(self.inv_freq, dtype=np.float64)
        return default_inv_freq(self.rotary_dims(d_k), self.theta)


def _plain(value: object) -> object:
    """A numpy scalar as the Python number it holds; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def default_inv_freq(dims: int, theta: float) -> np.ndarray:
    """(dims//2,) float64: theta^(-2i/dims) for i = 0 .. dims/2 - 1."""
    exponents = np.arange(0, dims - dims % 2, 2, dtype=np.float64) / dims
    return 1.0 / (float(theta) ** exponents)


def rope_angles(positions: np.ndarray, inv_freq: np.ndarray) -> np.ndarray:
    """(n, r/2) float64 angles p * inv_freq_i, one row per token."""
    p = np.asarray(positions, dtype=np.float64)
    return np.multiply.outer(p, np.asarray(inv_freq, dtype=np.float64))


def pair_columns(r: int, style: str) -> tuple[np.ndarray, np.ndarray]:
    """The column indices (first, second) of each rotated pair, (r/2,) each."""
    half = r // 2
    if style == "half":
        return np.arange(half), np.arange(half, r)
    if style == "interleaved":
        return np.arange(0, r, 2), np.arange(1, r, 2)
    raise RopeError(f"rope style must be one of {', '.join(ROPE_STYLES)}, got {style!r}")


def apply_rope(x: np.ndarray, angles: np.ndarray, style: str) -> np.ndarray:
    """x (..., n, d) rotated: a new array of x's dtype; columns >= 2 * angles.shape[-1] copied.

    cos and sin are taken in float64 and rounded to x's dtype once, so a float32 head
    is rotated with float32 arithmetic like the rest of its attention.
    """
    out = np.array(x)
    rotate_in_place(out, angles, style)
    return out


def rotate_in_place(x: np.ndarray, angles: np.ndarray, style: str) -> None:
    """apply_rope written into x itself (x may be a view, e.g. (n, H, d) of an (n, H*d) array)."""
    r = 2 * angles.shape[-1]
    if r > x.shape[-1]:
        raise RopeError(f"cannot rotate {r} columns of a width-{x.shape[-1]} head")
    first, second = pair_columns(r, style)
    cos = np.cos(angles).astype(x.dtype, copy=False)  # broadcasts over heads
    sin = np.sin(angles).astype(x.dtype, copy=False)
    u = x[..., first]  # fancy indexing: copies, so both halves read the old values
    w = x[..., second]
    x[..., first] = u * cos - w * sin
    x[..., second] = w * cos + u * sin


def check_rope(rope: Rope, d_k: int) -> str | None:
    """What is wrong with `rope` for heads of width d_k, as "field: message", or None."""
    if rope.style not in ROPE_STYLES:
        return f"style: expected one of {', '.join(ROPE_STYLES)}, got {rope.style!r:.40}"
    if isinstance(rope.theta, bool) or not isinstance(rope.theta, int | float):
        return f"theta: expected a positive number, got {rope.theta!r:.40}"
    if not (math.isfinite(rope.theta) and rope.theta > 0):
        return f"theta: must be a positive finite number, got {rope.theta!r}"
    r = rope.rotary_dims(d_k)
    if rope.dims is not None and (isinstance(rope.dims, bool) or not isinstance(rope.dims, int)):
        return f"dims: expected an even positive integer, got {rope.dims!r:.40}"
    if r < 2 or r % 2:
        what = "d_k" if rope.dims is None else "dims"
        return f"dims: rotary dims must be even and at least 2, got {r} ({what}); set dims"
    if r > d_k:
        return f"dims: {r} rotary dims exceed the head width d_k={d_k}"
    if rope.inv_freq is not None:
        if len(rope.inv_freq) != r // 2:
            return (
                f"inv_freq: has {len(rope.inv_freq)} numbers, expected {r // 2} "
                f"(half the {r} rotary dims)"
            )
        for i, f in enumerate(rope.inv_freq):
            if isinstance(f, bool) or not isinstance(f, int | float):
                return f"inv_freq[{i}]: expected a positive number, got {f!r:.40}"
            if not (math.isfinite(f) and f > 0):
                return f"inv_freq[{i}]: must be a positive finite number, got {f!r}"
    return None


def check_positions(positions: Sequence[int], count: int, what: str) -> str | None:
    """What is wrong with a position list for `count` tokens, or None."""
    if len(positions) != count:
        return f"has {len(positions)} entries, expected {count} (one per {what})"
    for i, p in enumerate(positions):
        if isinstance(p, bool) or not isinstance(p, int | np.integer):
            return f"[{i}]: expected a whole number, got {p!r:.40}"
        if not 0 <= p <= MAX_POSITION:
            return f"[{i}]: position {p} is outside 0..{MAX_POSITION}"
    return None


__all__ = [
    "MAX_POSITION",
    "ROPE_STYLES",
    "Rope",
    "RopeError",
    "apply_rope",
    "check_positions",
    "check_rope",
    "default_inv_freq",
    "pair_columns",
    "rope_angles",
    "rotate_in_place",
]
