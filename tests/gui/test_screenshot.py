"""`selfattn-workbench PRESET --screenshot PNG` renders the window and exits (DESIGN.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_screenshot_of_a_bundled_preset_is_a_desktop_sized_png(tmp_path):
    shot = tmp_path / "shot.png"
    proc = _run("seed-example", "--screenshot", str(shot))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(shot))
    assert image.width() >= 1200 and image.height() >= 750
    # Not a blank picture: the heatmap's colours are in it.
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 37)
    }
    assert len(colours) > 20


def test_screenshot_of_a_preset_file(tmp_path):
    import selfattn
    from selfattn.bundled import load_bundled

    preset = tmp_path / "mine.json"
    selfattn.save_preset(load_bundled("padding-mask"), preset)
    shot = tmp_path / "shot.png"
    proc = _run(str(preset), "--screenshot", str(shot))
    assert proc.returncode == 0, proc.stderr
    assert QImage(str(shot)).width() >= 1200


def test_an_unwritable_screenshot_path_gives_exit_2_and_one_line(tmp_path):
    shot = tmp_path / "no-such-folder" / "shot.png"
    proc = _run("seed-example", "--screenshot", str(shot))
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("selfattn-workbench:")]
    assert len(lines) == 1 and str(shot) in lines[0]
    assert "Traceback" not in proc.stderr
