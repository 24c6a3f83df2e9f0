"""Every benchmark's quick mode runs and yields well-formed rows (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import discover, format_table
from benchmarks._common import check_row, make_row

REPO = Path(__file__).resolve().parents[2]


def test_the_runner_finds_the_core_benchmarks():
    assert {"bench_core", "bench_incremental", "bench_memory"} <= set(discover())


@pytest.mark.parametrize("name", discover())
def test_quick_mode_produces_a_table(name):
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", name],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["figure", "median", "range"]
    assert len(lines) >= 3, proc.stdout  # header, rule, at least one figure


def test_make_row_is_well_formed_and_compares_median_with_target():
    row = make_row("x", [0.3, 0.1, 0.2], peer=[0.4, 0.5], target_s=0.25)
    check_row(row)
    assert (row["median_s"], row["min_s"], row["max_s"]) == (0.2, 0.1, 0.3)
    assert row["peer_s"] == 0.45
    assert row["met"] is True
    assert make_row("y", [0.3], target_s=0.25)["met"] is False
    assert make_row("z", [0.3])["met"] is None


def test_check_row_rejects_missing_keys_and_wrong_types():
    row = make_row("x", [0.1])
    with pytest.raises(ValueError):
        check_row({k: v for k, v in row.items() if k != "note"})
    with pytest.raises(ValueError):
        check_row({**row, "median_s": "fast"})


def test_table_shows_ratio_against_the_peer_and_whether_the_target_is_met():
    table = format_table([make_row("core", [0.010], peer=[0.020], target_s=0.020)])
    figure = table.splitlines()[2]
    assert "10.00 ms" in figure and "20.00 ms" in figure
    assert "0.50" in figure and "yes" in figure
