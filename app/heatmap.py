"""Heatmap views of attention matrices (pyqtgraph), drawn from arrays they are handed.

Views never compute attention: the document hands them a result's weights or scores
and they draw them. Conventions (STYLE.md): a row-major ImageItem with row 0 on top
(``invertY``), locked aspect, token ticks at ``j + 0.5``, explicit levels (never
auto-levels, they break on constant rows), a float32 C-contiguous buffer without NaN,
a 256-entry lookup table, reused items, and cell texts only on small matrices.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter, SVGExporter
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QVBoxLayout,
    QWidget,
)

from selfattn.numbers import CELL_FORMATS, HOVER_DIGITS, cell_text, cell_texts, significant

# Sequential maps that ship with pyqtgraph (no matplotlib needed); the first is the default.
SEQUENTIAL_COLORMAPS: tuple[str, ...] = (
    "viridis",
    "cividis",
    "inferno",
    "magma",
    "plasma",
    "CET-L17",
)
DIVERGING_COLORMAP = "CET-D1"  # blue - near white - red, symmetric around 0
# On a dark palette a white middle glares: blue - near black - red instead (colorcet's
# "bkr", the diverging map it recommends for dark backgrounds)
DIVERGING_COLORMAP_DARK = "CET-D4"
KINDS = ("weights", "scores")
# How weights map to colours, for a combo box: (label, mode for set_weight_range).
# "fixed": 0..1, the same colour means the same weight everywhere. "max": 0..the
# largest visible weight, so 2000 weights of ~0.0005 do not all draw as one dark colour.
WEIGHT_RANGES: tuple[tuple[str, str], ...] = (("0 .. 1", "fixed"), ("0 .. max", "max"))
KEY_TITLE = "key →"  # keys run left to right
QUERY_TITLE = "← query"  # turned 90° up the left side, the arrow points down the queries
CLICK_HINT = "click a cell to explain it"
_WEIGHT_EPS = 1e-6  # smallest top level in "max" mode, so an all-masked matrix still draws

MAX_TEXT_CELLS = 16  # values are printed in the cells up to 16 x 16
MAX_TICKS = 32  # when labels must be thinned, at most about this many are kept
MAX_LABEL_CHARS = 12
MAX_KEY_LABEL_PX = 110  # rotated key labels: the key axis grows at most this tall
# Masked cells: a grey between the window colour and its text colour (no colour map
# here contains a neutral grey), with diagonal lines: reads as "masked", not as 0. On a
# dark palette both stay dim, so the mask is not the brightest thing on screen.
MASK_BLEND = {False: (0.33, 0.6), True: (0.15, 0.32)}  # dark palette? -> (fill, lines)
MAX_HATCH_RECTS = 4096  # beyond this the grey overlay alone marks masked cells
SVG_MIN_PIXELS = 512  # small matrices are exported to SVG with at least this many pixels
_EPS = 1e-12  # smallest half-range for score levels, so an all-zero matrix still draws


def truncate_label(label: str, limit: int = MAX_LABEL_CHARS) -> str:
    """Shorten a token label for an axis; the hover readout keeps the full text."""
    return label if len(label) <= limit else label[: limit - 1] + "…"


def round_step(at_least: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``at_least``.

    Thinned labels every 1, 2, 5 or 10 tokens read as positions; every 17 or 76 do not.
    """
    if at_least <= 1:
        return 1
    decade = 10 ** math.floor(math.log10(at_least))
    for factor in (1, 2, 5, 10):
        if factor * decade >= at_least:
            return factor * decade
    return 10 * decade  # unreachable: 10 * decade > at_least


def label_step(count: int, cell_px: float, spacing_px: float, max_ticks: int = MAX_TICKS) -> int:
    """Label every k-th token: every one when they fit, else a round step.

    ``spacing_px`` is the room a label needs along the axis; ``cell_px`` the cell size
    on screen (0 when not laid out yet: then only the count decides).
    """
    if cell_px > 0 and cell_px >= spacing_px:
        return 1
    need = count / max_ticks
    if cell_px > 0:
        need = max(need, spacing_px / cell_px)
    return round_step(need)


def tick_indices(count: int, step: int, cell_px: float, spacing_px: float) -> list[int]:
    """0, step, 2 step, ... and always the last token; a multiple too close to it goes."""
    if count <= 0:
        return []
    indices = list(range(0, count, step))
    last = count - 1
    if indices[-1] == last:
        return indices

    def too_close(gap: int) -> bool:
        return gap * cell_px < spacing_px if cell_px > 0 else 2 * gap < step

    while len(indices) > 1 and too_close(last - indices[-1]):
        indices.pop()
    if not too_close(last - indices[-1]):
        indices.append(last)
    return indices


class _KeyAxis(pg.AxisItem):
    """The top (key) axis; its tick labels can be drawn turned 90°, reading upwards.

    Key labels side by side need a cell as wide as the label; turned, they need only
    a line's height, so every key of an 11-token sentence keeps its label. ``drawn``
    holds the labels of the last paint (for tests).
    """

    def __init__(self) -> None:
        super().__init__("top")
        self.rotated = False
        self.text_room = 0.0  # pixels along a turned label (the axis height minus title)
        self.drawn: list[str] = []

    def set_rotated(self, rotated: bool, text_room: float) -> None:
        if (rotated, text_room) != (self.rotated, self.text_room):
            self.rotated, self.text_room = rotated, text_room
            self.picture = None
            self.update()

    def generateDrawSpecs(self, p: QPainter) -> Any:  # noqa: N802 (pyqtgraph API)
        """Tick label positions along the axis, every one of ``setTicks``'s first level.

        AxisItem's own version drops a label that pokes past the axis ends (the first
        and last keys' labels are wider than their cells) and re-thins crowded ones;
        the ticks given here are already thinned to fit.
        """
        bounds = self.mapRectFromParent(self.geometry())
        lo, hi = self.range
        axis_spec = (self.pen(), bounds.bottomLeft(), bounds.bottomRight())
        texts: list[tuple[float, str]] = []
        if hi != lo and self._tickLevels and self.style["showValues"]:
            scale = bounds.width() / (hi - lo)
            for value, text in self._tickLevels[0]:
                x = (value - lo) * scale  # the same mapping as AxisItem's
                if -0.5 <= x <= bounds.width() + 0.5:
                    texts.append((x, text))
        self.drawn = [text for _, text in texts]
        return axis_spec, [], texts

    def drawPicture(self, p: QPainter, axisSpec: Any, tickSpecs: Any, textSpecs: Any) -> None:  # noqa: N802, N803
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        p.setPen(self.textPen())
        metrics = QFontMetricsF(p.font())
        h = metrics.height()
        base = self.mapRectFromParent(self.geometry()).bottom() - self.style["tickTextOffset"][1]
        if not self.rotated:  # side by side, centred on the key's column
            align = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom
            end = self.mapRectFromParent(self.geometry()).width()
            for x, text in textSpecs:
                w = metrics.horizontalAdvance(text) + 2
                # the first and last labels stay over the matrix, not over its neighbour
                left = max(0.0, min(x - w / 2, end - w)) if w < end else x - w / 2
                p.drawText(QRectF(left, base - h, w, h), align, text)
            return
        room = max(self.text_room, 1.0)
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        for x, text in textSpecs:
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, room)
            p.save()
            p.translate(x, base)
            p.rotate(-90)  # the text runs upwards from just above the matrix
            p.drawText(QRectF(0, -h / 2, room, h), align, shown)
            p.restore()


def _widest(metrics: QFontMetricsF, labels: Sequence[str]) -> float:
    """Pixel width of the widest label (measures only the 20 longest by characters)."""
    longest = sorted(labels, key=len, reverse=True)[:20]
    return max((metrics.horizontalAdvance(s) for s in longest), default=0.0)


