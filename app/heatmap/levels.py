"""What the colours mean, as numpy alone (no Qt): masks, levels and the float32 display copy.

The levels are worked out in float64 from the values handed in. The image is drawn
from a float32 copy; scores of a float64 preset can be far beyond float32's range
(3.4e38), so the copy is taken in display units (values times a power of two) when
the levels are huge, and the colour bar reads its ticks back in true units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

KINDS = ("weights", "scores")
# How weights map to colours, for a combo box: (label, mode for set_weight_range).
# "fixed": 0..1, the same colour means the same weight everywhere. "max": 0..the
# largest visible weight, so 2000 weights of ~0.0005 do not all draw as one dark colour.
WEIGHT_RANGES: tuple[tuple[str, str], ...] = (("0 .. 1", "fixed"), ("0 .. max", "max"))
WEIGHT_EPS = 1e-6  # smallest top level in "max" mode, so an all-masked matrix still draws
SCORE_EPS = 1e-12  # smallest half-range for score levels, so an all-zero matrix still draws
# The display copy keeps |levels| below 2**100 (float32 reaches 2**128): pyqtgraph
# subtracts and scales in the image's dtype, and a span of 2 x 3e38 would overflow.
DISPLAY_LIMIT_EXPONENT = 100
# The colour bar's axis subtracts its ends to place ticks: past ±2**1022 the span
# overflows float64, so such a bar counts in units of 2**10 = 1024 instead.
TICK_LIMIT_EXPONENT = 1022
TICK_UNIT_EXPONENT = 10


def display_mask(values: np.ndarray, visible: np.ndarray | None) -> np.ndarray:
    """(n, m) True where a cell is drawn as masked: not finite, or hidden by ``visible``."""
    shown = np.isfinite(values)
    if visible is not None:
        np.logical_and(shown, np.asarray(visible, dtype=bool), out=shown)
    return np.logical_not(shown, out=shown)  # in place: one (n, m) buffer, no temporaries


def masked_runs(mask: np.ndarray) -> list[tuple[int, int, int]]:
    """(row, first col, length) of each horizontal run of True cells."""
    runs: list[tuple[int, int, int]] = []
    for i, row in enumerate(mask):
        padded = np.concatenate(([False], row, [False])).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        runs.extend((i, int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True))
    return runs


def visible_max(values: np.ndarray, mask: np.ndarray) -> float:
    """Largest value of the cells not masked (0 when all are), without copying them."""
    return float(np.max(values, where=~mask, initial=0.0))


def matrix_levels(
    kind: str, values: np.ndarray, mask: np.ndarray, weight_range: str = "fixed"
) -> tuple[float, float]:
    """Colour levels in true units: weights 0..1 (or 0..max), scores symmetric around 0."""
    if kind == "weights":
        if weight_range == "max":
            return (0.0, max(visible_max(values, mask), WEIGHT_EPS))
        return (0.0, 1.0)
    shown = values[~mask]
    half = float(np.max(np.abs(shown))) if shown.size else 0.0
    half = max(half, SCORE_EPS)
    return (-half, half)


def check_weight_range(mode: str) -> None:
    modes = [m for _, m in WEIGHT_RANGES]
    if mode not in modes:
        raise ValueError(f"weight range must be one of {modes}, got {mode!r}")


def bar_label(kind: str, weight_range: str, unit_exponent: int = 0) -> str:
    """Colour bar title; says when the weights' colours run to the largest one only.

    ``unit_exponent`` k: the bar counts in units of 2**k (only for scores near the
    largest double), and says so.
    """
    if kind == "scores":
        return f"score (× {2**unit_exponent})" if unit_exponent else "score"
    return "weight (0 .. max)" if weight_range == "max" else "weight"


def display_scale(levels: tuple[float, float]) -> float:
    """The power of two that brings ``levels`` into the float32 display copy's safe range.

    1.0 for every ordinary matrix; a power of two changes no digit of a float32.
    """
    top = max(abs(levels[0]), abs(levels[1]))
    if not math.isfinite(top) or top < 2.0**DISPLAY_LIMIT_EXPONENT:
        return 1.0
    exponent = math.frexp(top)[1]  # top < 2**exponent
    return math.ldexp(1.0, DISPLAY_LIMIT_EXPONENT - exponent)


def tick_unit_exponent(levels: tuple[float, float]) -> int:
    """k such that the colour bar reads values in units of 2**k: 0 below ±2**1022."""
    top = max(abs(levels[0]), abs(levels[1]))
    return TICK_UNIT_EXPONENT if top >= 2.0**TICK_LIMIT_EXPONENT else 0


def fill_display_copy(
    buffer: np.ndarray,
    values: np.ndarray,
    mask: np.ndarray,
    levels: tuple[float, float],
    scale: float,
) -> None:
    """Write ``values * scale`` into the float32 ``buffer``; masked cells get the low level.

    The overlay covers masked and non-finite cells, so their colour never shows; giving
    them the low level keeps the buffer free of NaN and inf.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # masked cells may overflow
        if scale == 1.0:
            np.copyto(buffer, values, casting="unsafe")
        else:
            np.multiply(values, scale, out=buffer, casting="unsafe")
    np.copyto(buffer, np.float32(levels[0] * scale), where=mask)


def white_text(
    values: np.ndarray,
    mask: np.ndarray,
    lut: np.ndarray,
    levels: tuple[float, float],
    mask_rgb: Sequence[int],
) -> np.ndarray:
    """(n, m) True where a cell's colour is dark enough for white text, else black.

    The cell colour is the lookup-table entry the image uses for the value; masked
    cells are the mask grey. Halved before subtracting: levels of ±1.7e308 do not
    overflow their span.
    """
    lo, hi = levels[0] / 2, levels[1] / 2
    span = hi - lo if hi > lo else 0.5  # half of a span of 1
    with np.errstate(invalid="ignore", over="ignore"):
        position = np.clip((values / 2 - lo) / span * 255.0, 0, 255)
    index = np.where(mask, 0, np.nan_to_num(position)).astype(np.intp)  # truncates like int()
    luminance = lut[:, :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])  # (256,)
    white = luminance[index] <= 140
    white[mask] = luminance_of(mask_rgb) <= 140
    return white


def luminance_of(rgb: Sequence[int]) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
