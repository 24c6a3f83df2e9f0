"""Where labels and tiles go, as plain arithmetic (no Qt): tick thinning and the heads grid.

Kept apart from the drawing so it can be tested with numbers alone.
"""

from __future__ import annotations

import math

MAX_TICKS = 32  # when labels must be thinned, at most about this many are kept
MAX_LABEL_CHARS = 12


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
