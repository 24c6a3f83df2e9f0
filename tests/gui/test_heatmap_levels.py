"""The heatmap's numpy-only arithmetic: levels, the float32 display copy, text contrast.

No widget here: ``app.heatmap.levels`` imports neither Qt nor pyqtgraph.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from app.heatmap.levels import (
    display_mask,
    display_scale,
    fill_display_copy,
    matrix_levels,
    tick_unit_exponent,
    white_text,
)


def test_ordinary_levels_need_no_scaling() -> None:
    assert display_scale((0.0, 1.0)) == 1.0
    assert display_scale((-3.0e29, 3.0e29)) == 1.0  # below 2**100 = 1.27e30


def test_levels_beyond_float32_scale_by_a_power_of_two() -> None:
    # 1e39 = 0.73 x 2**130: times 2**-30 it is 0.73 x 2**100, inside float32 with room
    assert display_scale((-1e39, 1e39)) == 2.0**-30
    assert display_scale((0.0, 2.0**100)) == 0.5  # exactly 2**100 goes to 2**99


@given(st.floats(min_value=1e-300, max_value=1.7976931348623157e308))
def test_scaled_levels_stay_under_2_to_the_100(top: float) -> None:
    scale = display_scale((-top, top))
    assert math.frexp(scale)[0] == 0.5  # a power of two
    assert top * scale < 2.0**100
    if scale < 1.0:
        assert top * scale >= 2.0**99  # no more scaling than needed


def test_display_copy_scales_values_and_gives_masked_cells_the_low_level() -> None:
    values = np.array([[1e39, -np.inf], [5e38, 0.0]])
    mask = np.array([[False, True], [False, False]])
    buffer = np.empty((2, 2), dtype=np.float32)
    fill_display_copy(buffer, values, mask, (-1e39, 1e39), 2.0**-30)
    want = np.array([[1e39, -1e39], [5e38, 0.0]]) * 2.0**-30
    np.testing.assert_allclose(buffer, want.astype(np.float32), rtol=0)
    assert np.all(np.isfinite(buffer))


def test_scores_levels_are_computed_in_float64() -> None:
    values = np.array([[1e39, -2e39], [np.inf, 3.0]])
    mask = display_mask(values, None)  # inf is not finite: masked
    assert matrix_levels("scores", values, mask) == (-2e39, 2e39)


def test_bar_counts_in_1024s_only_next_to_the_largest_double() -> None:
    assert tick_unit_exponent((-1e39, 1e39)) == 0
    assert tick_unit_exponent((-1e307, 1e307)) == 0  # 1e307 < 2**1022 = 4.5e307
    assert tick_unit_exponent((-1e308, 1e308)) == 10


def test_text_contrast_near_the_largest_double_does_not_overflow() -> None:
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[:128] = (255, 255, 255, 255)  # low half white cells: black text
    lut[128:] = (0, 0, 0, 255)  # high half black cells: white text
    values = np.array([[1.7e308, -1.7e308, 0.0]])
    mask = np.zeros((1, 3), dtype=bool)
    white = white_text(values, mask, lut, (-1.7e308, 1.7e308), (150, 150, 150))
    # top -> index 255 (black cell, white text); bottom -> 0; middle -> 127 (white cell)
    assert white.tolist() == [[True, False, False]]
