"""Render docs/pipeline.png (offscreen): the seed example's pipeline with weight[1,2]
selected and the input cells it reads outlined (X rows 1 and 2 here, W_Q in the Inputs dock).

.venv/bin/python tools/make_pipeline_screenshot.py [OUT_PNG]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.main_window import MainWindow  # noqa: E402
from selfattn.bundled import load_bundled  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "pipeline.png"
    app = QApplication.instance() or QApplication(sys.argv)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(load_bundled("seed-example"), settings=settings)
    window.resize(1440, 900)
    window.show()
    for _ in range(5):
        app.processEvents()
    weights = window.pipeline.table("weights")
    assert weights is not None
    weights.setCurrentIndex(weights.model().index(0, 1))  # weight[1,2], as a click does
    tabs = window.inputs_panel.tabs
    titles = [tabs.tabText(i) for i in range(tabs.count())]
    tabs.setCurrentIndex(titles.index("W_Q"))  # W_Q's outlined columns beside the pipeline
    for _ in range(10):
        app.processEvents()
    window.grab().save(str(out), "PNG")
    window.document.undo_stack.setClean()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
