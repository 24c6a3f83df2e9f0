"""A heatmap as a vector SVG: one rectangle per cell, its number as text, labels, colour bar.

Slides stay sharp at any size when every cell is a ``<rect>`` instead of an embedded
raster. The caller (``export.describe``) reads what the screen shows — cell colours from
the same lookup table and levels, the same cell texts and text colours, the same token
labels — into a ``Picture``; this module only places and writes it. Sizes are in px at
96 dpi; the viewBox hugs the drawing (``MARGIN`` around it).
"""

from __future__ import annotations

import functools
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtGui import QFont, QFontMetricsF

from selfattn.numbers import significant

from .axes import KEY_TITLE, MAX_KEY_LABEL_PX, QUERY_TITLE
from .layout import MAX_TICKS, label_step, tick_indices
from .levels import masked_runs

MAX_VECTOR_CELLS = 64  # up to 64 x 64 cells are written as rectangles; beyond, a raster
MARGIN = 4.0  # around the drawing, inside the viewBox
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
LABEL_PX = 14.0  # token labels, axis titles, colour bar ticks, head titles
TITLE_PX = 20.0  # the picture's title
CELL_TEXT_PX = 15.0  # numbers in the cells
HATCH_SPACING = 6.0  # between the diagonal lines over masked cells
GAP_X = 16.0  # between the tiles of the grid of heads
GAP_Y = 8.0
BAR_GAP = 18.0  # between the matrices and the colour bar's title
BAR_W = 18.0
TICK_LEN = 4.0
SEAM = 1.0  # overlap of neighbouring cell rectangles (hidden under the neighbour)


def fits_vectors(shape: tuple[int, int] | None) -> bool:
    """Whether a matrix of this shape is written as rectangles (up to 64 x 64)."""
    return shape is not None and max(shape) <= MAX_VECTOR_CELLS


@dataclass(frozen=True)
class Panel:
    """One matrix as the screen draws it."""

    colors: np.ndarray  # (n, m, 3) uint8: each cell's colour
    masked: np.ndarray  # (n, m) bool: drawn grey and hatched
    texts: Sequence[str]  # row by row; empty when the screen prints no numbers
    white_text: np.ndarray  # (n, m) bool: white text on a dark cell, else black
    row_labels: Sequence[str]
    col_labels: Sequence[str]
    show_rows: bool = True  # labels beside this tile (the grid labels its edges only)
    show_cols: bool = True
    title: str = ""  # "head 2" in the grid of heads

    @property
    def shape(self) -> tuple[int, int]:
        n, m = self.masked.shape
        return (int(n), int(m))


@dataclass(frozen=True)
class ColourBar:
    lut: np.ndarray  # (256, 3 or 4) uint8: the colour map, low to high
    levels: tuple[float, float]  # the values at the bar's bottom and top
    label: str


@dataclass(frozen=True)
class Picture:
    panels: Sequence[Panel]
    columns: int  # tiles per row
    bar: ColourBar | None
    title: str = ""
    background: str | None = "#ffffff"  # None: transparent (no background rectangle)
    mask_fill: str = "#aaaaaa"
    mask_lines: str = "#555555"
    foreground: str = "#000000"


@functools.lru_cache(maxsize=8)
def _metrics(px: float, bold: bool = False) -> QFontMetricsF:
    font = QFont()
    font.setFamilies([f.strip() for f in FONT.split(",")])
    font.setPixelSize(round(px))
    font.setBold(bold)
    return QFontMetricsF(font)


def text_width(text: str, px: float, bold: bool = False) -> float:
    """Estimated width of ``text`` at ``px`` (Qt's metrics of the first available font)."""
    return _metrics(px, bold).horizontalAdvance(text) if text else 0.0


def line_height(px: float) -> float:
    return _metrics(px).height()


def hex_color(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb[:3]))


