"""One heatmap inside a pyqtgraph PlotItem: image, mask overlay, cell texts, ticks, outline.

Conventions (STYLE.md): a row-major ImageItem with row 0 on top (``invertY``), locked
aspect, token ticks at ``j + 0.5``, explicit levels (never auto-levels, they break on
constant rows), a float32 C-contiguous buffer without NaN or inf, a 256-entry lookup
table, items created once and updated in place, cell texts only on small matrices.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsRectItem

from selfattn.numbers import (
    HOVER_DIGITS,
    cell_formats,
    cell_texts,
    display_text,
    editor_text,
    significant,
)
from selfattn.token_display import display_tokens

from ..highlights import OUTLINE_COLOR, STEP_RIM
from .axes import MAX_KEY_LABEL_PX, KeyAxis, widest
from .cell_texts import MAX_TEXT_CELLS, CellTexts, fitting_font_px
from .colors import mask_colors, mask_lut
from .layout import MAX_TICKS, label_step, tick_indices, truncate_label
from .levels import display_mask, display_scale, fill_display_copy, masked_runs, white_text

MAX_HATCH_RECTS = 4096  # beyond this the grey overlay alone marks masked cells
SVG_MIN_PIXELS = 512  # small matrices are exported to SVG with at least this many pixels


class MatrixPlot:
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
        self._mask_lut = mask_lut(self.mask_fill)
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

        # Cells app.highlights outlines (a walk-through step): a dark rim, an orange line.
        self.highlight_rim = QGraphicsPathItem()
        self.highlight_line = QGraphicsPathItem()
        for path_item, color, width in (
            (self.highlight_rim, STEP_RIM, 6),
            (self.highlight_line, OUTLINE_COLOR, 3),
        ):
            pen = QPen(color, width)
            pen.setCosmetic(True)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            path_item.setPen(pen)
            path_item.setBrush(QBrush(Qt.BrushStyle.NoBrush))
            path_item.setZValue(3)  # under the selected cell's box
            path_item.setVisible(False)
            self.plot.addItem(path_item)
        # (row, col, rows, cols) rectangles: asked for, and drawn (clipped to the matrix)
        self._highlight_wanted: tuple[tuple[int, int, int, int], ...] = ()
        self.highlighted: tuple[tuple[int, int, int, int], ...] = ()

        self.cell_texts = CellTexts()  # every cell's value, painted by one item
        self.cell_texts.box_color = self.mask_fill
        self.peers: Sequence[MatrixPlot] = (self,)  # plots whose texts are sized together
        self.plot.addItem(self.cell_texts, ignoreBounds=True)
        self.n_texts = 0
        self._strings: dict[str, tuple[list[str], str]] = {}  # format -> texts, longest
        self.shape: tuple[int, int] | None = None
        self.buffer: np.ndarray | None = None  # (n, m) float32 display copy: values * scale
        self.scale = 1.0  # a power of two, 1 unless the levels are beyond float32's reach
        self.display_mask: np.ndarray | None = None  # (n, m) True where drawn as masked
        self.mask_u8: np.ndarray | None = None  # (n, m) 1 where the overlay is grey
        self.values: np.ndarray | None = None  # what we were handed, not copied
        self.visible: np.ndarray | None = None  # the visibility we were handed
        self.kind = "weights"  # decides the cells' number formats
        self.precision: str | None = None  # the person's (numbers.PRECISIONS); None: compact
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
        mask: np.ndarray | None = None,
        fit: bool = True,
        kind: str = "weights",
    ) -> None:
        """Draw ``values`` coloured on ``levels`` (true units).

        ``mask`` is ``display_mask(values, visible)`` when the caller has it already.
        """
        n, m = values.shape
        if mask is None:
            mask = display_mask(values, visible)
        reshaped = self.shape != (n, m)
        if reshaped or self.buffer is None:
            self.buffer = np.empty((n, m), dtype=np.float32)
        self.scale = display_scale(levels)
        fill_display_copy(self.buffer, values, mask, levels, self.scale)
        self.values = values
        self.visible = visible
        self.kind = kind
        self.display_mask = mask
        self.image.setImage(self.buffer, autoLevels=False, levels=self.display_levels(levels))
        self._set_overlay(mask, reshaped)
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
        if reshaped and self._highlight_wanted:
            self.set_highlight(self._highlight_wanted)  # the cells the new shape has

    def display_levels(self, levels: tuple[float, float]) -> tuple[float, float]:
        """``levels`` in the units of the float32 display copy."""
        return (levels[0] * self.scale, levels[1] * self.scale)

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
        runs = masked_runs(mask) if n * m <= 256 * 256 else []
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
        key = (tuple(row_labels), tuple(col_labels), show_rows, show_cols, QFont().toString())
        if key == self._tick_key:
            return  # a same-shape edit: labels, axis sizes and ticks stay as they are
        self._tick_key = key
        self.row_labels = [truncate_label(s) for s in display_tokens([str(s) for s in row_labels])]
        self.col_labels = [truncate_label(s) for s in display_tokens([str(s) for s in col_labels])]
        self.show_ticks = (show_rows, show_cols)
        left, top = self.plot.getAxis("left"), self.plot.getAxis("top")
        left.setStyle(showValues=show_rows)
        top.setStyle(showValues=show_cols)
        metrics = QFontMetricsF(left.style.get("tickFont") or QFont())
        self._metrics = metrics
        self._row_text_w = widest(metrics, self.row_labels)
        self._col_text_w = widest(metrics, self.col_labels)
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
            room = min(widest(self._metrics, [self.col_labels[j] for j in cols]), MAX_KEY_LABEL_PX)
            height = self._key_axis_height(room)
        else:
            room, height = 0.0, self._key_axis_height(self._line_h)
        if not show_cols:
            height = 0  # hidden labels take no room
        if isinstance(top, KeyAxis):
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
        fill = self.mask_fill
        mask_rgb = (fill.red(), fill.green(), fill.blue())
        white = white_text(self.values, self.display_mask, lut, levels, mask_rgb)
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
            strings = cell_texts(self.values, spec)
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
        formats = cell_formats(self.kind, self.precision)
        chosen, spec = 0.0, formats[0]
        for spec in formats:  # shorter numbers before giving up on printing values
            longest = max((p._cell_strings(spec)[1] for p in plots), key=len)
            chosen = fitting_font_px(longest, cell_px)
            if chosen:
                break
        for p in plots:
            if chosen:
                p.cell_texts.set_strings(p._cell_strings(spec)[0], chosen, cell_px)
            else:
                p.cell_texts.hide_strings()

    def set_precision(self, precision: str | None) -> None:
        """Cells tried at ``precision`` first (numbers.cell_formats); call fit_texts after."""
        if precision != self.precision:
            self.precision = precision
            self._strings.clear()

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

    def set_highlight(self, rects: Iterable[tuple[int, int, int, int]]) -> None:
        """Outline these (row, col, rows, cols) blocks as regions, clipped to the matrix."""
        self._highlight_wanted = tuple(rects)
        n, m = self.shape if self.shape is not None else (0, 0)
        clipped = []
        for r, c, rows, cols in self._highlight_wanted:
            rows, cols = min(r + rows, n) - r, min(c + cols, m) - c
            if r >= 0 and c >= 0 and rows > 0 and cols > 0:
                clipped.append((r, c, rows, cols))
        self.highlighted = tuple(clipped)
        path = QPainterPath()
        for r, c, rows, cols in clipped:
            path.addRect(QRectF(c, r, cols, rows))
        path = path.simplified()  # the union: one outline around each region
        for path_item in (self.highlight_rim, self.highlight_line):
            path_item.setPath(path)
            path_item.setVisible(bool(clipped))

    def highlighted_cells(self) -> frozenset[tuple[int, int]]:
        """The outlined (row, col) cells (for tests)."""
        return frozenset(
            (i, j)
            for r, c, rows, cols in self.highlighted
            for i in range(r, r + rows)
            for j in range(c, c + cols)
        )

    def apply_palette(self, palette: QPalette) -> None:
        """Axis text in the window text colour; mask fill and hatching from the palette."""
        fg = palette.color(QPalette.ColorRole.WindowText)
        fill, lines = mask_colors(palette)
        if (fill, lines) != (self.mask_fill, self.mask_lines):
            self.mask_fill, self.mask_lines = fill, lines
            self._mask_lut = mask_lut(fill)
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


def cell_readout(
    plot: MatrixPlot,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    row: int,
    col: int,
    *,
    full: bool = False,
) -> str:
    """The hover readout of a cell: full labels, value, and "(masked)" when masked.

    The value is at the plot's precision (6 significant digits without one); ``full``
    adds a line with the round-trip value (the tooltip) when the readout has fewer digits.
    """
    values, mask = plot.values, plot.display_mask
    if values is None or mask is None:
        return ""
    if not (0 <= row < values.shape[0] and 0 <= col < values.shape[1]):
        return ""
    number = float(values[row, col])
    if plot.precision is None:
        value = significant(number, HOVER_DIGITS)
    else:
        value = display_text(number, plot.precision)
    text = f"query '{row_labels[row]}' → key '{col_labels[col]}': {value}"
    if mask[row, col]:
        text += " (masked)"
    exact = editor_text(number)
    if not full or not math.isfinite(number) or value.replace("\N{MINUS SIGN}", "-") == exact:
        return text  # the readout has every digit already
    return f"{text}\nfull value: {exact}"
