"""Colours: the colour maps, the mask's grey from the palette, and the palette's own colours.

pyqtgraph ignores the Qt palette, so everything drawn takes its window and text
colours from here and a dark desktop theme gives a dark plot.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

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
# Masked cells: a grey between the window colour and its text colour (no colour map
# here contains a neutral grey), with diagonal lines: reads as "masked", not as 0. On a
# dark palette both stay dim, so the mask is not the brightest thing on screen.
MASK_BLEND = {False: (0.33, 0.6), True: (0.15, 0.32)}  # dark palette? -> (fill, lines)


def lut(name: str) -> np.ndarray:
    """256-entry RGBA lookup table of a pyqtgraph colour map."""
    return pg.colormap.get(name).getLookupTable(nPts=256, alpha=True)


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """The colour a fraction ``t`` of the way from ``a`` to ``b``."""
    return QColor(
        round(a.red() + t * (b.red() - a.red())),
        round(a.green() + t * (b.green() - a.green())),
        round(a.blue() + t * (b.blue() - a.blue())),
    )


def is_dark(palette: QPalette) -> bool:
    """A dark theme: the window colour is darker than mid grey."""
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def diverging_colormap(palette: QPalette) -> str:
    """The scores' map: a light middle on a light theme, a dark one on a dark theme."""
    return DIVERGING_COLORMAP_DARK if is_dark(palette) else DIVERGING_COLORMAP


def mask_colors(palette: QPalette) -> tuple[QColor, QColor]:
    """(fill, hatch lines) of masked cells, taken from the palette's window and text."""
    bg = palette.color(QPalette.ColorRole.Window)
    fg = palette.color(QPalette.ColorRole.WindowText)
    fill_t, line_t = MASK_BLEND[is_dark(palette)]
    return blend(bg, fg, fill_t), blend(bg, fg, line_t)


def mask_lut(fill: QColor) -> np.ndarray:
    """Two-colour lookup table of the mask overlay: 0 transparent, 1 the mask fill."""
    table = np.zeros((256, 4), dtype=np.uint8)
    table[1:] = (fill.red(), fill.green(), fill.blue(), 255)
    return table


def palette_colors(widget: QWidget) -> tuple[QColor, QColor]:
    """(window, window text) of a widget's palette: the plot's background and foreground."""
    palette = widget.palette()
    return palette.color(QPalette.ColorRole.Window), palette.color(QPalette.ColorRole.WindowText)
