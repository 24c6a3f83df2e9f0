"""The atlas picture: a grid of layers (rows) x heads (columns), one small heatmap per head.

Pure numpy pixels (no Qt), so the command line can write it as PNG and the window
can show the same image. Colours: the viridis-like map of selfattn.png over the
fixed range 0..1, so heads can be compared with each other. A head with more
than MAX_THUMB tokens is shown block-averaged: each pixel is the mean of a
f x f block of weights, f = ceil(n / MAX_THUMB).

Layer numbers run down the left margin and head numbers along the top, drawn
with a 3 x 5 pixel digit font (scaled), so the picture needs no font files.
`atlas_svg` gives the same thumbnails as an SVG with vector labels (slides).
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import numpy as np

from .png import colormap, encode_png

if TYPE_CHECKING:
    from .atlas import Atlas

MAX_THUMB = 128  # largest thumbnail side in weight cells
TARGET_THUMB_PX = 96  # small matrices are enlarged to about this many pixels
GAP = 4
BACKGROUND = 250
INK = 40
FONT_SCALE = 2

_GLYPHS = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "001", "001", "001"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
}


@dataclass(frozen=True)
class GridLayout:
    """Where each thumbnail sits: thumbnail (layer l, head h) from 0 has its top-left
    corner at (top + l * pitch, left + h * pitch); each cell is `cell` pixels and each
    pixel averages a `block` x `block` square of weights."""

    top: int
    left: int
    pitch: int
    thumb: int
    cell: int
    block: int


def block_mean(matrix: np.ndarray, block: int) -> np.ndarray:
    """The mean of each block x block square (the last, partial squares over what they hold)."""
    if block == 1:
        return np.asarray(matrix, dtype=np.float64)
    n, m = matrix.shape
    rows, cols = -(-n // block), -(-m // block)
    padded = np.zeros((rows * block, cols * block))
    counts = np.zeros_like(padded)
    padded[:n, :m] = matrix
    counts[:n, :m] = 1.0
    sums = padded.reshape(rows, block, cols, block).sum(axis=(1, 3))
    out: np.ndarray = sums / counts.reshape(rows, block, cols, block).sum(axis=(1, 3))
    return out


def _text_width(text: str) -> int:
    return len(text) * 4 * FONT_SCALE - FONT_SCALE


def _draw_text(image: np.ndarray, text: str, top: int, left: int) -> None:
    """Digits in INK, 3 x 5 glyphs scaled by FONT_SCALE, one blank column between them."""
    x = left
    for ch in text:
        for r, line in enumerate(_GLYPHS[ch]):
            for c, bit in enumerate(line):
                if bit == "1":
                    y0, x0 = top + r * FONT_SCALE, x + c * FONT_SCALE
                    image[y0 : y0 + FONT_SCALE, x0 : x0 + FONT_SCALE] = INK
        x += 4 * FONT_SCALE


def grid_layout(n_layers: int, n_heads: int, n_tokens: int) -> GridLayout:
    """Sizes of the picture for a model and a sentence length."""
    block = max(1, math.ceil(n_tokens / MAX_THUMB))
    cells = -(-n_tokens // block)
    cell = max(1, TARGET_THUMB_PX // cells)
    thumb = cells * cell
    glyph_h = 5 * FONT_SCALE
    left = _text_width(str(n_layers)) + 2 * GAP
    top = glyph_h + 2 * GAP
    return GridLayout(top=top, left=left, pitch=thumb + GAP, thumb=thumb, cell=cell, block=block)


def atlas_image(attentions: np.ndarray) -> tuple[np.ndarray, GridLayout]:
    """RGB pixels (uint8) of the whole atlas for attentions (L, H, n, n), and its layout."""
    att = np.asarray(attentions)
    if att.ndim != 4 or att.shape[-1] != att.shape[-2]:
        raise ValueError(f"attentions must be (layers, heads, n, n), got {att.shape}")
    n_layers, n_heads, n, _ = att.shape
    lay = grid_layout(n_layers, n_heads, n)
    height = lay.top + n_layers * lay.pitch
    width = lay.left + n_heads * lay.pitch
    image = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    for h in range(n_heads):
        label = str(h + 1)
        x = lay.left + h * lay.pitch + (lay.thumb - _text_width(label)) // 2
        _draw_text(image, label, GAP, max(x, 0))
    for layer in range(n_layers):
        y = lay.top + layer * lay.pitch
        label = str(layer + 1)
        glyph_top = y + (lay.thumb - 5 * FONT_SCALE) // 2
        _draw_text(image, label, max(glyph_top, 0), lay.left - GAP - _text_width(label))
        for h in range(n_heads):
            cells = block_mean(att[layer, h].astype(np.float64), lay.block)
            rgb = colormap(cells, 0.0, 1.0)
            thumb = np.repeat(np.repeat(rgb, lay.cell, axis=0), lay.cell, axis=1)
            x = lay.left + h * lay.pitch
            image[y : y + lay.thumb, x : x + lay.thumb] = thumb
    return image, lay


# The SVG version (slides) -------------------------------------------------------------
#
# Vector rectangles per weight would be huge (SmolLM2: 270 heads x n^2 cells), so the
# thumbnails are ONE embedded PNG (a data URI): exactly the pixels of atlas_image's grid,
# drawn without smoothing. Everything else is vector: the title, the input, layer and
# head numbers, axis names, a colour bar, and each head's metrics as a hover tooltip.

SVG_FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"
SVG_TITLE_PX = 16
SVG_TEXT_PX = 11
SVG_MARGIN = 12
SOURCE_SHOWN = 120  # characters of the input shown under the title
COLOUR_BAR_PX = (160, 10)


def _png_uri(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(pixels)).decode("ascii")


def _text_px(text: str, size: int) -> int:
    """A generous width estimate of `text` at font size `size` (no font metrics here)."""
    return math.ceil(0.62 * size * len(text))


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """`text` escaped for XML; characters XML 1.0 cannot hold become U+FFFD.

    A carriage return is written as a reference: a parser would read a literal one as a
    line feed."""
    return escape(_NOT_XML.sub("\ufffd", text), {"\r": "&#13;"})


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def atlas_svg(atlas: Atlas) -> str:
    """The atlas as an SVG document (text): atlas_image's thumbnails with vector labels."""
    from .atlas import METRICS  # noqa: PLC0415 - atlas imports the model readers
    from .numbers import significant  # noqa: PLC0415

    image, lay = atlas_image(atlas.attentions)
    grid = image[lay.top :, lay.left :]
    layers, heads, n = atlas.n_layers, atlas.n_heads, len(atlas.tokens)
    label_w = SVG_TEXT_PX * (len(str(layers)) + 1)
    gx = SVG_MARGIN + SVG_TEXT_PX + 6 + label_w  # axis name, gap, layer numbers
    gy = SVG_MARGIN + SVG_TITLE_PX + 2 * SVG_TEXT_PX + 14 + 2 * SVG_TEXT_PX + 6
    bar_w, bar_h = COLOUR_BAR_PX
    title = f"{atlas.model}: {layers} layers × {heads} heads, {n} tokens"
    source = "input: " + _shortened(atlas.source, SOURCE_SHOWN)
    caption = "attention weight; each thumbnail: queries down, keys across"
    if lay.block > 1:
        caption += f"; each pixel the mean of {lay.block} × {lay.block} weights"
    widest_text = max(
        _text_px(title, SVG_TITLE_PX), _text_px(source, SVG_TEXT_PX), _text_px(caption, SVG_TEXT_PX)
    )
    width = max(gx + grid.shape[1], SVG_MARGIN + widest_text) + SVG_MARGIN
    bar_y = gy + grid.shape[0] + 8
    text_y = bar_y + bar_h + SVG_TEXT_PX + 2
    height = text_y + SVG_TEXT_PX + 6 + SVG_MARGIN
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
        f' width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' font-family="{SVG_FONT}" font-size="{SVG_TEXT_PX}" fill="rgb({INK},{INK},{INK})">',
        f"<title>{_xml(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="rgb({BACKGROUND},{BACKGROUND},'
        f'{BACKGROUND})"/>',
        f'<text id="title" x="{SVG_MARGIN}" y="{SVG_MARGIN + SVG_TITLE_PX}"'
        f' font-size="{SVG_TITLE_PX}" font-weight="bold">{_xml(title)}</text>',
        f'<text id="source" x="{SVG_MARGIN}" y="{SVG_MARGIN + SVG_TITLE_PX + 2 * SVG_TEXT_PX}">'
        f"{_xml(source)}</text>",
    ]
    head_y = gy - 6
    out.append(
        f'<text id="head-axis" x="{gx + grid.shape[1] / 2:g}" y="{head_y - SVG_TEXT_PX - 4}"'
        ' text-anchor="middle">head</text>'
    )
    out.append('<g id="head-labels" text-anchor="middle">')
    for h in range(heads):
        out.append(f'<text x="{gx + h * lay.pitch + lay.thumb / 2:g}" y="{head_y}">{h + 1}</text>')
    out.append("</g>")
    axis_x, axis_y = SVG_MARGIN + SVG_TEXT_PX, gy + grid.shape[0] / 2
    out.append(
        f'<text id="layer-axis" x="{axis_x}" y="{axis_y:g}" text-anchor="middle"'
        f' transform="rotate(-90 {axis_x} {axis_y:g})">layer</text>'
    )
    out.append('<g id="layer-labels" text-anchor="end">')
    for layer in range(layers):
        y = gy + layer * lay.pitch + lay.thumb / 2
        out.append(f'<text x="{gx - 6}" y="{y:g}" dy="0.35em">{layer + 1}</text>')
    out.append("</g>")
    out.append(
        f'<image id="thumbnails" x="{gx}" y="{gy}" width="{grid.shape[1]}"'
        f' height="{grid.shape[0]}" preserveAspectRatio="none" image-rendering="optimizeSpeed"'
        f' style="image-rendering:pixelated" xlink:href="{_png_uri(grid)}"/>'
    )
    out.append('<g id="heads" fill="none" pointer-events="all">')
    for layer in range(layers):
        for h in range(heads):
            values = []
            for metric in METRICS:
                value = float(atlas.metrics[metric][layer, h])
                shown = "undefined" if math.isnan(value) else significant(value, ascii_minus=True)
                values.append(f"{metric} {shown}")
            tip = f"layer {layer + 1}, head {h + 1}: " + ", ".join(values)
            out.append(
                f'<rect x="{gx + h * lay.pitch}" y="{gy + layer * lay.pitch}"'
                f' width="{lay.thumb}" height="{lay.thumb}"><title>{_xml(tip)}</title></rect>'
            )
    out.append("</g>")
    ramp = colormap(np.linspace(0.0, 1.0, bar_w)[None, :], 0.0, 1.0)
    out += [
        f'<image id="colour-bar" x="{gx}" y="{bar_y}" width="{bar_w}" height="{bar_h}"'
        f' preserveAspectRatio="none" image-rendering="optimizeSpeed"'
        f' style="image-rendering:pixelated" xlink:href="{_png_uri(ramp)}"/>',
        f'<text id="colour-min" x="{gx}" y="{text_y}">0</text>',
        f'<text id="colour-max" x="{gx + bar_w}" y="{text_y}" text-anchor="end">1</text>',
        f'<text id="caption" x="{gx}" y="{text_y + SVG_TEXT_PX + 6}">{_xml(caption)}</text>',
        "</svg>",
        "",
    ]
    return "\n".join(out)