# The cells' number formats live in selfattn.numbers (one module for every number
# shown); the names here are what the views and their tests have always imported.
format_cell = cell_text
format_cells = cell_texts


def format_value(value: float) -> str:
    """Fuller text for the hover readout (6 significant digits, real minus signs)."""
    return significant(value, HOVER_DIGITS)


FONT_PX_CHOICES = (16, 14, 13, 12, 11, 10, 9)  # readable cell text sizes, largest first


@functools.lru_cache(maxsize=len(FONT_PX_CHOICES))
def _cell_font(px: int) -> tuple[QFont, QFontMetricsF]:
    """The cell font at a pixel size and its metrics (built once: fitting runs on resizes)."""
    font = QFont()
    font.setPixelSize(px)
    return font, QFontMetricsF(font)


def _fitting_font_px(text: str, cell_px: float) -> float:
    """Largest readable pixel size (16..9) at which ``text`` fits a cell, else 0."""
    for size in FONT_PX_CHOICES:
        metrics = _cell_font(size)[1]
        if metrics.horizontalAdvance(text) <= 0.86 * cell_px and metrics.height() <= 0.7 * cell_px:
            return float(size)
    return 0.0


def _luminance(rgb: Sequence[int]) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _blend(a: QColor, b: QColor, t: float) -> QColor:
    """The colour a fraction ``t`` of the way from ``a`` to ``b``."""
    return QColor(
        round(a.red() + t * (b.red() - a.red())),
        round(a.green() + t * (b.green() - a.green())),
        round(a.blue() + t * (b.blue() - a.blue())),
    )


def is_dark(palette: QPalette) -> bool:
    """A dark theme: the window colour is darker than mid grey."""
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def mask_colors(palette: QPalette) -> tuple[QColor, QColor]:
    """(fill, hatch lines) of masked cells, taken from the palette's window and text."""
    bg = palette.color(QPalette.ColorRole.Window)
    fg = palette.color(QPalette.ColorRole.WindowText)
    fill_t, line_t = MASK_BLEND[is_dark(palette)]
    return _blend(bg, fg, fill_t), _blend(bg, fg, line_t)


def _mask_lut(fill: QColor) -> np.ndarray:
    """Two-colour lookup table of the mask overlay: 0 transparent, 1 the mask fill."""
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[1:] = (fill.red(), fill.green(), fill.blue(), 255)
    return lut


def _white_text(
    values: np.ndarray,
    mask: np.ndarray,
    lut: np.ndarray,
    levels: tuple[float, float],
    mask_fill: QColor,
) -> np.ndarray:
    """(n, m) True where a cell's colour is dark enough for white text, else black.

    The cell colour is the lookup-table entry the image uses for the value; masked
    cells are the mask grey.
    """
    lo, hi = levels
    span = hi - lo if hi > lo else 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        position = np.clip((values - lo) / span * 255.0, 0, 255)
    index = np.where(mask, 0, np.nan_to_num(position)).astype(np.intp)  # truncates like int()
    luminance = lut[:, :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])  # (256,)
    white = luminance[index] <= 140
    white[mask] = _luminance(mask_fill.getRgb()[:3]) <= 140
    return white


class _CellTexts(QGraphicsObject):
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

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
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
        font, metrics = _cell_font(self._font_px)
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


def _display_mask(values: np.ndarray, visible: np.ndarray | None) -> np.ndarray:
    """(n, m) True where a cell is drawn as masked: not finite, or hidden by ``visible``."""
    shown = np.isfinite(values)
    if visible is not None:
        np.logical_and(shown, np.asarray(visible, dtype=bool), out=shown)
    return np.logical_not(shown, out=shown)  # in place: one (n, m) buffer, no temporaries


def _masked_runs(mask: np.ndarray) -> list[tuple[int, int, int]]:
    """(row, first col, length) of each horizontal run of True cells."""
    runs: list[tuple[int, int, int]] = []
    for i, row in enumerate(mask):
        padded = np.concatenate(([False], row, [False])).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        runs.extend((i, int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True))
    return runs


