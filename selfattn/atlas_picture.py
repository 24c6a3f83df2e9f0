"""The atlas picture: a grid of layers (rows) x heads (columns), one small heatmap per head.

Pure numpy pixels (no Qt), so the command line can write it as PNG and the window
can show the same image. Colours: the viridis-like map of selfattn.png over the
fixed range 0..1, so heads can be compared with each other. A head with more
than MAX_THUMB tokens is shown block-averaged: each pixel is the mean of a
f x f block of weights, f = ceil(n / MAX_THUMB).

Layer numbers run down the left margin and head numbers along the top, drawn
with a 3 x 5 pixel digit font (scaled), so the picture needs no font files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .png import colormap

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
