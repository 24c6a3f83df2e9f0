"""Render docs/atlas.png: the window with the Atlas of a model, a metric's ranking shown.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshot_atlas.py \
        --model smollm2 --metric previous_token --out docs/atlas.png
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.main_window import MainWindow  # noqa: E402
from selfattn.models import preset_from_model  # noqa: E402

TEXT = "The cat sat on the mat. The dog sat on the log. The cat sat on the"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--metric", default="previous_token")
    parser.add_argument("--size", default="1600x1000")
    parser.add_argument("--out", type=Path, default=Path("docs/atlas.png"))
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(preset_from_model(args.model, 1, 1, args.text), settings=settings)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    loop = QEventLoop()
    window.atlas_view.finished.connect(loop.quit)
    window.action_atlas.trigger()
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    window.atlas_view.metric_combo.setCurrentText(args.metric)
    for _ in range(20):
        app.processEvents()
    window.grab().save(str(args.out))
    window.document.undo_stack.setClean()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
