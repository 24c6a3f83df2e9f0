"""Item 2: one X-cell edit through IncrementalAttention vs a full recompute, n=4096.

Target: the edit at least 20x faster than the full recompute (target_s is the
full recompute's median / 20). Runs in a fresh worker process with the same
environment as the core benchmark; numpy only, no peer.
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

from benchmarks._common import make_row, run_worker


def run(quick: bool) -> list[dict[str, Any]]:
    n, d = (64, 8) if quick else (4096, 64)
    repeats = 3 if quick else 7
    rows = []
    for dtype in ("float32", "float64"):
        args = ["incremental", "--n", str(n), "--d-model", str(d), "--dtype", dtype]
        answer = run_worker(sys.executable, [*args, "--repeats", str(repeats)])
        full, edits = answer["full"], answer["times"]
        full_s = statistics.median(full)
        label = f"incremental {dtype} n={n}"
        rows.append(make_row(f"{label} full recompute", full, note="the reference"))
        rows.append(
            make_row(
                f"{label} X-cell edit",
                edits,
                target_s=None if quick else full_s / 20,
                note=f"{full_s / statistics.median(edits):.1f}x faster than full (target 20x)",
            )
        )
    return rows
