"""Benchmarks: `python -m benchmarks [--quick] [--only NAME]`.

Each `bench_*.py` module exposes `run(quick: bool) -> list[dict]`; the runner in
`__main__.py` collects the rows into one table. Speed lives here, never in tests.
"""