def num(value: float) -> str:
    """A coordinate with at most 2 decimals and no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def lut_indices(buffer: np.ndarray, levels: tuple[float, float], colors: int = 256) -> np.ndarray:
    """Lookup-table index of each value, exactly as pyqtgraph colours a float image.

    pyqtgraph (functions_qimage._rescale_and_lookup_float) scales by colours / span
    in float32 from the low level, clips to 0 .. colours - 1 and truncates.
    """
    lo, hi = float(levels[0]), float(levels[1])
    span = hi - lo if hi != lo else 1.0
    work = np.asarray(buffer, dtype=np.float32) - np.float32(lo)
    work *= np.float32(colors / span)
    np.clip(work, 0, colors - 1, out=work)
    return work.astype(np.intp)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) from ``lo`` to ``hi``."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return [lo]
    raw = span / count
    decade = 10.0 ** math.floor(math.log10(raw))
    step = next(f * decade for f in (1, 2, 5, 10) if f * decade >= raw * 0.999)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [k * step for k in range(first, last + 1)]


@dataclass
class _Box:
    """The extent of everything placed so far (for the tight viewBox)."""

    left: float = math.inf
    top: float = math.inf
    right: float = -math.inf
    bottom: float = -math.inf

    def add(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.left, self.right = min(self.left, x0, x1), max(self.right, x0, x1)
        self.top, self.bottom = min(self.top, y0, y1), max(self.bottom, y0, y1)


@dataclass
class _Writer:
    """Appends elements to the SVG root and grows the bounding box with them."""

    picture: Picture
    root: ET.Element = field(default_factory=lambda: ET.Element("g"))
    box: _Box = field(default_factory=_Box)

    def rect(self, x: float, y: float, w: float, h: float, fill: str, **attrs: str) -> None:
        ET.SubElement(
            self.root,
            "rect",
            {"x": num(x), "y": num(y), "width": num(w), "height": num(h), "fill": fill, **attrs},
        )
        self.box.add(x, y, x + w, y + h)

    def text(
        self,
        text: str,
        x: float,
        y: float,
        px: float,
        *,
        anchor: str = "middle",
        fill: str | None = None,
        turned: bool = False,
        bold: bool = False,
    ) -> None:
        """``text`` centred vertically on y; anchored at x (start, middle or end).

        turned: rotated 90° counter-clockwise about (x, y), reading upwards.
        """
        if not text:
            return
        width = text_width(text, px, bold)
        lift = 0.35 * px  # the baseline this far below y: digits and lower case centred on y
        element = ET.SubElement(
            self.root,
            "text",
            {
                "x": num(x),
                "y": num(y + lift),
                "font-size": num(px),
                "text-anchor": anchor,
                "fill": fill or self.picture.foreground,
            },
        )
        if bold:
            element.set("font-weight", "bold")
        element.text = text
        start = {"start": 0.0, "middle": -width / 2, "end": -width}[anchor]
        ink = _metrics(px, bold).tightBoundingRect(text)  # around the baseline's start
        left, right = start + ink.left(), start + ink.right()
        top, bottom = lift + ink.top(), lift + ink.bottom()
        if turned:  # rotate(-90) about (x, y) takes (dx, dy) to (dy, -dx)
            element.set("transform", f"rotate(-90 {num(x)} {num(y)})")
            self.box.add(x + top, y - right, x + bottom, y - left)
        else:
            self.box.add(x + left, y + top, x + right, y + bottom)

    def hatch(self, x0: float, y0: float, x1: float, y1: float) -> str:
        """Path data of "/" lines clipped to a rectangle, on a lattice shared by all cells."""
        s = HATCH_SPACING
        parts = []
        c = math.floor((x0 + y0) / s) * s + s
        while c < x1 + y1:
            xa, xb = max(x0, c - y1), min(x1, c - y0)
            if xb - xa > 0.01:
                parts.append(f"M{num(xa)} {num(c - xa)}L{num(xb)} {num(c - xb)}")
            c += s
        return "".join(parts)


def _cell_size(panels: Sequence[Panel]) -> float:
    """Cells with 15 px beside their longest number and, up to 90 px, key labels side by side.

    Without numbers: about 600 px across the largest matrix (8 to 44 px a cell).
    """
    longest = max((t for p in panels for t in p.texts), key=len, default="")
    if longest:
        labels = max((text_width(s, LABEL_PX) for s in panels[0].col_labels), default=0.0)
        return float(
            math.ceil(max(48.0, text_width(longest, CELL_TEXT_PX) + 30, min(labels + 8, 90.0)))
        )
    n = max(max(p.shape) for p in panels)
    return float(min(44.0, max(8.0, round(600.0 / n))))


def picture_svg(picture: Picture) -> str:
    """The whole SVG document (UTF-8 text with an XML declaration)."""
    panels = list(picture.panels)
    if not panels:
        raise ValueError("nothing to export: no matrix is shown")
    n, m = panels[0].shape
    cols = max(1, min(picture.columns, len(panels)))
    rows = math.ceil(len(panels) / cols)
    cell = _cell_size(panels)
    line = line_height(LABEL_PX)
    w = _Writer(picture)

    # Which labels fit, as on screen: every token when a line fits the cell, else a round step.
    row_labels, col_labels = panels[0].row_labels, panels[0].col_labels
    shown_rows = tick_indices(n, label_step(n, cell, line + 2, MAX_TICKS), cell, line + 2)
    flat_need = max((text_width(s, LABEL_PX) for s in col_labels), default=0.0) + 8
    turned = label_step(m, cell, line + 2, MAX_TICKS) < label_step(m, cell, flat_need, MAX_TICKS)
    col_need = line + 2 if turned else flat_need
    shown_cols = tick_indices(m, label_step(m, cell, col_need, MAX_TICKS), cell, col_need)
    row_label_w = max((text_width(row_labels[i], LABEL_PX) for i in shown_rows), default=0.0)
    if turned:
        turned_w = max(text_width(col_labels[j], LABEL_PX) for j in shown_cols)
        key_labels_h = min(turned_w, MAX_KEY_LABEL_PX) + 6
    else:
        key_labels_h = line + 4

    title_h = line_height(TITLE_PX) + 6 if picture.title else 0.0
    head_h = line + 4 if any(p.title for p in panels) else 0.0
    query_title_w = line + 6
    # whole-pixel corners: cells meet on pixel edges at 100 %, 200 %, ...
    x_matrix0 = math.ceil(query_title_w + row_label_w + 6)
    y_matrix0 = math.ceil(title_h + line + 4 + head_h + key_labels_h)
    tile_w, tile_h = m * cell, n * cell

    def tile_origin(k: int) -> tuple[float, float]:
        r, c = divmod(k, cols)
        return (x_matrix0 + c * (tile_w + GAP_X), y_matrix0 + r * (tile_h + GAP_Y + head_h))

    block_right = x_matrix0 + cols * tile_w + (cols - 1) * GAP_X
    block_bottom = y_matrix0 + rows * tile_h + (rows - 1) * (GAP_Y + head_h)

    for k, panel in enumerate(panels):
        x0, y0 = tile_origin(k)
        _draw_cells(w, panel, x0, y0, cell)
        if panel.title:
            w.text(
                panel.title,
                x0 + tile_w / 2,
                y0 - (key_labels_h if k < cols else 0) - head_h / 2,
                LABEL_PX,
            )
        if panel.show_rows:
            for i in shown_rows:
                w.text(panel.row_labels[i], x0 - 6, y0 + (i + 0.5) * cell, LABEL_PX, anchor="end")
        if panel.show_cols and k < cols:
            for j in shown_cols:
                x = x0 + (j + 0.5) * cell
                if turned:
                    w.text(panel.col_labels[j], x, y0 - 4, LABEL_PX, anchor="start", turned=True)
                else:
                    w.text(panel.col_labels[j], x, y0 - line / 2 - 2, LABEL_PX)

    middle_x = (x_matrix0 + block_right) / 2
    w.text(KEY_TITLE, middle_x, title_h + line / 2, LABEL_PX)
    w.text(QUERY_TITLE, line / 2, (y_matrix0 + block_bottom) / 2, LABEL_PX, turned=True)
    if picture.bar is not None:
        _draw_bar(w, picture.bar, block_right + BAR_GAP, y_matrix0, block_bottom)
    if picture.title:
        w.text(
            picture.title,
            (w.box.left + w.box.right) / 2,
            line_height(TITLE_PX) / 2,
            TITLE_PX,
            bold=True,
        )
    return _document(picture, w)


def _draw_cells(w: _Writer, panel: Panel, x0: float, y0: float, cell: float) -> None:
    n, m = panel.shape
    picture = w.picture
    group = ET.SubElement(w.root, "g", {"shape-rendering": "crispEdges"})
    outer, w.root = w.root, group
    for i in range(n):
        for j in range(m):
            if not panel.masked[i, j]:
                # inner cells reach under their right and lower neighbours by SEAM px, so
                # no background shows through two antialiased edges sharing a pixel
                w.rect(
                    x0 + j * cell,
                    y0 + i * cell,
                    cell + (SEAM if j < m - 1 else 0.0),
                    cell + (SEAM if i < n - 1 else 0.0),
                    hex_color(panel.colors[i, j]),
                )
    runs = masked_runs(panel.masked)
    for i, j, length in runs:
        w.rect(
            x0 + j * cell,
            y0 + i * cell,
            length * cell + (SEAM if j + length < m else 0.0),
            cell + (SEAM if i < n - 1 else 0.0),
            picture.mask_fill,
        )
    w.root = outer
    if runs:
        lines = "".join(
            w.hatch(x0 + j * cell, y0 + i * cell, x0 + (j + length) * cell, y0 + (i + 1) * cell)
            for i, j, length in runs
        )
        ET.SubElement(
            w.root,
            "path",
            {"d": lines, "stroke": picture.mask_lines, "stroke-width": "1", "fill": "none"},
        )
    if not panel.texts:
        return
    texts = ET.SubElement(w.root, "g", {"class": "cell-texts"})
    outer, w.root = w.root, texts
    pad = 4.0
    for k, text in enumerate(panel.texts):
        if not text:
            continue
        i, j = divmod(k, m)
        cx, cy = x0 + (j + 0.5) * cell, y0 + (i + 0.5) * cell
        if panel.masked[i, j]:  # a box keeps the text readable over the hatching
            bw = min(text_width(text, CELL_TEXT_PX) + 2 * pad, cell)
            bh = min(line_height(CELL_TEXT_PX) + 2 * pad, cell)
            w.rect(cx - bw / 2, cy - bh / 2, bw, bh, picture.mask_fill)
        color = "#ffffff" if panel.white_text[i, j] else "#000000"
        w.text(text, cx, cy, CELL_TEXT_PX, fill=color)
    w.root = outer


def _draw_bar(w: _Writer, bar: ColourBar, x: float, top: float, bottom: float) -> None:
    """The colour bar's title (turned), a gradient of the colour map, ticks and their values."""
    line = line_height(LABEL_PX)
    height = max(bottom - top, 60.0)
    w.text(bar.label, x + line / 2, top + height / 2, LABEL_PX, turned=True)
    x_bar = x + line + 4
    stops = ET.Element(
        "linearGradient", {"id": "colour-bar", "x1": "0", "y1": "1", "x2": "0", "y2": "0"}
    )
    count = len(bar.lut)
    for k in range(0, count, 8) if count > 8 else range(count):
        ET.SubElement(
            stops, "stop", {"offset": num(k / (count - 1)), "stop-color": hex_color(bar.lut[k])}
        )
    ET.SubElement(stops, "stop", {"offset": "1", "stop-color": hex_color(bar.lut[-1])})
    w.root.insert(0, stops)
    w.rect(x_bar, top, BAR_W, height, "url(#colour-bar)")
    lo, hi = bar.levels
    ticks = ET.SubElement(w.root, "path", {"stroke": w.picture.foreground, "stroke-width": "1"})
    marks = []
    for value in nice_ticks(lo, hi, min(max(int(height / 40), 4), 6)):  # 4 to 6 steps
        y = top + height - (value - lo) / (hi - lo) * height if hi > lo else top + height
        marks.append(f"M{num(x_bar + BAR_W)} {num(y)}h{num(TICK_LEN)}")
        w.text(significant(value, 6), x_bar + BAR_W + TICK_LEN + 3, y, LABEL_PX, anchor="start")
    ticks.set("d", "".join(marks))
    w.box.add(x_bar + BAR_W, top, x_bar + BAR_W + TICK_LEN, top + height)


def _document(picture: Picture, w: _Writer) -> str:
    box = w.box
    # whole pixels: at 100 % the cells' edges fall on pixel edges
    x, y = math.floor(box.left - MARGIN), math.floor(box.top - MARGIN)
    width, height = math.ceil(box.right + MARGIN) - x, math.ceil(box.bottom + MARGIN) - y
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "version": "1.1",
            "width": num(width),
            "height": num(height),
            "viewBox": f"{num(x)} {num(y)} {num(width)} {num(height)}",
            "font-family": FONT,
        },
    )
    defs = [e for e in w.root if e.tag == "linearGradient"]
    if defs:
        holder = ET.SubElement(svg, "defs")
        for element in defs:
            w.root.remove(element)
            holder.append(element)
    if picture.background is not None:
        ET.SubElement(
            svg,
            "rect",
            {
                "x": num(x),
                "y": num(y),
                "width": num(width),
                "height": num(height),
                "fill": picture.background,
                "class": "background",
            },
        )
    if picture.title:
        ET.SubElement(svg, "title").text = picture.title
    svg.extend(list(w.root))
    ET.indent(svg, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(svg, encoding="unicode") + "\n"