class _MatrixPlot:
    """One heatmap inside a PlotItem: image, mask overlay, cell texts, ticks, selection.

    Items are created once and updated in place; only a change of shape moves ranges
    and ticks.
    """

    def __init__(self, plot: pg.PlotItem, *, max_ticks: int = MAX_TICKS) -> None:
        self.plot = plot
        self.max_ticks = max_ticks
        self.vb: pg.ViewBox = plot.getViewBox()
        self.vb.invertY(True)  # row 0 on top, as a matrix is written
        self.vb.setAspectLocked(True)
        self.vb.setMenuEnabled(False)
        self.vb.setDefaultPadding(0.0)
        plot.hideButtons()
        plot.showAxis("top")
        plot.hideAxis("bottom")
        for name in ("left", "top"):
            plot.getAxis(name).setStyle(tickLength=0)

        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setAutoDownsample(True)
        self.plot.addItem(self.image)

        self.overlay = pg.ImageItem(axisOrder="row-major")  # grey where masked, else clear
        self.overlay.setZValue(1)
        self.plot.addItem(self.overlay)
        self.hatch = QGraphicsPathItem()  # diagonal lines over masked cells (small matrices)
        self.mask_fill, self.mask_lines = mask_colors(QPalette())
        self._mask_lut = _mask_lut(self.mask_fill)
        self.hatch.setBrush(QBrush(self.mask_lines, Qt.BrushStyle.BDiagPattern))
        self.hatch.setPen(QPen(Qt.PenStyle.NoPen))
        self.hatch.setZValue(2)
        self.plot.addItem(self.hatch)

        self.select_outer = QGraphicsRectItem()
        self.select_inner = QGraphicsRectItem()
        for item, color, width, z in (
            (self.select_outer, QColor(255, 255, 255), 5, 4),
            (self.select_inner, QColor(0, 0, 0), 2, 5),
        ):
            pen = QPen(color, width)
            pen.setCosmetic(True)  # width in screen pixels, whatever the zoom
            item.setPen(pen)
            item.setBrush(QBrush(Qt.BrushStyle.NoBrush))
            item.setZValue(z)
            item.setVisible(False)
            self.plot.addItem(item)

        self.cell_texts = _CellTexts()  # every cell's value, painted by one item
        self.cell_texts.box_color = self.mask_fill
        self.peers: Sequence[_MatrixPlot] = (self,)  # plots whose texts are sized together
        self.plot.addItem(self.cell_texts, ignoreBounds=True)
        self.n_texts = 0
        self._strings: dict[str, tuple[list[str], str]] = {}  # format -> texts, longest
        self.shape: tuple[int, int] | None = None
        self.buffer: np.ndarray | None = None  # (n, m) float32 display copy
        self.display_mask: np.ndarray | None = None  # (n, m) True where drawn as masked
        self.mask_u8: np.ndarray | None = None  # (n, m) 1 where the overlay is grey
        self.values: np.ndarray | None = None  # what we were handed, not copied
        self.visible: np.ndarray | None = None  # the visibility we were handed
        self.kind = "weights"  # decides the cells' number formats
        self.selected: tuple[int, int] | None = None
        self._tick_key: tuple[object, ...] | None = None  # labels and flags the ticks show
        self._tick_state: tuple[object, ...] | None = None  # steps and rotation shown
        self.on_axes_resized: Callable[[], None] | None = None  # the key axis grew or shrank
        self.vb.sigResized.connect(self.home)
        self.vb.sigResized.connect(self.fit_texts)
        self.vb.sigRangeChanged.connect(self.fit_texts)
        self.vb.sigRangeChanged.connect(self.refresh_ticks)

    # -- data ------------------------------------------------------------------------
    def set_data(
        self,
        values: np.ndarray,
        row_labels: Sequence[str],
        col_labels: Sequence[str],
        visible: np.ndarray | None,
        levels: tuple[float, float],
        lut: np.ndarray,
        *,
        show_row_ticks: bool = True,
        show_col_ticks: bool = True,
        display_mask: np.ndarray | None = None,
        fit: bool = True,
        kind: str = "weights",
    ) -> None:
        """Draw ``values``; ``display_mask`` is ``_display_mask(values, visible)`` if known."""
        n, m = values.shape
        if display_mask is None:
            display_mask = _display_mask(values, visible)
        reshaped = self.shape != (n, m)
        if reshaped or self.buffer is None:
            self.buffer = np.empty((n, m), dtype=np.float32)
        # masked and non-finite cells get the low level: the overlay covers them anyway
        np.copyto(self.buffer, values, casting="unsafe")
        np.copyto(self.buffer, np.float32(levels[0]), where=display_mask)
        self.values = values
        self.visible = visible
        self.kind = kind
        self.display_mask = display_mask
        self.image.setImage(self.buffer, autoLevels=False, levels=levels)
        self._set_overlay(display_mask, reshaped)
        if reshaped:
            self.shape = (n, m)
            self.image.setRect(QRectF(0, 0, m, n))
        # labels before the range: a range change re-picks which labels to show
        self._set_ticks(row_labels, col_labels, show_row_ticks, show_col_ticks)
        self.update_texts(lut, levels, fit=fit)
        if reshaped:
            self.home()
        if self.selected is not None and not (self.selected[0] < n and self.selected[1] < m):
            self.select(-1, -1)

    def _set_overlay(self, mask: np.ndarray, reshaped: bool) -> None:
        """Grey (and hatched, when small) over masked cells; untouched if the mask is."""
        n, m = mask.shape
        if not reshaped and self.mask_u8 is not None and np.array_equal(self.mask_u8, mask):
            return  # editing numbers rarely changes the mask: skip the redraw
        if not mask.any():
            self.mask_u8 = np.zeros((n, m), dtype=np.uint8)
            self.overlay.setVisible(False)
            self.hatch.setPath(QPainterPath())
            return
        if reshaped or self.mask_u8 is None or self.mask_u8.shape != (n, m):
            self.mask_u8 = np.empty((n, m), dtype=np.uint8)
        # one byte per cell through a 2-colour lookup table (clear, grey): a quarter of
        # the memory of an RGBA overlay, which matters at thousands x thousands
        np.copyto(self.mask_u8, mask, casting="unsafe")
        self.overlay.setImage(self.mask_u8, autoLevels=False, levels=(0, 255), lut=self._mask_lut)
        self.overlay.setRect(QRectF(0, 0, m, n))
        self.overlay.setVisible(True)
        path = QPainterPath()
        runs = _masked_runs(mask) if n * m <= 256 * 256 else []
        if 0 < len(runs) <= MAX_HATCH_RECTS:
            for i, j, length in runs:
                path.addRect(QRectF(j, i, length, 1))
        self.hatch.setPath(path)

    def _set_ticks(
        self,
        row_labels: Sequence[str],
        col_labels: Sequence[str],
        show_rows: bool,
        show_cols: bool,
    ) -> None:
        key = (tuple(row_labels), tuple(col_labels), show_rows, show_cols)
        if key == self._tick_key:
            return  # a same-shape edit: labels, axis sizes and ticks stay as they are
        self._tick_key = key
        self.row_labels = [truncate_label(str(s)) for s in row_labels]
        self.col_labels = [truncate_label(str(s)) for s in col_labels]
        self.show_ticks = (show_rows, show_cols)
        left, top = self.plot.getAxis("left"), self.plot.getAxis("top")
        left.setStyle(showValues=show_rows)
        top.setStyle(showValues=show_cols)
        metrics = QFontMetricsF(left.style.get("tickFont") or QFont())
        self._metrics = metrics
        self._row_text_w = _widest(metrics, self.row_labels)
        self._col_text_w = _widest(metrics, self.col_labels)
        self._line_h = metrics.height()
        # Size the label column now: left to itself the axis grows only after a first
        # paint, so a grab or export right after set_matrix would clip the labels.
        # Space is reserved even where labels are hidden, so the panels of the
        # all-heads grid keep equal sizes.
        label_w = left.label.boundingRect().height() * 0.8 if left.label.isVisible() else 0.0
        width = self._row_text_w + left.style["tickTextOffset"][0] + label_w + 4
        left.setWidth(int(math.ceil(width)) if show_rows else 0)  # hidden labels: no room
        self._tick_state = None
        self.refresh_ticks()

    def _key_axis_height(self, text_h: float) -> int:
        """Height of the key axis holding tick text ``text_h`` tall, plus its title."""
        top = self.plot.getAxis("top")
        label_h = top.label.boundingRect().height() * 0.8 if top.label.isVisible() else 0.0
        return int(math.ceil(text_h + top.style["tickTextOffset"][1] + label_h + 2))

    def refresh_ticks(self, *_: object) -> None:
        """Pick the labelled tokens: all that fit, else a round step; 0 and the last always.

        Key labels are turned 90° when that labels more keys than side by side would;
        the key axis is then as tall as the longest label shown (capped).
        """
        if self.shape is None or not hasattr(self, "row_labels"):
            return
        n, m = self.shape
        if len(self.row_labels) != n or len(self.col_labels) != m:
            return  # mid-update: the new labels are on their way
        px = self.vb.viewPixelSize()[0]
        cell_px = 1.0 / px if px and math.isfinite(px) and px > 0 else 0.0
        line = self._line_h + 2  # a label across the axis needs a line's height
        flat = self._col_text_w + 8  # a label along the axis needs its width
        row_step = label_step(n, cell_px, line, self.max_ticks)
        turned_step = label_step(m, cell_px, line, self.max_ticks)
        flat_step = label_step(m, cell_px, flat, self.max_ticks)
        rotated = turned_step < flat_step
        col_step = turned_step if rotated else flat_step
        state = (row_step, col_step, rotated, round(cell_px, 3) if cell_px < line else 0)
        if state == self._tick_state:
            return
        self._tick_state = state
        rows = tick_indices(n, row_step, cell_px, line)
        cols = tick_indices(m, col_step, cell_px, line if rotated else flat)
        show_rows, show_cols = self.show_ticks
        left, top = self.plot.getAxis("left"), self.plot.getAxis("top")
        left.setTicks([[(i + 0.5, self.row_labels[i]) for i in rows] if show_rows else []])
        top.setTicks([[(j + 0.5, self.col_labels[j]) for j in cols] if show_cols else []])
        if rotated:
            room = min(_widest(self._metrics, [self.col_labels[j] for j in cols]), MAX_KEY_LABEL_PX)
            height = self._key_axis_height(room)
        else:
            room, height = 0.0, self._key_axis_height(self._line_h)
        if not show_cols:
            height = 0  # hidden labels take no room
        if isinstance(top, _KeyAxis):
            top.set_rotated(rotated, room)
        if top.fixedHeight != height:
            top.setHeight(height)
            if self.on_axes_resized is not None:
                self.on_axes_resized()

    def home(self, *_: object) -> None:
        """Show the whole matrix with square cells, anchored top-left next to its labels.

        The locked aspect would centre the matrix and leave the token labels stranded
        at the far edges; asking for a range with exactly the box's aspect avoids that.
        (No setLimits: limits fight the locked aspect and stretch the cells.)
        """
        if self.shape is None:
            return
        n, m = self.shape
        w, h = self.vb.width(), self.vb.height()
        if w <= 1 or h <= 1:
            self.vb.setRange(xRange=(0, m), yRange=(0, n), padding=0)
            return
        scale = min(w / m, h / n)  # pixels per cell
        self.vb.setRange(xRange=(0, w / scale), yRange=(0, h / scale), padding=0)

    # -- cell texts ------------------------------------------------------------------
    def update_texts(
        self, lut: np.ndarray, levels: tuple[float, float], *, fit: bool = True
    ) -> None:
        """Print values in the cells of a small matrix; hide the texts on a big one.

        ``fit=False`` leaves sizing to the caller (the all-heads view fits its panels
        together once they all hold their new values).
        """
        assert self.values is not None and self.display_mask is not None
        n, m = self.values.shape
        self._strings.clear()  # formatted per number format, on demand
        if n > MAX_TEXT_CELLS or m > MAX_TEXT_CELLS:
            self.n_texts = 0
            self.cell_texts.clear()
            return
        self.n_texts = n * m
        white = _white_text(self.values, self.display_mask, lut, levels, self.mask_fill)
        self.cell_texts.set_colors((n, m), white, self.display_mask)
        if fit:
            self.fit_texts()

    def _cell_strings(self, spec: str) -> tuple[list[str], str]:
        """The cells' texts in one number format and the longest of them.

        Formatted once per value change: resizes only re-measure the longest text.
        """
        entry = self._strings.get(spec)
        if entry is None:
            assert self.values is not None
            strings = format_cells(self.values, spec)
            if self.kind == "weights" and self.display_mask is not None:
                # a masked weight is not a 0: print nothing on its hatching (the
                # hover readout still gives the number); a masked score keeps "−∞"
                for k in np.flatnonzero(self.display_mask).tolist():
                    strings[k] = ""
            entry = self._strings[spec] = (strings, max(strings, key=len))
        return entry

    def fit_texts(self, *_: object) -> None:
        """Size cell texts to the cells on screen; hide them when no size fits.

        Peers (the all-heads panels, equal cells) share one number format and size,
        so the same value never looks different from one head to the next.
        """
        if self.n_texts == 0 or self.shape is None:
            return
        px = self.vb.viewPixelSize()[0]
        if not px or not math.isfinite(px) or px <= 0:
            return
        cell_px = 1.0 / px
        plots = [p for p in self.peers if p.n_texts > 0 and p.values is not None]
        formats = CELL_FORMATS[self.kind]
        chosen, spec = 0.0, formats[0]
        for spec in formats:  # shorter numbers before giving up on printing values
            longest = max((p._cell_strings(spec)[1] for p in plots), key=len)
            chosen = _fitting_font_px(longest, cell_px)
            if chosen:
                break
        for p in plots:
            if chosen:
                p.cell_texts.set_strings(p._cell_strings(spec)[0], chosen, cell_px)
            else:
                p.cell_texts.hide_strings()

    def texts_shown(self) -> list[str]:
        """The strings currently visible in the cells, row by row (for tests and a11y)."""
        return self.cell_texts.shown()

    @contextlib.contextmanager
    def crisp_rasters(self) -> Iterator[None]:
        """Temporarily give small images many pixels per cell (for SVG export).

        SVG embeds the matrix as a raster that viewers scale up with smoothing: a 3 x 3
        image becomes a blur. Repeating each cell k x k pixels keeps the cells sharp.
        """
        if self.buffer is None or self.shape is None or max(self.shape) >= SVG_MIN_PIXELS:
            yield
            return
        n, m = self.shape
        k = math.ceil(SVG_MIN_PIXELS / max(n, m))
        rect = QRectF(0, 0, m, n)
        levels = self.image.getLevels()
        big = np.repeat(np.repeat(self.buffer, k, axis=0), k, axis=1)
        self.image.setImage(big, autoLevels=False, levels=levels)
        self.image.setRect(rect)
        if self.overlay.isVisible() and self.mask_u8 is not None:
            big_mask = np.repeat(np.repeat(self.mask_u8, k, axis=0), k, axis=1)
            self.overlay.setImage(big_mask, autoLevels=False, levels=(0, 255), lut=self._mask_lut)
            self.overlay.setRect(rect)
        try:
            yield
        finally:
            self.image.setImage(self.buffer, autoLevels=False, levels=levels)
            self.image.setRect(rect)
            if self.overlay.isVisible() and self.mask_u8 is not None:
                self.overlay.setImage(
                    self.mask_u8, autoLevels=False, levels=(0, 255), lut=self._mask_lut
                )
                self.overlay.setRect(rect)

    # -- geometry --------------------------------------------------------------------
    def cell_at(self, scene_pos: QPointF) -> tuple[int, int]:
        """(row, col) under a scene position, or (-1, -1) outside the matrix."""
        if self.shape is None or not self.vb.sceneBoundingRect().contains(scene_pos):
            return (-1, -1)
        p = self.vb.mapSceneToView(scene_pos)
        row, col = math.floor(p.y()), math.floor(p.x())
        n, m = self.shape
        if 0 <= row < n and 0 <= col < m:
            return (row, col)
        return (-1, -1)

    def select(self, row: int, col: int) -> None:
        if self.shape is None or not (0 <= row < self.shape[0] and 0 <= col < self.shape[1]):
            self.selected = None
            self.select_outer.setVisible(False)
            self.select_inner.setVisible(False)
            return
        self.selected = (row, col)
        for item in (self.select_outer, self.select_inner):
            item.setRect(QRectF(col, row, 1, 1))
            item.setVisible(True)

    def apply_palette(self, palette: QPalette) -> None:
        """Axis text in the window text colour; mask fill and hatching from the palette."""
        fg = palette.color(QPalette.ColorRole.WindowText)
        fill, lines = mask_colors(palette)
        if (fill, lines) != (self.mask_fill, self.mask_lines):
            self.mask_fill, self.mask_lines = fill, lines
            self._mask_lut = _mask_lut(fill)
            self.hatch.setBrush(QBrush(lines, Qt.BrushStyle.BDiagPattern))
            self.cell_texts.box_color = fill
            if self.overlay.image is not None:
                self.overlay.setLookupTable(self._mask_lut)
            self.cell_texts.update()
        for name in ("left", "top"):
            axis = self.plot.getAxis(name)
            axis.setPen(pg.mkPen(None))  # no axis line: it would run past the matrix
            axis.setTickPen(pg.mkPen(None))  # nor tick stubs beside the labels
            axis.setTextPen(pg.mkPen(fg))
            if axis.labelText:  # setLabel without text would erase the title
                axis.setLabel(axis.labelText, color=fg.name())


