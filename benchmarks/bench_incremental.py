"""Item 2: one X-cell edit through IncrementalAttention vs a full recompute, n=4096.

Target: the edit at least 20x faster than the full recompute (target_s is the
full recompute's median / 20). Runs in this process: numpy only, no peer.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from benchmarks._common import make_row
from selfattn.incremental import IncrementalAttention
from selfattn.preset import Options, Preset


def _preset(n: int, d: int, dtype: str) -> Preset:
    rng = np.random.default_rng(0)
    w = 2.0 / np.sqrt(d)
    return Preset(
        inputs=rng.standard_normal((n, d)),
        w_query=rng.standard_normal((d, d)) * w,
        w_key=rng.standard_normal((d, d)) * w,
        w_value=rng.standard_normal((d, d)) * w,
        options=Options(dtype=dtype),
    )


def run(quick: bool) -> list[dict[str, Any]]:
    n, d = (64, 8) if quick else (4096, 64)
    repeats = 3 if quick else 15
    rows = []
    for dtype in ("float32", "float64"):
        preset = _preset(n, d, dtype)
        inc = IncrementalAttention(preset)
        full = []
        for _ in range(max(3, repeats // 3)):
            t0 = time.perf_counter()
            inc.recompute(preset)
            full.append(time.perf_counter() - t0)
        rng = np.random.default_rng(1)
        edits = []
        for _ in range(repeats):
            x = np.array(preset.inputs)
            r, c = int(rng.integers(n)), int(rng.integers(d))
            x[r, c] += float(rng.standard_normal())
            preset = preset.replace(inputs=x)
            t0 = time.perf_counter()
            inc.edit_cell(preset, "inputs", r, c)  # the result is read from inc.result
            edits.append(time.perf_counter() - t0)
        full_s = statistics.median(full)
        rows.append(
            make_row(f"incremental {dtype} n={n} full recompute", full, note="the reference")
        )
        rows.append(
            make_row(
                f"incremental {dtype} n={n} X-cell edit",
                edits,
                target_s=None if quick else full_s / 20,
                note=f"{full_s / statistics.median(edits):.1f}x faster than full (target 20x)",
            )
        )
    return rows
