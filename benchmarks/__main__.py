"""`python -m benchmarks [--quick] [--only NAME]`: run every bench_*.py, print one table."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import check_row


def discover() -> list[str]:
    """Names of the benchmark modules (bench_*.py beside this file), sorted."""
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def run_module(name: str, quick: bool) -> list[dict[str, Any]]:
    module = importlib.import_module(f"benchmarks.{name}")
    rows = module.run(quick)
    for row in rows:
        check_row(row)
    return rows


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.2f} ms" if seconds < 10 else f"{seconds:.2f} s"


def _gib(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} GiB"


def format_table(rows: list[dict[str, Any]]) -> str:
    """One line per figure: median, range, peer, ratio, target, met, note.

    Rows hold seconds; a row whose name ends in "(GiB)" holds GiB instead.
    """
    header = ("figure", "median", "range", "peer (torch)", "ratio", "target", "met", "note")
    lines = [header]
    for r in rows:
        fmt = _gib if r["name"].endswith("(GiB)") else _ms
        ratio = f"{r['median_s'] / r['peer_s']:.2f}" if r["peer_s"] else "-"
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        rng = f"{fmt(r['min_s'])} .. {fmt(r['max_s'])}"
        lines.append(
            (
                r["name"],
                fmt(r["median_s"]),
                rng,
                fmt(r["peer_s"]),
                ratio,
                fmt(r["target_s"]),
                met,
                r["note"],
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the benchmarks run")
    p.add_argument("--only", metavar="NAME", help="one module, e.g. core or bench_core")
    a = p.parse_args(argv)
    names = discover()
    if a.only:
        want = a.only if a.only.startswith("bench_") else f"bench_{a.only}"
        if want not in names:
            p.error(f"no benchmark {a.only!r}; have {', '.join(names)}")
        names = [want]
    rows: list[dict[str, Any]] = []
    for name in names:
        print(f"running {name}{' (quick)' if a.quick else ''} ...", file=sys.stderr, flush=True)
        rows.extend(run_module(name, a.quick))
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
