"""Which keys each query may see (causal, key mask, sliding window), and the reference softmax.

All masks are (n, m) booleans, True where query i may attend to key j.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def build_mask(
    n: int,
    m: int,
    causal: bool,
    key_mask: Sequence[bool] | None,
    window: int | None = None,
    positions: np.ndarray | None = None,
    key_positions: np.ndarray | None = None,
) -> np.ndarray:
    """(n, m) boolean: True where query i may attend to key j.

    The window compares positions (default 0..n-1 and 0..m-1): key j is visible
    only if p_i - w < p_j, and p_j <= p_i with causal or p_j < p_i + w without.
    """
    visible = np.ones((n, m), dtype=bool)
    if causal:
        visible &= np.tri(n, m, dtype=bool)  # key j <= query i
    if key_mask is not None:
        visible &= np.asarray(key_mask, dtype=bool)[None, :]
    if window is not None:
        visible &= window_mask(
            np.arange(n) if positions is None else positions,
            np.arange(m) if key_positions is None else key_positions,
            window,
            causal,
        )
    return visible


def window_mask(
    positions: np.ndarray, key_positions: np.ndarray, window: int, causal: bool
) -> np.ndarray:
    """(n, m) boolean: the keys a sliding window of `window` positions lets each query see."""
    p = np.asarray(positions, dtype=np.int64)[:, None]
    pk = np.asarray(key_positions, dtype=np.int64)[None, :]
    inside: np.ndarray = pk > p - window
    if causal:
        inside &= pk <= p
    else:
        inside &= pk < p + window
    return inside


def masked_softmax(logits: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (..., n, m) logits where masked cells are already -inf.

    Max-subtracted, so logits of +-1e4 give exact one-hot rows; a row with no
    visible key gives zeros instead of NaN. This is the textbook reference:
    `attention` computes the same arithmetic block by block in `_softmax_rows`
    (tests check the two agree bit for bit in float64).
    """
    any_visible = np.asarray(visible.any(axis=-1))  # (n,)
    row_max = np.max(logits, axis=-1, keepdims=True)
    row_max = np.where(any_visible[..., None], row_max, 0.0)
    e = np.exp(logits - row_max)  # exp(-inf) == 0 for masked cells
    total = e.sum(axis=-1, keepdims=True)
    total = np.where(total > 0, total, 1.0)
    out: np.ndarray = e / total
    return out


def _mask_arrays(
    n: int,
    m: int,
    causal: bool,
    key_mask: Sequence[bool] | None,
    window: int | None,
    positions: np.ndarray,
    key_positions: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(visible, hidden): hidden is None when every key is visible.

    With no mask, `visible` is a read-only broadcast of True (no n*m allocation).
    """
    if not causal and (key_mask is None or all(key_mask)) and window is None:
        return np.broadcast_to(np.True_, (n, m)), None
    visible = build_mask(n, m, causal, key_mask, window, positions, key_positions)
    return visible, ~visible
