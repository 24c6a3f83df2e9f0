"""Item 6: peak resident memory of one attention call at n=8192, float32, one head.

Measured in a fresh subprocess (resource.getrusage ru_maxrss), so nothing else
this process allocated counts. Target: at most 1.5 GiB for the whole process.
"""

from __future__ import annotations

import sys
from typing import Any

from benchmarks._common import make_row, run_worker

GIB = 1024**3
TARGET_BYTES = 1.5 * GIB


def run(quick: bool) -> list[dict[str, Any]]:
    n = 256 if quick else 8192
    args = ["memory", "--n", str(n), "--d-model", "64", "--dtype", "float32"]
    answer = run_worker(sys.executable, args)
    peak = answer["peak_bytes"]
    note = (
        f"peak RSS of the whole process; before the call {answer['before_bytes'] / GIB:.2f} GiB, "
        f"scores+scaled+weights {answer['held_nm_bytes'] / GIB:.2f} GiB"
    )
    # The runner prints a row whose name ends in "(GiB)" in GiB instead of seconds.
    row = make_row(f"memory float32 n={n} (GiB)", [peak / GIB], target_s=TARGET_BYTES / GIB)
    row["note"] = note
    return [row]
