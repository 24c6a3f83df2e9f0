"""Item 1: selfattn.attention keeping every intermediate vs torch CPU, same threads.

Each library runs in its own subprocess, alternating, and the timings of every
round are pooled; the target is the torch median (no slower than torch).
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

from benchmarks._common import THREADS, alternate, make_row, torch_python

# (label, n, d_model, heads)
FULL = [("n=512", 512, 64, 1), ("n=2048", 2048, 64, 1), ("n=4096", 4096, 64, 1)]
FULL_MULTI = [("n=2048 H=8 d=512", 2048, 512, 8)]
QUICK = [("n=32", 32, 8, 1), ("n=16 H=2 d=8", 16, 8, 2)]


def run(quick: bool) -> list[dict[str, Any]]:
    configs = QUICK if quick else FULL + FULL_MULTI
    rounds, repeats = (1, 2) if quick else (4, 5)
    peer_python = torch_python()
    rows = []
    for dtype in ("float32", "float64"):
        for label, n, d_model, heads in configs:
            args = [
                "core", "--dtype", dtype, "--n", str(n), "--d-model", str(d_model),
                "--heads", str(heads), "--repeats", str(repeats), "--threads", str(THREADS),
                "--warmup", "1" if quick else "2",
            ]  # fmt: skip
            jobs = {"numpy": (sys.executable, [*args, "--lib", "numpy"])}
            if peer_python:
                jobs["torch"] = (peer_python, [*args, "--lib", "torch"])
            times, last = alternate(jobs, rounds)
            peer = times.get("torch")
            note = f"{THREADS} threads, OpenBLAS {last['numpy'].get('blas_core') or '?'}"
            if not peer_python:
                note += "; torch not installed"
            rows.append(
                make_row(
                    f"core {dtype} {label}",
                    times["numpy"],
                    peer=peer,
                    target_s=statistics.median(peer) if peer else None,
                    note=note,
                )
            )
    return rows
