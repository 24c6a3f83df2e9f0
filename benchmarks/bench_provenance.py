"""Issue 16: answering a click on a cell -- the gradient of one result cell with respect to
every input cell, and the dependency sets both ways -- at the window's sizes.

Target: a few milliseconds for a 64-token, 64-wide preset with 4 heads and W_O (the
window answers on every click). numpy only, in this process; no peer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._common import make_row, time_calls
from selfattn import AttentionResult, Options, Preset, compute
from selfattn.explain import CellRef
from selfattn.gradient import gradient
from selfattn.provenance import depends_on, feeds
from selfattn.rope import Rope


def _preset(n: int, d: int, heads: int, modern: bool = False) -> Preset:
    """Causal, W_O, b_Q; `modern`: half as many key/value heads, RoPE, a window of n/2."""
    rng = np.random.default_rng(0)
    kv_width = d // 2 if modern else d
    return Preset(
        inputs=rng.normal(size=(n, d)),
        w_query=rng.normal(size=(d, d)) / np.sqrt(d),
        w_key=rng.normal(size=(d, kv_width)) / np.sqrt(d),
        w_value=rng.normal(size=(d, kv_width)) / np.sqrt(d),
        w_output=rng.normal(size=(d, d)) / np.sqrt(d),
        b_query=rng.normal(size=d),
        options=Options(
            heads=heads,
            causal=True,
            kv_heads=heads // 2 if modern else None,
            rope=Rope() if modern else None,
            window=n // 2 if modern else None,
        ),
    )


def _cases(p: Preset, r: AttentionResult, i: int) -> dict[str, Callable[[], object]]:
    """What one click asks, for query row i."""
    return {
        "gradient of a weight": lambda: gradient(p, CellRef("weights", 1, i, i // 2), r),
        "gradient of an output cell": lambda: gradient(p, CellRef("output", None, i, 3), r),
        "feeds of an X cell": lambda: feeds(p, r, CellRef("inputs", None, i, 3)),
        "depends_on of an output cell": lambda: depends_on(p, r, CellRef("output", None, i, 3)),
    }


def run(quick: bool) -> list[dict[str, Any]]:
    sizes = (
        [(16, 16, 2, True)]
        if quick
        else [(64, 64, 4, False), (64, 64, 4, True), (1024, 256, 8, False)]
    )
    repeats = 3 if quick else 50
    rows = []
    for n, d, heads, modern in sizes:
        p = _preset(n, d, heads, modern)
        r = compute(p)
        label = f"n={n} d={d} H={heads}" + (" GQA+RoPE+window" if modern else "")
        target = None if quick or n > 64 else 0.005
        cases = _cases(p, r, n // 2)
        for what, fn in cases.items():
            rows.append(
                make_row(
                    f"provenance {label} {what}",
                    time_calls(fn, repeats),
                    target_s=target,
                    note="one click in the window",
                )
            )
    return rows
