"""Shared by the tests/gui/test_heatmap_*.py files: shown views, pixels, mouse moves.

Expected colours come from the colour map's own definition (pyqtgraph's viridis /
CET-D1 tables); the seed example's weights are the published 3-token walk-through.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.heatmap import AllHeadsView, HeatmapView

SEED_WEIGHTS = np.array(
    [[0.1361, 0.4319, 0.4319], [0.00089, 0.9088, 0.0903], [0.0074, 0.7547, 0.2378]]
)
SEED_TOKENS = ["input_1", "input_2", "input_3"]


def shown_view(qtbot) -> HeatmapView:
    """An 800 x 600 single-matrix view, on screen (offscreen platform)."""
    widget = HeatmapView()
    qtbot.addWidget(widget)
    widget.resize(800, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def shown_heads_view(qtbot) -> AllHeadsView:
    """A 1000 x 600 grid of heads, on screen (offscreen platform)."""
    widget = AllHeadsView()
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def tokens(count: int, prefix: str = "t") -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def pixel(view: HeatmapView, row: int, col: int, fx: float = 0.5, fy: float = 0.5) -> QColor:
    """The colour on screen at fractions (fx, fy) of a cell."""
    settle()
    image = view.grab().toImage()
    p = view.cell_center(row, col, fx, fy)
    return image.pixelColor(round(p.x()), round(p.y()))


def rgb(color: QColor) -> tuple[int, int, int]:
    return (color.red(), color.green(), color.blue())


def expected_rgb(cmap_name: str, value: float, lo: float, hi: float) -> tuple[int, int, int]:
    """The colour map's own colour at a value's position between the levels."""
    lut = pg.colormap.get(cmap_name).getLookupTable(nPts=256)
    index = int(np.clip((value - lo) / (hi - lo) * 255, 0, 255))
    return tuple(int(c) for c in lut[index][:3])


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 6) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def viewport_pos(view: HeatmapView, row: float, col: float) -> QPoint:
    glw = view.graphics_widget
    vb = view.plot_item.getViewBox()
    return glw.mapFromScene(vb.mapViewToScene(QPointF(col, row)))


def blends(a: tuple[int, int, int], b: tuple[int, int, int]) -> set[tuple[int, int, int]]:
    """Antialiased edges between two greys: every grey between them."""
    lo, hi = sorted((a[0], b[0]))
    return {(v, v, v) for v in range(lo, hi + 1)}


def dark_palette() -> QPalette:
    palette = QPalette()  # only the roles a hand-made dark theme typically sets
    palette.setColor(QPalette.ColorRole.Window, QColor(45, 45, 45))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(230, 230, 230))
    return palette


def move_mouse(glw: pg.GraphicsLayoutWidget, pos: QPoint) -> None:
    """Send a mouse move to a view's viewport at ``pos``."""
    QTest.qWait(20)  # pyqtgraph drops moves closer than 1/mouseRateLimit (10 ms) apart
    viewport = glw.viewport()
    event = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(pos),
        QPointF(viewport.mapToGlobal(pos)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, event)


def check_png(path: Path, min_width: int) -> QImage:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    assert not image.isNull() and image.width() >= min_width
    return image


def check_svg(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert any(el.tag.endswith("image") for el in root.iter())  # the matrix raster


def text_pixels(view: HeatmapView, row: int, col: int) -> set[tuple[int, int, int]]:
    """Colours of the pixels in the middle band of a cell, where its value is printed."""
    settle()
    image = view.grab().toImage()
    a, b = view.cell_center(row, col, 0.2, 0.35), view.cell_center(row, col, 0.8, 0.65)
    return {
        rgb(image.pixelColor(x, y))
        for x in range(round(a.x()), round(b.x()))
        for y in range(round(a.y()), round(b.y()))
    }
