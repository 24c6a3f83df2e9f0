"""Shared helpers for the benchmark modules: rows, timing, worker subprocesses.

Numpy and torch are always timed in separate processes, alternating: on two
cores each library's idle worker threads spin on the cores the other needs, so
timing both in one process distorts both (see STYLE.md, "Measured on this machine").
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).with_name("_worker.py")
THREADS = 2  # the machine's cores; both libraries get the same count

# The keys every row carries, and the types each may hold.
ROW_KEYS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "median_s": (float,),
    "min_s": (float,),
    "max_s": (float,),
    "peer_s": (float, type(None)),
    "target_s": (float, type(None)),
    "met": (bool, type(None)),
    "note": (str,),
}


def check_row(row: dict[str, Any]) -> None:
    """Raise ValueError unless `row` has exactly the documented keys and types."""
    if set(row) != set(ROW_KEYS):
        raise ValueError(f"row keys {sorted(row)} != {sorted(ROW_KEYS)}")
    for key, types in ROW_KEYS.items():
        if not isinstance(row[key], types):
            raise ValueError(f"row {row.get('name')!r}: {key}={row[key]!r} is not {types}")
    if not row["min_s"] <= row["median_s"] <= row["max_s"]:
        raise ValueError(f"row {row['name']!r}: median outside its range")


def make_row(
    name: str,
    times: Sequence[float],
    *,
    peer: Sequence[float] | None = None,
    target_s: float | None = None,
    note: str = "",
) -> dict[str, Any]:
    """A row from raw timings; `met` compares the median with the target."""
    median = float(statistics.median(times))
    peer_s = float(statistics.median(peer)) if peer else None
    met = None if target_s is None else bool(median <= target_s)
    return {
        "name": name,
        "median_s": median,
        "min_s": float(min(times)),
        "max_s": float(max(times)),
        "peer_s": peer_s,
        "target_s": None if target_s is None else float(target_s),
        "met": met,
        "note": note,
    }


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of `repeats` calls of `fn` after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def torch_python() -> str | None:
    """An interpreter that can import torch, or None.

    SELFATTN_BENCH_TORCH_PYTHON names one (a separate venv keeps torch out of the
    project's own environment); otherwise the running interpreter if it has torch.
    """
    named = os.environ.get("SELFATTN_BENCH_TORCH_PYTHON")
    if named:
        return named if Path(named).exists() else None
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    return None


def worker_env() -> dict[str, str]:
    """Environment for a timing subprocess: same thread count for every library."""
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(THREADS)
    # The machine sets these for old OpenBLAS builds; they pin current numpy to
    # the slower Haswell kernels a person's machine would not use (env README).
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    env["PYTHONPATH"] = str(REPO)
    return env


def run_worker(python: str, args: Sequence[str], timeout: float = 600) -> dict[str, Any]:
    """Run `_worker.py` with `args` in a fresh process and return its JSON answer."""
    proc = subprocess.run(
        [python, str(WORKER), *args],
        capture_output=True,
        text=True,
        env=worker_env(),
        cwd=str(REPO),
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def alternate(
    jobs: dict[str, tuple[str, Sequence[str]]], rounds: int
) -> tuple[dict[str, list[float]], dict[str, dict[str, Any]]]:
    """Run each (python, args) job `rounds` times, interleaved; pool their times.

    Returns the pooled times per job and each job's last full answer.
    """
    pooled: dict[str, list[float]] = {key: [] for key in jobs}
    last: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        for key, (python, args) in jobs.items():
            last[key] = run_worker(python, args)
            pooled[key].extend(last[key]["times"])
    return pooled, last