def _cell_readout(
    plot: _MatrixPlot, row_labels: Sequence[str], col_labels: Sequence[str], row: int, col: int
) -> str:
    """The hover readout of a cell: full labels, value, and "(masked)" when masked."""
    values, mask = plot.values, plot.display_mask
    if values is None or mask is None:
        return ""
    if not (0 <= row < values.shape[0] and 0 <= col < values.shape[1]):
        return ""
    value = format_value(float(values[row, col]))
    text = f"query '{row_labels[row]}' → key '{col_labels[col]}': {value}"
    return text + " (masked)" if mask[row, col] else text


def _lut(name: str) -> np.ndarray:
    """256-entry RGBA lookup table of a pyqtgraph colour map."""
    return pg.colormap.get(name).getLookupTable(nPts=256, alpha=True)


def _visible_max(values: np.ndarray, mask: np.ndarray) -> float:
    """Largest value of the cells not masked (0 when all are), without copying them."""
    return float(np.max(values, where=~mask, initial=0.0))


def _weight_or_score_levels(
    kind: str, values: np.ndarray, mask: np.ndarray, weight_range: str = "fixed"
) -> tuple[float, float]:
    if kind == "weights":
        if weight_range == "max":
            return (0.0, max(_visible_max(values, mask), _WEIGHT_EPS))
        return (0.0, 1.0)
    shown = values[~mask]
    half = float(np.max(np.abs(shown))) if shown.size else 0.0
    half = max(half, _EPS)
    return (-half, half)


