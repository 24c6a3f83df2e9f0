"""A slow, loop-by-loop reference for modern attention (GQA, RoPE, window), written from
DESIGN.md's "Semantics" alone: plain Python floats and math.cos/math.sin, no numpy maths.

Shared by test_gqa.py, test_rope.py and test_window.py.
"""

from __future__ import annotations

import math


def matmul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    return [
        [math.fsum(a[i][t] * b[t][j] for t in range(len(b))) for j in range(len(b[0]))]
        for i in range(len(a))
    ]


def rotate(row: list[float], position: int, inv_freq: list[float], style: str) -> list[float]:
    """One head's vector rotated pair by pair: (u, w) -> (u cos a - w sin a, w cos a + u sin a)."""
    out = list(row)
    half = len(inv_freq)
    for i, f in enumerate(inv_freq):
        a = position * f
        first, second = (i, i + half) if style == "half" else (2 * i, 2 * i + 1)
        u, w = row[first], row[second]
        out[first] = u * math.cos(a) - w * math.sin(a)
        out[second] = w * math.cos(a) + u * math.sin(a)
    return out


def visible(i: int, j: int, p: list[int], pk: list[int], causal, key_mask, window) -> bool:
    if causal and j > i:
        return False
    if key_mask is not None and not key_mask[j]:
        return False
    if window is not None:
        if not p[i] - window < pk[j]:
            return False
        if causal and not pk[j] <= p[i]:
            return False
        if not causal and not abs(p[i] - pk[j]) < window:
            return False
    return True


def naive_modern(
    x,
    w_q,
    w_k,
    w_v,
    *,
    heads,
    kv_heads=None,
    source=None,
    rope_style=None,
    inv_freq=None,
    positions=None,
    key_positions=None,
    causal=False,
    key_mask=None,
    window=None,
    divisor=None,
):
    """(scores, weights, context) as nested lists [h][i][j]; masked weights 0."""
    x = [list(map(float, r)) for r in x]
    xs = x if source is None else [list(map(float, r)) for r in source]
    q = matmul(x, [list(map(float, r)) for r in w_q])
    k = matmul(xs, [list(map(float, r)) for r in w_k])
    v = matmul(xs, [list(map(float, r)) for r in w_v])
    n, m = len(q), len(k)
    groups = heads if kv_heads is None else kv_heads
    d_k = len(q[0]) // heads
    d_v = len(v[0]) // groups
    p = list(range(n)) if positions is None else list(positions)
    if key_positions is not None:
        pk = list(key_positions)
    else:
        pk = p if source is None else list(range(m))
    divisor = math.sqrt(d_k) if divisor is None else divisor
    scores, weights, context = [], [], []
    for h in range(heads):
        g = h // (heads // groups)
        qh = [row[h * d_k : (h + 1) * d_k] for row in q]
        kh = [row[g * d_k : (g + 1) * d_k] for row in k]
        vh = [row[g * d_v : (g + 1) * d_v] for row in v]
        if rope_style is not None:
            qh = [rotate(qh[i], p[i], inv_freq, rope_style) for i in range(n)]
            kh = [rotate(kh[j], pk[j], inv_freq, rope_style) for j in range(m)]
        s_h, w_h, c_h = [], [], []
        for i in range(n):
            s_row = [math.fsum(a * b for a, b in zip(qh[i], kh[j], strict=True)) for j in range(m)]
            seen = [j for j in range(m) if visible(i, j, p, pk, causal, key_mask, window)]
            w_row = [0.0] * m
            if seen:
                top = max(s_row[j] / divisor for j in seen)
                e = {j: math.exp(s_row[j] / divisor - top) for j in seen}
                total = math.fsum(e.values())
                for j in seen:
                    w_row[j] = e[j] / total
            c_row = [math.fsum(w_row[j] * vh[j][c] for j in range(m)) for c in range(d_v)]
            s_h.append(s_row)
            w_h.append(w_row)
            c_h.append(c_row)
        scores.append(s_h)
        weights.append(w_h)
        context.append(c_h)
    return scores, weights, context
