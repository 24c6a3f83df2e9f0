"""Desktop benchmarks: a cell edit through the table model to the heatmap painted, and start-up.

Edit to picture: the X table's model receives a new value (what the delegate does
when a person presses Enter), the document recomputes, every view updates, and
the heatmap widget is painted with grab(). Start-up: the whole process from the
shell to the window painted with seed-example (`--screenshot`, which also writes
a PNG, so the figure is slightly pessimistic); import time reported separately.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._common import REPO, make_row

EDIT_TARGETS = {16: 0.010, 512: 0.030, 4096: 0.100}


def _app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def _random_preset(n: int, d: int = 64):
    from selfattn.preset import Options, Preset

    rng = np.random.default_rng(n)
    return Preset(
        inputs=rng.normal(size=(n, d)),
        w_query=rng.normal(size=(d, d)) / np.sqrt(d),
        w_key=rng.normal(size=(d, d)) / np.sqrt(d),
        w_value=rng.normal(size=(d, d)) / np.sqrt(d),
        name=f"bench n={n}",
        options=Options(dtype="float32"),
    )


def edit_to_picture(n: int, repeats: int) -> list[float]:
    from PySide6.QtCore import QSettings

    from app.main_window import MainWindow

    app = _app()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(_random_preset(n), settings=settings)
    window.resize(1440, 900)
    window.show()
    app.processEvents()
    model = window.inputs_panel.tables["inputs"].matrix_model()
    rng = np.random.default_rng(0)
    times = []
    for k in range(repeats + 1):
        row, col = int(rng.integers(n)), int(rng.integers(64))
        t0 = time.perf_counter()
        model.setData(model.index(row, col), float(rng.normal()))
        app.processEvents()
        window.heatmap.grab()
        elapsed = time.perf_counter() - t0
        if k:  # the first edit warms caches
            times.append(elapsed)
    window.document.undo_stack.setClean()
    window.close()
    window.deleteLater()
    app.processEvents()
    return times


def startup(repeats: int) -> tuple[list[float], list[float]]:
    whole, imports = [], []
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory() as tmp:
        shot = str(Path(tmp) / "shot.png")
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "app", "seed-example", "--screenshot", shot],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
            )
            whole.append(time.perf_counter() - t0)
            code = (
                "import time; t=time.perf_counter(); import app.main_window; "
                "print(time.perf_counter()-t)"
            )
            out = subprocess.run(
                [sys.executable, "-c", code],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            imports.append(float(out.stdout.strip().splitlines()[-1]))
    return whole, imports


def run(quick: bool) -> list[dict[str, Any]]:
    rows = []
    sizes = (16, 64) if quick else (16, 512, 4096)
    repeats = 3 if quick else 15
    for n in sizes:
        times = edit_to_picture(n, repeats if n < 4096 else max(5, repeats // 2))
        rows.append(
            make_row(
                f"edit X cell -> heatmap painted, n={n} float32",
                times,
                target_s=EDIT_TARGETS.get(n),
                note="setData on the X model, recompute, views update, heatmap.grab()",
            )
        )
    whole, imports = startup(2 if quick else 7)
    rows.append(
        make_row(
            "start-up: shell -> window painted (seed-example)",
            whole,
            target_s=None if quick else 1.5,
            note="python -m app seed-example --screenshot (includes writing the PNG)",
        )
    )
    rows.append(make_row("start-up: import app.main_window", imports, note="part of the above"))
    return rows