def _check_weight_range(mode: str) -> None:
    modes = [m for _, m in WEIGHT_RANGES]
    if mode not in modes:
        raise ValueError(f"weight range must be one of {modes}, got {mode!r}")


def _bar_label(kind: str, weight_range: str) -> str:
    """Colour bar title; says when the weights' colours run to the largest one only."""
    if kind == "scores":
        return "score"
    return "weight (0 .. max)" if weight_range == "max" else "weight"


def _palette_colors(widget: QWidget) -> tuple[QColor, QColor]:
    """pyqtgraph ignores the Qt palette: read it here so dark themes stay dark."""
    palette = widget.palette()
    return palette.color(QPalette.ColorRole.Window), palette.color(QPalette.ColorRole.WindowText)


def _pointing_hand(glw: pg.GraphicsLayoutWidget, on: bool) -> None:
    """A pointing hand over what can be clicked, the normal arrow elsewhere."""
    viewport = glw.viewport()
    pointing = viewport.cursor().shape() == Qt.CursorShape.PointingHandCursor
    if on and not pointing:
        viewport.setCursor(Qt.CursorShape.PointingHandCursor)
    elif not on and pointing:
        viewport.unsetCursor()


class _EventCallback(QObject):
    """Calls back when the watched widget gets one kind of event (after it handled it)."""

    def __init__(self, kind: QEvent.Type, callback: Callable[[], None]) -> None:
        super().__init__()
        self._kind = kind
        self._callback = callback

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == self._kind:
            self._callback()
        return False


def _ensure_laid_out(glw: pg.GraphicsLayoutWidget, fallback: QSize) -> None:
    """Give a never-shown view a size and lay its scene out, so exports are not empty."""
    if not glw.isVisible() and (glw.width() < 200 or glw.height() < 150):
        glw.resize(fallback)
    if not glw.isVisible():
        # a hidden widget gets its resize event only when shown: lay the scene out now
        glw.resizeEvent(None)
    QApplication.processEvents()
    glw.ci.layout.activate()
    QApplication.processEvents()


def _export_png(glw: pg.GraphicsLayoutWidget, path: str, width_px: int) -> None:
    exporter = ImageExporter(glw.scene())
    exporter.parameters()["width"] = int(width_px)
    exporter.export(str(path))


@contextlib.contextmanager
def _svg_closed_paths_fix() -> Iterator[None]:
    """Work around pyqtgraph 0.14's SVG exporter choking on closed paths ("... Z").

    Qt 6.11 writes a closing "Z" token that pyqtgraph 0.14.0 cannot parse
    (pyqtgraph issue #3495). The paths involved end back at their start point, so
    dropping the token changes nothing visible. Only patched during our export.
    """
    module = importlib.import_module("pyqtgraph.exporters.SVGExporter")
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


def _export_svg(glw: pg.GraphicsLayoutWidget, path: str, plots: Sequence[_MatrixPlot]) -> None:
    with contextlib.ExitStack() as stack:
        for plot in plots:
            stack.enter_context(plot.crisp_rasters())
        with _svg_closed_paths_fix():
            SVGExporter(glw.scene()).export(str(path))
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


