"""Export of the Atlas view: heads.csv, rollout.csv and the atlas as PNG and SVG.

The bytes come from the same selfattn functions `selfattn atlas --out --png --svg` uses,
so the window's files equal the command line's for the same model and text.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from selfattn.atlas import Atlas, heads_csv_text, rollout_csv_text
from selfattn.atlas_command import HEADS_FILE, ROLLOUT_FILE
from selfattn.atlas_picture import atlas_image, atlas_svg
from selfattn.png import encode_png

PNG_FILE = "atlas.png"
SVG_FILE = "atlas.svg"


def export_files(atlas: Atlas) -> list[tuple[str, bytes]]:
    """(file name, bytes) of heads.csv, rollout.csv, atlas.png and atlas.svg."""
    image, _ = atlas_image(atlas.attentions)
    return [
        (HEADS_FILE, heads_csv_text(atlas).encode("utf-8")),
        (ROLLOUT_FILE, rollout_csv_text(atlas).encode("utf-8")),
        (PNG_FILE, encode_png(image)),
        (SVG_FILE, atlas_svg(atlas).encode("utf-8")),
    ]


def write_export(atlas: Atlas, directory: Path) -> list[Path]:
    """Write the four files into `directory` (made if missing); their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in export_files(atlas):
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written


def export_dialog(parent: QWidget, atlas: Atlas | None) -> None:
    """Ask for a folder and write the atlas's files there, as `selfattn atlas --out`."""
    if atlas is None:
        return
    folder = QFileDialog.getExistingDirectory(parent, "Export the atlas to a folder")
    if folder:
        try:
            write_export(atlas, Path(folder))
        except OSError as exc:
            QMessageBox.warning(parent, "Export", f"Could not write to {folder}: {exc}")
