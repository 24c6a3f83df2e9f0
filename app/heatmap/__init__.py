"""Heatmap views of attention matrices (pyqtgraph), drawn from arrays they are handed.

Views never compute attention: the window hands them a result's weights or scores
and they draw them. Modules, from plain arithmetic up to the widgets:

- ``layout``: which token labels to show, the grid of heads (no Qt)
- ``levels``: masks, colour levels, the float32 display copy (numpy only)
- ``colors``: colour maps and the palette's colours
- ``axes``: the key axis whose labels turn 90°
- ``cell_texts``: the numbers printed in the cells (texts from ``selfattn.numbers``)
- ``matrix_plot``: one matrix in a PlotItem (image, mask, texts, ticks, outline)
- ``export``: PNG and SVG files
- ``base``: what both views share (colour bar, colour map, mouse, export)
- ``single``: ``HeatmapView``, one matrix; ``grid``: ``AllHeadsView``, every head
"""

from __future__ import annotations

from selfattn.numbers import CELL_FORMATS, HOVER_DIGITS, SCORE_FORMATS, WEIGHT_FORMATS, significant
from selfattn.numbers import cell_text as format_cell
from selfattn.numbers import cell_texts as format_cells

from .axes import KEY_TITLE, QUERY_TITLE
from .base import HeatmapBase
from .colors import (
    DIVERGING_COLORMAP,
    DIVERGING_COLORMAP_DARK,
    SEQUENTIAL_COLORMAPS,
    is_dark,
    mask_colors,
)
from .grid import AllHeadsView
from .layout import MAX_TICKS, best_grid, label_step, round_step, tick_indices, truncate_label
from .levels import KINDS, WEIGHT_RANGES
from .single import CLICK_HINT, HeatmapView


def format_value(value: float) -> str:
    """Fuller text for the hover readout (6 significant digits, real minus signs)."""
    return significant(value, HOVER_DIGITS)


__all__ = [
    "CELL_FORMATS",
    "CLICK_HINT",
    "DIVERGING_COLORMAP",
    "DIVERGING_COLORMAP_DARK",
    "KEY_TITLE",
    "KINDS",
    "MAX_TICKS",
    "QUERY_TITLE",
    "SCORE_FORMATS",
    "SEQUENTIAL_COLORMAPS",
    "WEIGHT_FORMATS",
    "WEIGHT_RANGES",
    "AllHeadsView",
    "HeatmapBase",
    "HeatmapView",
    "best_grid",
    "format_cell",
    "format_cells",
    "format_value",
    "is_dark",
    "label_step",
    "mask_colors",
    "round_step",
    "tick_indices",
    "truncate_label",
]