class HeatmapView(QWidget):
    """One attention matrix: queries down, keys across, a colour bar, a hover readout."""

    cellHovered = Signal(int, int)  # (row, col); (-1, -1) when the mouse leaves the matrix
    cellClicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._glw = pg.GraphicsLayoutWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._glw)
        self._plot: pg.PlotItem = self._glw.addPlot(row=0, col=0, axisItems={"top": _KeyAxis()})
        # arrows say which way the tokens run, so the titles are not read as labels
        self._plot.setLabel("left", QUERY_TITLE)
        self._plot.setLabel("top", KEY_TITLE)
        self._click_hint = True
        self._matrix = _MatrixPlot(self._plot)
        self._sequential = SEQUENTIAL_COLORMAPS[0]
        self._kind = "weights"
        self._levels = (0.0, 1.0)
        self._weight_range = "fixed"
        self._title = ""
        self._row_labels: list[str] = []
        self._col_labels: list[str] = []
        self._colorbar = pg.ColorBarItem(
            values=(0.0, 1.0),
            colorMap=pg.colormap.get(self._sequential),
            interactive=False,
            width=18,
            colorMapMenu=False,
        )
        self._colorbar.setImageItem(self._matrix.image, insert_in=self._plot)
        # In a wide window the matrix would sit at the left with the colour bar stranded
        # at the far right: wide margins narrow the plot to the matrix and centre it.
        self._margins = self._glw.ci.layout.getContentsMargins()  # (left, top, right, bottom)
        self._matrix.vb.sigResized.connect(self._fit_width)
        self._lut = _lut(self._sequential)
        self._hovered = (-1, -1)
        self._glw.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._glw.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._leave_filter = _EventCallback(QEvent.Type.Leave, self._on_leave)
        self._glw.viewport().installEventFilter(self._leave_filter)
        self.apply_palette()

    # -- public API ------------------------------------------------------------------
    @property
    def image_item(self) -> pg.ImageItem:
        return self._matrix.image

    @property
    def mask_item(self) -> pg.ImageItem:
        return self._matrix.overlay

    @property
    def plot_item(self) -> pg.PlotItem:
        return self._plot

    @property
    def colorbar(self) -> pg.ColorBarItem:
        return self._colorbar

    @property
    def graphics_widget(self) -> pg.GraphicsLayoutWidget:
        return self._glw

    def levels(self) -> tuple[float, float]:
        return self._levels

    def kind(self) -> str:
        return self._kind

    def shape(self) -> tuple[int, int] | None:
        return self._matrix.shape

    def cell_texts(self) -> list[str]:
        """Values currently printed in the cells, row by row (empty when hidden)."""
        return self._matrix.texts_shown()

    def set_matrix(
        self,
        values: np.ndarray,
        row_labels: Sequence[str],
        col_labels: Sequence[str],
        *,
        kind: str,
        visible: np.ndarray | None = None,
        title: str = "",
    ) -> None:
        """Draw ``values`` (n, m): 'weights' on 0..1, 'scores' symmetric around 0."""
        values = np.asarray(values)
        if values.ndim != 2:
            raise ValueError(f"a heatmap needs a 2-D matrix, got shape {values.shape}")
        n, m = values.shape
        if len(row_labels) != n or len(col_labels) != m:
            raise ValueError(
                f"{len(row_labels)} row and {len(col_labels)} column labels for a {n} x {m} matrix"
            )
        if visible is not None and np.shape(visible) != (n, m):
            raise ValueError(f"visible has shape {np.shape(visible)}, expected {(n, m)}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind != self._kind or self._matrix.shape is None:
            self._kind = kind
            self._set_lut(self._colormap_for(kind))
        display_mask = _display_mask(values, visible)
        self._levels = _weight_or_score_levels(kind, values, display_mask, self._weight_range)
        self._row_labels = [str(s) for s in row_labels]
        self._col_labels = [str(s) for s in col_labels]
        self._matrix.set_data(
            values,
            self._row_labels,
            self._col_labels,
            visible,
            self._levels,
            self._lut,
            display_mask=display_mask,
            kind=kind,
        )
        if tuple(self._colorbar.levels()) != self._levels:
            self._colorbar.setLevels(self._levels)
        bar_label = _bar_label(kind, self._weight_range)
        if self._colorbar.getAxis("left").labelText != bar_label:
            self._colorbar.getAxis("left").setLabel(bar_label)
        if title != self._title:
            self._title = title
            self._show_title()
        self._fit_width()

    def set_click_hint(self, shown: bool) -> None:
        """Show or hide the grey "click a cell to explain it" under the title.

        The window hides it once the person has clicked a cell: by then they know.
        """
        if bool(shown) != self._click_hint:
            self._click_hint = bool(shown)
            self._show_title()

    def click_hint_shown(self) -> bool:
        return self._click_hint

    def _show_title(self) -> None:
        """The title, and under it the click hint in a quieter grey, smaller."""
        bg, fg = _palette_colors(self)
        plot = self._plot
        if not self._click_hint:
            plot.titleLabel.item.setTextWidth(-1)  # one line: its natural width
            plot.setTitle(self._title or None, color=fg)
            return
        grey = _blend(bg, fg, 0.55).name()
        hint = f"<span style='color: {grey}; font-size: 9pt'>{CLICK_HINT}</span>"
        text = f"{self._title}<br>{hint}" if self._title else hint
        plot.setTitle(text, color=fg)
        item = plot.titleLabel.item  # centre the two lines on each other
        document = item.document()
        option = document.defaultTextOption()
        option.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        document.setDefaultTextOption(option)
        item.setTextWidth(-1)
        item.setTextWidth(document.idealWidth())
        height = 46 if self._title else 24
        plot.titleLabel.setMaximumHeight(height)
        plot.layout.setRowFixedHeight(0, height)

    def _colormap_for(self, kind: str) -> str:
        if kind == "weights":
            return self._sequential
        return DIVERGING_COLORMAP_DARK if is_dark(self.palette()) else DIVERGING_COLORMAP

    def _set_lut(self, name: str) -> None:
        self._lut = _lut(name)
        self._colorbar.setColorMap(pg.colormap.get(name))

    def set_weight_range(self, mode: str) -> None:
        """Colour weights on 0..1 ("fixed") or on 0..the largest visible weight ("max").

        Scores are unaffected (always symmetric around 0). Redraws the current matrix.
        """
        _check_weight_range(mode)
        if mode == self._weight_range:
            return
        self._weight_range = mode
        m = self._matrix
        if m.values is not None and self._kind == "weights":
            self.set_matrix(
                m.values,
                self._row_labels,
                self._col_labels,
                kind="weights",
                visible=m.visible,
                title=self._title,
            )

    def weight_range(self) -> str:
        return self._weight_range

    def _fit_width(self, *_: object) -> None:
        """Narrow the plot to its matrix when the box is wider than square cells need.

        The extra width becomes equal margins either side, so the matrix, its labels
        and the colour bar stay together in the middle. The height decides the cell
        size then; the width beside the matrix (labels, colour bar) does not depend on
        the plot's width, so the pass that the resize triggers finds the same margins
        and the layout settles at once.
        """
        shape = self._matrix.shape
        vb = self._matrix.vb
        if shape is None or vb.height() <= 1 or vb.width() <= 1:
            return
        n, m = shape
        left, top, right, bottom = self._margins
        others = self._plot.width() - vb.width()  # left axis, colour bar, gaps
        wanted = others + vb.height() * m / n
        room = self._glw.viewport().width() - left - right
        side = math.floor((room - wanted) / 2) if room - wanted >= 2 else 0
        layout = self._glw.ci.layout
        if layout.getContentsMargins() != (left + side, top, right + side, bottom):
            layout.setContentsMargins(left + side, top, right + side, bottom)

    def set_colormap(self, name: str) -> None:
        """Choose the sequential colour map used for weights."""
        pg.colormap.get(name)  # raises for an unknown name before anything changes
        self._sequential = name
        if self._kind == "weights":
            self._lut = _lut(name)
            self._colorbar.setColorMap(pg.colormap.get(name))
            if self._matrix.values is not None:
                self._matrix.update_texts(self._lut, self._levels)

    def colormap_name(self) -> str:
        return self._sequential

    def select_cell(self, row: int, col: int) -> None:
        """Outline one cell (for the Explain panel); (-1, -1) clears."""
        self._matrix.select(row, col)

    def selected_cell(self) -> tuple[int, int] | None:
        return self._matrix.selected

    def hover_text(self, row: int, col: int) -> str:
        """Status-bar readout for a cell, with the full labels and value."""
        return _cell_readout(self._matrix, self._row_labels, self._col_labels, row, col)

    def cell_center(self, row: int, col: int, fx: float = 0.5, fy: float = 0.5) -> QPointF:
        """Where a cell's centre (or the point at fractions fx, fy of it) is on this widget."""
        scene = self._matrix.vb.mapViewToScene(QPointF(col + fx, row + fy))
        viewport = self._glw.viewport()
        return QPointF(viewport.mapTo(self, self._glw.mapFromScene(scene)))

    def export_png(self, path: str, width_px: int = 1600) -> None:
        """Write the heatmap and colour bar as a PNG at least ``width_px`` wide (slides)."""
        _ensure_laid_out(self._glw, QSize(800, 600))
        _export_png(self._glw, path, width_px)

    def export_svg(self, path: str) -> None:
        """Write an SVG (the matrix itself is embedded as a raster image)."""
        _ensure_laid_out(self._glw, QSize(800, 600))
        _export_svg(self._glw, path, [self._matrix])

    def apply_palette(self) -> None:
        bg, fg = _palette_colors(self)
        self._glw.setBackground(bg)
        self._matrix.apply_palette(self.palette())
        for name in ("left", "right", "top", "bottom"):
            axis = self._colorbar.getAxis(name)
            axis.setPen(pg.mkPen(fg))
            axis.setTextPen(pg.mkPen(fg))
        self._show_title()
        name = self._colormap_for(self._kind)
        if self._colorbar.colorMap().name != name:  # scores: light or dark middle
            self._set_lut(name)  # the colour bar recolours the image
        if self._matrix.values is not None:  # text colours follow the cell colours
            self._matrix.update_texts(self._lut, self._levels)

    # -- events ----------------------------------------------------------------------
    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_palette()
        super().changeEvent(event)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self._matrix.cell_at(scene_pos)
        if cell != self._hovered:
            self._hovered = cell
            _pointing_hand(self._glw, cell[0] >= 0)  # cells can be clicked
            self.cellHovered.emit(*cell)

    def _on_leave(self) -> None:
        if self._hovered != (-1, -1):
            self._hovered = (-1, -1)
            _pointing_hand(self._glw, False)
            self.cellHovered.emit(-1, -1)

    def _on_mouse_clicked(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return
        row, col = self._matrix.cell_at(event.scenePos())  # type: ignore[attr-defined]
        if row >= 0:
            self.cellClicked.emit(row, col)


def best_grid(
    heads: int,
    n: int,
    m: int,
    width: float,
    height: float,
    *,
    fixed_w: float = 0.0,
    fixed_h: float = 0.0,
    tile_w: float = 0.0,
    tile_h: float = 0.0,
) -> tuple[int, int, float]:
    """(rows, columns, cell pixels) of the grid of ``heads`` n x m tiles with the largest cells.

    ``fixed_w``/``fixed_h``: pixels the layout takes whatever the grid (titles, labels,
    colour bar, margins); ``tile_w``/``tile_h``: pixels each column/row adds besides its
    cells (gaps, a panel's title). Grids with an empty row are skipped.
    """
    best = (1, max(heads, 1), -math.inf)
    for rows in range(1, heads + 1):
        cols = math.ceil(heads / rows)
        if (rows - 1) * cols >= heads:
            continue  # the same columns with one row fewer hold every head
        cell = min(
            (width - fixed_w - cols * tile_w) / (cols * m),
            (height - fixed_h - rows * tile_h) / (rows * n),
        )
        if cell > best[2]:
            best = (rows, cols, cell)
    return best


class AllHeadsView(QWidget):
    """Every head's weights in a grid sized to make the tiles large, one shared colour bar.

    The grid's rows x columns are chosen for the widget's shape (re-chosen on resize);
    rows and columns get exact pixel sizes so every tile has the same cells, and the
    colour bar spans exactly the block of tiles. Token labels only along the top row
    and the left column; one "key →" and one "query" title for the whole grid.
    """

    headClicked = Signal(int)  # 0-based head index
    headCellHovered = Signal(int, int, int)  # (head, row, col); all -1 off the matrices
    TITLE_H = 30  # a PlotItem's title row (pyqtgraph fixes it at 30 px)
    PLOT_MARGIN = 1  # a PlotItem's layout margin on each side
    SPACING_X = 14  # between columns: one tile's last key label, the next tile's first
    SPACING_Y = 6  # between rows (the head titles separate them)
    MARGIN = 6  # around the grid (more where it is centred)
    KEY_TITLE_H = 20
    QUERY_TITLE_W = 20
    BAR_W = 80  # the colour bar with its axis and title

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._glw = pg.GraphicsLayoutWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._glw)
        self._panels: list[_MatrixPlot] = []
        self._colormap = SEQUENTIAL_COLORMAPS[0]
        self._lut = _lut(self._colormap)
        self._colorbar: pg.ColorBarItem | None = None
        self._key_title: pg.LabelItem | None = None
        self._query_title: pg.LabelItem | None = None
        self._grid = (0, 0)  # (rows, columns) of tiles
        self._levels = (0.0, 1.0)
        self._weight_range = "fixed"
        self._weights: np.ndarray | None = None
        self._visible: np.ndarray | None = None
        self._selected = -1
        self._row_labels: list[str] = []
        self._col_labels: list[str] = []
        self._hovered = (-1, -1, -1)
        self._laying_out = False
        self._glw.ci.layout.setHorizontalSpacing(self.SPACING_X)
        self._glw.ci.layout.setVerticalSpacing(self.SPACING_Y)
        self._glw.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._glw.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._leave_filter = _EventCallback(QEvent.Type.Leave, self._on_leave)
        self._glw.viewport().installEventFilter(self._leave_filter)
        self._resize_filter = _EventCallback(QEvent.Type.Resize, self._relayout)
        self._glw.installEventFilter(self._resize_filter)
        self._relayout_timer = QTimer(self)  # coalesces relayouts asked for mid-layout
        self._relayout_timer.setSingleShot(True)
        self._relayout_timer.setInterval(0)
        self._relayout_timer.timeout.connect(self._relayout)
        self.apply_palette()

    @property
    def panels(self) -> list[_MatrixPlot]:
        return self._panels

    @property
    def graphics_widget(self) -> pg.GraphicsLayoutWidget:
        return self._glw

    @property
    def colorbar(self) -> pg.ColorBarItem | None:
        return self._colorbar

    def grid(self) -> tuple[int, int]:
        """(rows, columns) of the tiles."""
        return self._grid

    def set_heads(
        self,
        weights: np.ndarray,
        row_labels: Sequence[str],
        col_labels: Sequence[str],
        visible: np.ndarray | None = None,
    ) -> None:
        """Draw (H, n, m) weights; items are rebuilt only when H (or the grid) changes."""
        weights = np.asarray(weights)
        if weights.ndim != 3:
            raise ValueError(f"all-heads view needs (H, n, m) weights, got shape {weights.shape}")
        heads, n, m = weights.shape
        if len(row_labels) != n or len(col_labels) != m:
            raise ValueError(
                f"{len(row_labels)} row and {len(col_labels)} column labels for {n} x {m} heads"
            )
        self._row_labels = [str(s) for s in row_labels]
        self._col_labels = [str(s) for s in col_labels]
        self._weights, self._visible = weights, visible
        if heads != len(self._panels):
            self._build(heads, *self._choose_grid()[:2])
        self._fill()
        self._relayout()

    def _fill(self) -> None:
        """Hand every panel its head's weights (after set_heads or a rebuild)."""
        weights, visible = self._weights, self._visible
        if weights is None:
            return
        heads = weights.shape[0]
        masks = [_display_mask(weights[h], visible) for h in range(heads)]
        levels = (0.0, 1.0)
        if self._weight_range == "max":  # one colour bar: the largest weight of any head
            top = max((_visible_max(weights[h], masks[h]) for h in range(heads)), default=0.0)
            levels = (0.0, max(top, _WEIGHT_EPS))
        self._levels = levels
        cols = max(self._grid[1], 1)
        for h, panel in enumerate(self._panels):
            panel.set_data(
                weights[h],
                self._row_labels,
                self._col_labels,
                visible,
                levels,
                self._lut,
                show_row_ticks=h % cols == 0,
                show_col_ticks=h < cols,
                display_mask=masks[h],
                fit=False,
            )
        if self._panels:
            self._panels[0].fit_texts()  # all panels at once: one format, one size
        if self._colorbar is not None:
            if tuple(self._colorbar.levels()) != levels:
                self._colorbar.setLevels(levels)
            label = _bar_label("weights", self._weight_range)
            if self._colorbar.getAxis("left").labelText != label:
                self._colorbar.getAxis("left").setLabel(label)

    def set_weight_range(self, mode: str) -> None:
        """Colour on 0..1 ("fixed") or 0..the largest visible weight of any head ("max")."""
        _check_weight_range(mode)
        if mode == self._weight_range:
            return
        self._weight_range = mode
        self._fill()

    def weight_range(self) -> str:
        return self._weight_range

    def levels(self) -> tuple[float, float]:
        """The colour levels in use (shared by every head)."""
        return self._levels

    # -- layout ----------------------------------------------------------------------
    def _label_room(self) -> tuple[float, float]:
        """(left label width, top label height) of the first tile, as last sized."""
        if not self._panels:
            return (0.0, 0.0)
        plot = self._panels[0].plot
        left, top = plot.getAxis("left"), plot.getAxis("top")
        return (float(left.fixedWidth or 0), float(top.fixedHeight or 0))

    def _choose_grid(self) -> tuple[int, int, float]:
        if self._weights is None:
            return (0, 0, 0.0)
        heads, n, m = self._weights.shape
        size = self._glw.size()
        left_w, top_h = self._label_room()
        if not self._panels:  # first build: about one line of labels each way
            left_w, top_h = 40.0, 20.0
        sx, sy, pm = self.SPACING_X, self.SPACING_Y, self.PLOT_MARGIN
        return best_grid(
            heads,
            n,
            m,
            size.width(),
            size.height(),
            fixed_w=2 * self.MARGIN + self.QUERY_TITLE_W + self.BAR_W + sx + left_w,
            fixed_h=2 * self.MARGIN + self.KEY_TITLE_H + top_h,
            tile_w=2 * pm + sx,
            tile_h=2 * pm + self.TITLE_H + sy,
        )

    def _relayout_soon(self) -> None:
        """Relayout once control is back in the event loop.

        Asked for when a tile's key labels turn or grow, which happens inside a view
        box's range signal: rebuilding the grid there would delete the emitting item.
        """
        self._relayout_timer.start()

    def _relayout(self) -> None:
        """Pick the grid for the current size and give rows and columns exact sizes."""
        if self._laying_out or not self._panels or self._weights is None:
            return
        self._laying_out = True
        try:
            rows, cols, cell = self._choose_grid()
            if (rows, cols) != self._grid:
                self._build(len(self._panels), rows, cols)
                self._fill()
                rows, cols, cell = self._choose_grid()
            self._apply_sizes(rows, cols, max(cell, 1.0))
        finally:
            self._laying_out = False

    def _apply_sizes(self, rows: int, cols: int, cell: float) -> None:
        assert self._weights is not None
        _, n, m = self._weights.shape
        left_w, top_h = self._label_room()
        pm, sx, sy = self.PLOT_MARGIN, self.SPACING_X, self.SPACING_Y
        layout = self._glw.ci.layout
        tile_w, tile_h = cell * m, cell * n
        layout.setRowFixedHeight(0, self.KEY_TITLE_H)
        layout.setColumnFixedWidth(0, self.QUERY_TITLE_W)
        for r in range(rows):
            layout.setRowFixedHeight(
                1 + r, 2 * pm + self.TITLE_H + (top_h if r == 0 else 0) + tile_h
            )
        for c in range(cols):
            layout.setColumnFixedWidth(1 + c, 2 * pm + (left_w if c == 0 else 0) + tile_w)
        layout.setColumnFixedWidth(1 + cols, self.BAR_W)
        if self._colorbar is not None:  # the bar runs from the first tile's top to the last's
            self._colorbar.layout.setContentsMargins(0, pm + self.TITLE_H + top_h, 0, pm)
        used_w = self.QUERY_TITLE_W + self.BAR_W + left_w + cols * (2 * pm + tile_w)
        used_w += (cols + 1) * sx
        used_h = self.KEY_TITLE_H + top_h + rows * (2 * pm + self.TITLE_H + tile_h) + rows * sy
        size = self._glw.size()
        side = max(self.MARGIN, (size.width() - used_w) / 2)
        top = max(self.MARGIN, (size.height() - used_h) / 2)
        if layout.getContentsMargins() != (side, top, side, top):
            layout.setContentsMargins(side, top, side, top)

    def _build(self, heads: int, rows: int = 0, cols: int = 0) -> None:
        self._glw.clear()
        self._panels = []
        self._colorbar = None
        self._key_title = self._query_title = None
        self._grid = (rows, cols)
        layout = self._glw.ci.layout
        for k in range(layout.rowCount()):  # sizes of a previous grid
            layout.setRowFixedHeight(k, 0)
        for k in range(layout.columnCount()):
            layout.setColumnFixedWidth(k, 0)
        if heads == 0 or rows == 0 or cols == 0:
            self._grid = (0, 0)
            return
        fg = _palette_colors(self)[1]
        self._key_title = pg.LabelItem(KEY_TITLE, color=fg)
        self._glw.addItem(self._key_title, row=0, col=1, colspan=cols)
        self._query_title = pg.LabelItem(QUERY_TITLE, color=fg, angle=-90)
        self._glw.addItem(self._query_title, row=1, col=0, rowspan=rows)
        for h in range(heads):
            plot = self._glw.addPlot(
                row=1 + h // cols, col=1 + h % cols, axisItems={"top": _KeyAxis()}
            )
            plot.setTitle(f"head {h + 1}", color=fg)
            panel = _MatrixPlot(plot, max_ticks=12)
            panel.apply_palette(self.palette())
            panel.on_axes_resized = self._relayout_soon
            self._panels.append(panel)
        for panel in self._panels:
            panel.peers = tuple(self._panels)
        self._colorbar = pg.ColorBarItem(
            values=self._levels,
            colorMap=pg.colormap.get(self._colormap),
            interactive=False,
            width=14,
            colorMapMenu=False,
        )
        self._colorbar.setImageItem([p.image for p in self._panels])
        self._glw.addItem(self._colorbar, row=1, col=1 + cols, rowspan=rows)
        self._colorbar.getAxis("left").setLabel(_bar_label("weights", self._weight_range))
        selected, self._selected = self._selected, -1
        self.apply_palette()
        if 0 <= selected < heads:
            self.select_head(selected)

    def set_colormap(self, name: str) -> None:
        pg.colormap.get(name)
        self._colormap = name
        self._lut = _lut(name)
        if self._colorbar is not None:
            self._colorbar.setColorMap(pg.colormap.get(name))
        for panel in self._panels:
            if panel.values is not None:
                panel.update_texts(self._lut, self._levels, fit=False)
        if self._panels:
            self._panels[0].fit_texts()

    def select_head(self, head: int) -> None:
        """Mark the head the single-matrix view shows (highlight colour, underlined).

        The title text keeps its width: a bolder or longer title would widen its
        column of the grid and make that panel's cells bigger than the others.
        """
        self._selected = head
        fg = _palette_colors(self)[1]
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        for h, panel in enumerate(self._panels):
            label = f"head {h + 1}"
            if h == head:
                panel.plot.setTitle(f"<u>{label}</u>", color=highlight)
            else:
                panel.plot.setTitle(label, color=fg)

    def selected_head(self) -> int:
        return self._selected

    def _lay_out_for_export(self) -> None:
        _ensure_laid_out(self._glw, QSize(1000, 600))
        self._relayout()  # a hidden widget's resize does not reach the resize filter
        _ensure_laid_out(self._glw, QSize(1000, 600))

    def export_png(self, path: str, width_px: int = 1600) -> None:
        self._lay_out_for_export()
        _export_png(self._glw, path, width_px)

    def export_svg(self, path: str) -> None:
        self._lay_out_for_export()
        _export_svg(self._glw, path, self._panels)

    def apply_palette(self) -> None:
        bg, fg = _palette_colors(self)
        self._glw.setBackground(bg)
        for panel in self._panels:
            panel.apply_palette(self.palette())
            if panel.values is not None:
                panel.update_texts(self._lut, self._levels, fit=False)
        if self._colorbar is not None:
            for name in ("left", "right", "top", "bottom"):
                axis = self._colorbar.getAxis(name)
                axis.setPen(pg.mkPen(fg))
                axis.setTextPen(pg.mkPen(fg))
        for title in (self._key_title, self._query_title):
            if title is not None:
                title.setText(title.text, color=fg)
        if self._panels:
            self.select_head(self._selected)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_palette()
        super().changeEvent(event)

    def hover_text(self, head: int, row: int, col: int) -> str:
        """Status-bar readout for one head's cell: "head 2: query 'a' → key 'b': 0.25"."""
        if not 0 <= head < len(self._panels):
            return ""
        text = _cell_readout(self._panels[head], self._row_labels, self._col_labels, row, col)
        return f"head {head + 1}: {text}" if text else ""

    def cell_at(self, scene_pos: QPointF) -> tuple[int, int, int]:
        """(head, row, col) under a scene position, or (-1, -1, -1) off every matrix."""
        head = self.head_at(scene_pos)
        if head < 0:
            return (-1, -1, -1)
        row, col = self._panels[head].cell_at(scene_pos)
        return (head, row, col) if row >= 0 else (-1, -1, -1)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        _pointing_hand(self._glw, self.head_at(scene_pos) >= 0)  # a click picks the head
        cell = self.cell_at(scene_pos)
        if cell != self._hovered:
            self._hovered = cell
            self.headCellHovered.emit(*cell)

    def _on_leave(self) -> None:
        _pointing_hand(self._glw, False)
        if self._hovered != (-1, -1, -1):
            self._hovered = (-1, -1, -1)
            self.headCellHovered.emit(-1, -1, -1)

    def head_at(self, scene_pos: QPointF) -> int:
        for h, panel in enumerate(self._panels):
            if panel.plot.sceneBoundingRect().contains(scene_pos):
                return h
        return -1

    def _on_mouse_clicked(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return
        head = self.head_at(event.scenePos())  # type: ignore[attr-defined]
        if head >= 0:
            self.headClicked.emit(head)
