"""Writing a view's scene to PNG or SVG, including a workaround for pyqtgraph's SVG exporter.

SVG export misbehaves on never-shown widgets, so a view is laid out first; small
matrices are exported with many pixels per cell so viewers do not blur them. A PNG
can be cut to its drawing (tight) and get a title above it. The window's slide-ready
export of a whole view is ``slides.export_picture``.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter, SVGExporter
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter
from PySide6.QtWidgets import QApplication

from .matrix_plot import MatrixPlot

TITLE_PX = 20.0  # a picture's title, in screen pixels (scaled with the picture)


def ensure_laid_out(glw: pg.GraphicsLayoutWidget, fallback: QSize) -> None:
    """Give a never-shown view a size and lay its scene out, so exports are not empty."""
    if not glw.isVisible() and (glw.width() < 200 or glw.height() < 150):
        glw.resize(fallback)
    if not glw.isVisible():
        # a hidden widget gets its resize event only when shown: lay the scene out now
        glw.resizeEvent(None)
    QApplication.processEvents()
    glw.ci.layout.activate()
    QApplication.processEvents()


def export_png(
    glw: pg.GraphicsLayoutWidget,
    path: str,
    width_px: int,
    background: QColor | None = None,
    tight: bool = False,
    title: str = "",
) -> None:
    """background: the picture's fill (None: the view's own; alpha 0: transparent).

    tight: cut the empty margins around the drawing (kept at TIGHT_MARGIN of the
    width), exporting larger first so the cut picture is still `width_px` wide.
    title: drawn centred above the picture, as large as a 20 px title on screen.
    """
    scale = _export_png_once(glw, path, width_px, background)
    if not tight and not title:
        return
    image = QImage(str(path))
    box = content_box(image, background) if tight else None
    if box is not None:
        if box.width() < width_px:  # export larger so the cut picture keeps its width
            grow = width_px / max(box.width(), 1)
            scale = _export_png_once(glw, path, math.ceil(image.width() * grow), background)
            image = QImage(str(path))
            box = content_box(image, background) or image.rect()
        margin = max(2, round(TIGHT_MARGIN * box.width()))
        image = image.copy(box.adjusted(-margin, -margin, margin, margin).intersected(image.rect()))
    if title:
        image = titled(image, title, TITLE_PX * scale, background, tight)
    image.save(str(path))


TIGHT_MARGIN = 0.01  # of the drawing's width, kept around it by a tight export


def _export_png_once(
    glw: pg.GraphicsLayoutWidget, path: str, width_px: int, background: QColor | None
) -> float:
    """Export the scene ``width_px`` wide; returns picture pixels per scene pixel."""
    exporter = ImageExporter(glw.scene())
    exporter.parameters()["width"] = int(width_px)
    if background is not None:
        exporter.parameters()["background"] = background
    exporter.export(str(path))
    return int(width_px) / max(exporter.getSourceRect().width(), 1.0)


def titled(
    image: QImage, title: str, font_px: float, background: QColor | None, tight: bool
) -> QImage:
    """``image`` with ``title`` centred in a band above it (wider if the title is)."""
    font = QFont()
    font.setPixelSize(max(1, round(font_px)))
    font.setBold(True)
    metrics = QFontMetricsF(font)
    text_w, text_h = math.ceil(metrics.horizontalAdvance(title)), math.ceil(metrics.height())
    margin = max(2, round(TIGHT_MARGIN * image.width())) if tight else round(font_px)
    width = max(image.width(), text_w + 2 * margin)
    band = text_h + margin
    out = QImage(width, image.height() + band, QImage.Format.Format_ARGB32)
    fill = background if background is not None else _corner_colour(image)
    out.fill(fill)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    painter.setFont(font)
    dark = fill.alpha() > 0 and fill.lightness() < 128  # the view's own dark background
    painter.setPen(QColor(255, 255, 255) if dark else QColor(0, 0, 0))
    painter.drawText(QRectF(0, margin, width, text_h), Qt.AlignmentFlag.AlignCenter, title)
    painter.drawImage((width - image.width()) // 2, band, image)
    painter.end()
    return out


def _corner_colour(image: QImage) -> QColor:
    return image.pixelColor(0, 0) if not image.isNull() else QColor(255, 255, 255)


def content_box(image: QImage, background: QColor | None) -> QRect | None:
    """The smallest rectangle holding every pixel that is not the background colour."""
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    height, width = rgba.height(), rgba.width()
    pixels = np.frombuffer(rgba.constBits(), dtype=np.uint8, count=rgba.sizeInBytes())
    pixels = pixels.reshape(height, rgba.bytesPerLine())[:, : width * 4].reshape(height, width, 4)
    if background is not None and background.alpha() == 0:
        drawn = pixels[:, :, 3] > 0
    else:
        corner = pixels[0, 0].astype(np.int16)
        drawn = np.abs(pixels.astype(np.int16) - corner).max(axis=2) > 8
    rows = np.flatnonzero(drawn.any(axis=1))
    cols = np.flatnonzero(drawn.any(axis=0))
    if rows.size == 0:
        return None
    return QRect(
        int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)
    )


@contextlib.contextmanager
def svg_closed_paths_fix() -> Iterator[None]:
    """Work around pyqtgraph 0.14's SVG exporter choking on closed paths ("... Z").

    Qt 6.11 writes a closing "Z" token that pyqtgraph 0.14.0 cannot parse
    (pyqtgraph issue #3495). The paths involved end back at their start point, so
    dropping the token changes nothing visible. Only patched during our export.
    """
    module: Any = importlib.import_module("pyqtgraph.exporters.SVGExporter")
    original = getattr(module, "correctCoordinates", None)
    if original is None:
        yield
        return

    def correct(node: Any, defs: Any, item: Any, options: Any) -> Any:
        for element in node.getElementsByTagName("path"):
            d = element.getAttribute("d")
            if "Z" in d or "z" in d:
                tokens = [t for t in d.split() if t not in ("Z", "z")]
                element.setAttribute("d", " ".join(tokens))
        return original(node, defs, item, options)

    module.correctCoordinates = correct
    try:
        yield
    finally:
        module.correctCoordinates = original


def export_svg(
    glw: pg.GraphicsLayoutWidget,
    path: str,
    plots: Sequence[MatrixPlot],
    background: QColor | None = None,
) -> None:
    with contextlib.ExitStack() as stack:
        for plot in plots:
            stack.enter_context(plot.crisp_rasters())
        with svg_closed_paths_fix():
            exporter = SVGExporter(glw.scene())
            if background is not None:
                exporter.parameters()["background"] = background
            exporter.export(str(path))
    _absolute_background(Path(path))


def _absolute_background(path: Path) -> None:
    """Give the SVG's background rectangle pixel sizes instead of "100%".

    pyqtgraph writes width="100%"; SVG Tiny renderers (Qt's own, some slide tools)
    read that as 100 px and paint a small square in the corner.
    """
    text = path.read_text(encoding="utf-8")
    match = re.search(r'viewBox\s*=\s*"0 0 ([\d.]+) ([\d.]+)"', text)
    if match:
        w, h = match.groups()
        text = text.replace(
            '<rect width="100%" height="100%"', f'<rect width="{w}" height="{h}"', 1
        )
        path.write_text(text, encoding="utf-8")
