"""Render the README's screenshots (offscreen): the window, the Explain panel, a real head.

.venv/bin/python tools/make_screenshots.py [OUT_DIR]   # default: docs/
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
from selfattn.bundled import bundled_names, load_bundled  # noqa: E402

SIZE = (1440, 900)


def _window(app: QApplication, preset) -> MainWindow:
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(preset, settings=settings)
    window.resize(*SIZE)
    window.show()
    for _ in range(5):
        app.processEvents()
    return window


def _save(app: QApplication, window: MainWindow, path: Path) -> None:
    for _ in range(5):
        app.processEvents()
    window.grab().save(str(path), "PNG")
    print(f"wrote {path}")
    window.document.undo_stack.setClean()
    window.close()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])

    window = _window(app, load_bundled("seed-example"))
    _save(app, window, out / "window.png")

    window = _window(app, load_bundled("seed-example"))
    window._on_heatmap_clicked(0, 1)
    window.results_panel.show_table("weights")
    _save(app, window, out / "explain.png")

    real = [n for n in bundled_names() if n.startswith("real-")]
    if real:
        window = _window(app, load_bundled(real[0]))
        window._on_heatmap_clicked(1, 0)
        _save(app, window, out / "real-head.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs")
