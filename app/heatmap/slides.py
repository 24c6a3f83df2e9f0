"""The window's slide-ready heatmap export: PNG or SVG, white or transparent, titled.

No selection outline (the views' ``_clean_for_export``), tight margins, an optional
title. An SVG of matrices up to 64 x 64 is written as vectors (``svg``) from what the
view shows; a larger one by pyqtgraph's exporter, its cells embedded as a raster, then
cut to its drawing and titled here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from .base import HeatmapBase
from .colors import lut
from .export import TITLE_PX, content_box, export_png, export_svg
from .matrix_plot import MatrixPlot
from .svg import FONT, ColourBar, Panel, Picture, fits_vectors, hex_color, lut_indices, picture_svg

PNG_WIDTH = 1800  # pixels across a slide-ready PNG
SVG_NS = "http://www.w3.org/2000/svg"


def export_picture(view: HeatmapBase, path: str, background: str = "white", title: str = "") -> str:
    """The window's export: PNG, or SVG with vector cells up to 64 x 64 (else a raster).

    No selection outline, white or transparent, tight margins, ``title`` above (none
    when empty). Returns what was written: "png", "svg" (vectors) or "svg-raster".
    """
    view._lay_out_for_export()
    with view._clean_for_export(background) as fill:
        plots = [p for p in view._matrix_plots() if p.values is not None]
        if not path.lower().endswith(".svg"):
            export_png(view.graphics_widget, path, PNG_WIDTH, fill, tight=True, title=title)
            return "png"
        if writes_vectors(view):
            text = picture_svg(describe(view, plots, title, fill))
            Path(path).write_text(text, encoding="utf-8")
            return "svg"
        export_svg(view.graphics_widget, path, plots, fill)
        tighten_svg(Path(path), title, fill)
        return "svg-raster"


def writes_vectors(view: HeatmapBase) -> bool:
    """Whether an SVG of the view has vector cells (every matrix up to 64 x 64)."""
    plots = [p for p in view._matrix_plots() if p.values is not None]
    return bool(plots) and all(fits_vectors(p.shape) for p in plots)


def describe(
    view: HeatmapBase, plots: Sequence[MatrixPlot], title: str, background: QColor | None
) -> Picture:
    """What the view shows, read off its plots: colours, texts, labels, colour bar.

    Cell colours are the lookup table entries pyqtgraph paints for the plot's display
    copy at its levels; the texts and their colours are the ones on screen.
    """
    levels = view.levels()
    bar = view._colour_bar()
    grid = getattr(view, "grid", None)  # the grid of heads: its columns, head titles
    columns = grid()[1] if callable(grid) else 1
    panels = []
    for k, plot in enumerate(plots):
        assert plot.buffer is not None and plot.display_mask is not None
        table = plot.image.lut if isinstance(plot.image.lut, np.ndarray) else None
        if table is None:
            table = lut(bar.colorMap().name if bar is not None else "viridis")
        index = lut_indices(plot.buffer, plot.display_levels(levels), len(table))
        texts = plot.texts_shown()
        white = np.zeros(plot.display_mask.shape, dtype=bool)
        if texts:
            colours = plot.cell_texts.text_colors()
            white = np.array([c == QColor(255, 255, 255) for c in colours]).reshape(white.shape)
        panels.append(
            Panel(
                colors=np.asarray(table)[index][..., :3],
                masked=plot.display_mask.copy(),
                texts=texts,
                white_text=white,
                row_labels=list(plot.row_labels),
                col_labels=list(plot.col_labels),
                show_rows=plot.show_ticks[0],
                show_cols=plot.show_ticks[1],
                title=f"head {k + 1}" if callable(grid) else "",
            )
        )
    colour_bar = None
    if bar is not None:
        colour_bar = ColourBar(
            lut=lut(bar.colorMap().name),
            levels=levels,
            label=str(bar.getAxis("left").labelText or ""),
        )
    transparent = background is not None and background.alpha() == 0
    return Picture(
        panels=panels,
        columns=columns,
        bar=colour_bar,
        title=title,
        background=None if transparent else hex_color(_rgb(background or QColor("white"))),
        mask_fill=hex_color(_rgb(plots[0].mask_fill)),
        mask_lines=hex_color(_rgb(plots[0].mask_lines)),
        foreground="#000000",
    )


def _rgb(colour: QColor) -> tuple[int, int, int]:
    return (colour.red(), colour.green(), colour.blue())


def tighten_svg(path: Path, title: str, background: QColor | None) -> None:
    """Cut a pyqtgraph SVG's viewBox to its drawing and put ``title`` above it.

    The drawing's extent is found by rendering the file (Qt's SVG renderer) and
    looking for pixels that differ from the background.
    """
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    tree = ET.parse(path)
    root = tree.getroot()
    renderer = QSvgRenderer(str(path))
    view_box = renderer.viewBoxF()
    image = QImage(renderer.defaultSize(), QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    box = content_box(image, background)
    if box is None:
        return
    sx = view_box.width() / max(image.width(), 1)
    sy = view_box.height() / max(image.height(), 1)
    margin = 4.0
    x = view_box.x() + box.x() * sx - margin
    y = view_box.y() + box.y() * sy - margin
    width = box.width() * sx + 2 * margin
    height = box.height() * sy + 2 * margin
    if title:
        font_px = TITLE_PX
        band = font_px * 1.6
        text = ET.Element(
            f"{{{SVG_NS}}}text",
            {
                "x": f"{x + width / 2:.2f}",
                "y": f"{y - band / 2 + 0.35 * font_px:.2f}",
                "font-size": f"{font_px:g}",
                "font-weight": "bold",
                "font-family": FONT,
                "text-anchor": "middle",
                "fill": "#000000",
            },
        )
        text.text = title
        root.append(text)
        y -= band
        height += band
    if background is not None and background.alpha() > 0:  # the old one covers the old box
        fill = ET.Element(
            f"{{{SVG_NS}}}rect",
            {
                "x": f"{x:.2f}",
                "y": f"{y:.2f}",
                "width": f"{width:.2f}",
                "height": f"{height:.2f}",
                "fill": background.name(),
            },
        )
        root.insert(0, fill)
    root.set("viewBox", f"{x:.2f} {y:.2f} {width:.2f} {height:.2f}")
    root.set("width", f"{width:.2f}")
    root.set("height", f"{height:.2f}")
    tree.write(path, encoding="utf-8", xml_declaration=True)
