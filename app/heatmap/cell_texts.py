"""The numbers printed inside the cells: one item paints them all, at a size that fits.

The texts themselves come from ``selfattn.numbers`` (one module for every number the
program shows); this module picks the font size and draws them. Which texts: the
person's precision first (View → Number precision; ``numbers.cell_formats``), then
shorter formats in turn when no readable size fits the cells — "3 decimals" becomes
2 decimals for weights, 3 then 2 significant digits for scores, and nothing at all
when even those do not fit; the hover readout and tooltip keep every digit.
"""

from __future__ import annotations

import functools

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject

from .. import zoom

MAX_TEXT_CELLS = 16  # values are printed in the cells up to 16 x 16

FONT_PX_CHOICES = (16, 14, 13, 12, 11, 10, 9)  # readable cell text sizes, largest first


@functools.lru_cache(maxsize=64)
def cell_font(px: int) -> tuple[QFont, QFontMetricsF]:
    """The cell font at a pixel size and its metrics (built once: fitting runs on resizes)."""
    font = QFont()
    font.setPixelSize(px)
    return font, QFontMetricsF(font)


def fitting_font_px(text: str, cell_px: float) -> float:
    """Largest readable pixel size (16..9) at which ``text`` fits a cell, else 0."""
    for size in sorted({zoom.scaled_px(px) for px in FONT_PX_CHOICES}, reverse=True):  # zoomed
        metrics = cell_font(size)[1]
        if metrics.horizontalAdvance(text) <= 0.86 * cell_px and metrics.height() <= 0.7 * cell_px:
            return float(size)
    return 0.0


class CellTexts(QGraphicsObject):
    """Every cell's value, painted by one item in a single ``paint``.

    A TextItem per cell cost ~17 ms to update and ~9 ms to paint at 16 x 16. This
    item holds the strings, the black/white choice per cell and the fitted font
    size, and draws in device pixels with the painter's transform reset: the text
    stays upright and crisp under the inverted y axis, and grows with the cells in
    a high-resolution export (the font scales with the painted cell size).
    """

    TEXT_COLORS = (QColor(0, 0, 0), QColor(255, 255, 255))  # indexed by "white"

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(3)
        # the window's repaint and a grab() right after it reuse one rendering; a
        # scaled export changes the device transform, so it renders afresh, sharp
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setVisible(False)
        self._shape = (0, 0)
        self._strings: list[str] = []  # (n*m,) row by row
        self._white = np.zeros(0, dtype=bool)  # (n*m,) white text on a dark cell
        self._boxed = np.zeros(0, dtype=bool)  # (n*m,) masked: grey box behind the text
        self._font_px = 0  # 0 when no readable size fits: nothing is drawn
        self._cell_px = 0.0  # the on-screen cell size the font was fitted to
        self.box_color = QColor(150, 150, 150)  # the mask fill, behind a masked cell's text

    def boundingRect(self) -> QRectF:  # Qt API name
        n, m = self._shape
        return QRectF(0, 0, m, n)

    def set_colors(self, shape: tuple[int, int], white: np.ndarray, boxed: np.ndarray) -> None:
        """New cell colours (and shape); the strings follow from ``set_strings``."""
        if shape != self._shape:
            self.prepareGeometryChange()
            self._shape = shape
        self._white = np.asarray(white, dtype=bool).ravel()
        self._boxed = np.asarray(boxed, dtype=bool).ravel()
        self.update()

    def set_strings(self, strings: list[str], font_px: float, cell_px: float) -> None:
        """Show ``strings`` at ``font_px`` pixels, fitted to cells ``cell_px`` wide."""
        px = int(font_px)
        if strings is self._strings and px == self._font_px and cell_px == self._cell_px:
            return  # a range signal with nothing new
        self._strings, self._font_px, self._cell_px = strings, px, cell_px
        self.setVisible(px > 0)
        self.update()

    def hide_strings(self) -> None:
        self._font_px = 0
        self.setVisible(False)

    def clear(self) -> None:
        """No texts (a matrix too big to print values in)."""
        if self._shape != (0, 0):
            self.prepareGeometryChange()
            self._shape = (0, 0)
        self._strings = []
        self.hide_strings()

    def shown(self) -> list[str]:
        """The strings drawn, row by row; empty while hidden."""
        return list(self._strings) if self._font_px > 0 else []

    def text_colors(self) -> list[QColor]:
        """Each cell's text colour, row by row."""
        return [self.TEXT_COLORS[int(w)] for w in self._white]

    def paint(self, painter: QPainter, option: object, widget: object = None) -> None:
        n, m = self._shape
        strings = self._strings
        if not self._font_px or self._cell_px <= 0 or len(strings) != n * m:
            return
        t = painter.transform()  # data coordinates -> device pixels (axis-aligned here)
        origin = t.map(QPointF(0.0, 0.0))
        w = t.map(QPointF(1.0, 0.0)).x() - origin.x()  # one column, in pixels (signed)
        h = t.map(QPointF(0.0, 1.0)).y() - origin.y()  # one row, in pixels (signed)
        if w == 0 or h == 0:
            return
        font, metrics = cell_font(self._font_px)
        if abs(abs(w) - self._cell_px) > 0.5:  # painted at another size: an export
            font = QFont(font)
            font.setPixelSize(max(1, round(self._font_px * abs(w) / self._cell_px)))
            metrics = QFontMetricsF(font)
        left0, top0 = origin.x() + min(w, 0.0), origin.y() + min(h, 0.0)
        cw, ch = abs(w), abs(h)

        def cell(k: int) -> QRectF:
            i, j = divmod(k, m)
            return QRectF(left0 + j * w, top0 + i * h, cw, ch)

        painter.save()
        painter.resetTransform()
        painter.setFont(font)
        boxed = np.flatnonzero(self._boxed).tolist()
        if boxed:  # keeps a masked cell's text readable over the hatching
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.box_color)
            pad = 4.0 * font.pixelSize() / self._font_px  # a text document's 4 px margin
            text_h = metrics.height() + 2 * pad
            for k in boxed:
                if not strings[k]:
                    continue  # a masked weight prints nothing
                rect = cell(k)
                box = QRectF(0, 0, metrics.horizontalAdvance(strings[k]) + 2 * pad, text_h)
                box.moveCenter(rect.center())
                painter.drawRect(box.intersected(rect))
        align = Qt.AlignmentFlag.AlignCenter
        for white in (False, True):
            painter.setPen(self.TEXT_COLORS[white])
            for k in np.flatnonzero(self._white == white).tolist():
                painter.drawText(cell(k), align, strings[k])
        painter.restore()
