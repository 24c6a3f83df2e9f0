"""What the single view's image holds: orientation, colours, levels, masks, palettes.

Expected colours come from the colour map's definition (pyqtgraph's viridis / CET-D1
tables); the seed example's weights are the published 3-token walk-through.
"""

from __future__ import annotations

import math

import heatmap_helpers as hh
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPalette

from app.heatmap import (
    DIVERGING_COLORMAP,
    DIVERGING_COLORMAP_DARK,
    WEIGHT_RANGES,
    HeatmapView,
)


@pytest.fixture
def view(qtbot) -> HeatmapView:
    return hh.shown_view(qtbot)


# -- what the image holds ------------------------------------------------------------


def test_image_is_the_matrix_row_major(view: HeatmapView) -> None:
    values = np.array([[0.0, 0.1, 0.2], [0.3, 0.4, 0.5]])  # 2 queries x 3 keys
    view.set_matrix(values, ["a", "b"], ["x", "y", "z"], kind="weights")
    image = view.image_item.image
    assert image.shape == (2, 3)  # rows = queries, not transposed
    assert image.dtype == np.float32 and image.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(image, values, rtol=1e-6)
    # the data coordinate of cell (row 1, col 2) is pixel (x=2, y=1) of the image item
    vb = view.plot_item.getViewBox()
    scene = vb.mapViewToScene(QPointF(2.5, 1.5))
    pixel = view.image_item.mapFromScene(scene)
    assert math.floor(pixel.x()) == 2 and math.floor(pixel.y()) == 1


def test_row_zero_is_on_top_and_keys_run_left_to_right(view: HeatmapView) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    hh.settle()
    top, below = view.cell_center(0, 0), view.cell_center(1, 0)
    left, right = view.cell_center(0, 0), view.cell_center(0, 1)
    assert top.y() < below.y()
    assert left.x() < right.x()


def test_rendered_colours_follow_the_values_cell_by_cell(view: HeatmapView) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    for i in range(3):
        for j in range(3):
            # sample away from the printed value in the middle of the cell
            got = hh.rgb(hh.pixel(view, i, j, fx=0.15, fy=0.15))
            want = hh.expected_rgb("viridis", hh.SEED_WEIGHTS[i, j], 0.0, 1.0)
            assert hh.close(got, want), (i, j, got, want)


def test_weights_levels_stay_zero_to_one(view: HeatmapView) -> None:
    view.set_matrix(np.full((4, 4), 0.25), hh.tokens(4), hh.tokens(4), kind="weights")
    assert view.levels() == (0.0, 1.0)
    assert tuple(view.image_item.levels) == (0.0, 1.0)
    assert tuple(view.colorbar.levels()) == (0.0, 1.0)


def test_uniform_attention_draws_one_colour_not_autoscaled(view: HeatmapView) -> None:
    view.set_matrix(np.full((4, 4), 0.25), hh.tokens(4), hh.tokens(4), kind="weights")
    want = hh.expected_rgb("viridis", 0.25, 0.0, 1.0)
    assert hh.close(hh.rgb(hh.pixel(view, 0, 0, 0.15, 0.15)), want)
    assert hh.close(hh.rgb(hh.pixel(view, 3, 3, 0.15, 0.15)), want)


def test_scores_levels_are_symmetric_around_zero(view: HeatmapView) -> None:
    scores = np.array([[-3.0, 1.0], [2.0, 0.5]])
    view.set_matrix(scores, ["a", "b"], ["x", "y"], kind="scores")
    assert view.levels() == (-3.0, 3.0)
    assert tuple(view.colorbar.levels()) == (-3.0, 3.0)
    # 0 sits at the middle of the diverging map
    assert view.colorbar.colorMap().name == DIVERGING_COLORMAP


def test_scores_levels_ignore_masked_and_minus_inf(view: HeatmapView) -> None:
    scaled = np.array([[-np.inf, 1.0], [2.0, -0.5]])
    visible = np.array([[False, True], [True, False]])
    view.set_matrix(scaled, ["a", "b"], ["x", "y"], kind="scores", visible=visible)
    assert view.levels() == (-2.0, 2.0)  # |-0.5| is masked, -inf never counts
    assert np.all(np.isfinite(view.image_item.image))


def test_all_zero_scores_still_draw(view: HeatmapView) -> None:
    view.set_matrix(np.zeros((3, 3)), hh.tokens(3), hh.tokens(3), kind="scores")
    lo, hi = view.levels()
    assert lo < 0 < hi and lo == -hi
    assert np.all(view.image_item.image == 0)


def test_weight_range_max_spreads_small_weights_over_the_colours(view: HeatmapView) -> None:
    n = 200  # uniform-ish weights of ~1/200: on 0..1 all one dark colour
    weights = np.full((n, n), 1.0 / n)
    weights[:, 0] = 2.0 / n
    weights /= weights.sum(axis=1, keepdims=True)
    top = 2.0 / (n + 1)  # the first column's weight after normalising: 2 / 201
    view.set_matrix(weights, hh.tokens(n), hh.tokens(n), kind="weights")
    assert view.levels() == (0.0, 1.0) and view.weight_range() == "fixed"
    view.set_weight_range("max")  # redraws what is shown
    assert view.levels() == pytest.approx((0.0, top))
    assert tuple(view.image_item.levels) == pytest.approx((0.0, top))
    assert tuple(view.colorbar.levels()) == pytest.approx((0.0, top))
    assert "max" in view.colorbar.getAxis("left").labelText
    # the largest weight now draws the top colour of the map, a 1/201 cell the middle
    assert hh.close(hh.rgb(hh.pixel(view, 5, 0)), hh.expected_rgb("viridis", 1.0, 0.0, 1.0))
    assert hh.close(hh.rgb(hh.pixel(view, 5, 100)), hh.expected_rgb("viridis", 0.5, 0.0, 1.0))
    view.set_weight_range("fixed")
    assert view.levels() == (0.0, 1.0)
    assert view.colorbar.getAxis("left").labelText == "weight"


def test_weight_range_max_ignores_masked_cells(view: HeatmapView) -> None:
    weights = np.array([[0.3, 0.9], [0.4, 0.6]])
    visible = np.array([[True, False], [True, False]])
    view.set_weight_range("max")
    view.set_matrix(weights, ["a", "b"], ["x", "y"], kind="weights", visible=visible)
    assert view.levels() == (0.0, 0.4)
    hidden = np.zeros((2, 2), dtype=bool)
    view.set_matrix(weights, ["a", "b"], ["x", "y"], kind="weights", visible=hidden)
    lo, hi = view.levels()
    assert lo == 0.0 and 0.0 < hi < 1e-3  # all masked: still a drawable range
    view.set_matrix(np.array([[-1.0, 2.0]]), ["a"], ["x", "y"], kind="scores")
    assert view.levels() == (-2.0, 2.0)  # scores keep their symmetric range


def test_weight_range_rejects_unknown_modes(view: HeatmapView) -> None:
    assert [mode for _, mode in WEIGHT_RANGES] == ["fixed", "max"]
    with pytest.raises(ValueError, match="weight range"):
        view.set_weight_range("auto")
    assert view.weight_range() == "fixed"


def test_switching_back_to_weights_restores_the_sequential_map(view: HeatmapView) -> None:
    view.set_matrix(np.eye(2), ["a", "b"], ["x", "y"], kind="scores")
    view.set_matrix(np.eye(2), ["a", "b"], ["x", "y"], kind="weights")
    assert view.colorbar.colorMap().name == "viridis"
    assert view.levels() == (0.0, 1.0)


# -- masked cells ----------------------------------------------------------------------


def test_masked_weight_is_drawn_grey_not_as_zero(view: HeatmapView) -> None:
    causal = np.tril(np.ones((3, 3), dtype=bool))
    weights = np.where(causal, hh.SEED_WEIGHTS, 0.0)
    view.set_matrix(weights, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights", visible=causal)
    overlay = view.mask_item.image
    assert overlay.shape == (3, 3)
    np.testing.assert_array_equal(overlay > 0, ~causal)
    # rendered: every pixel sampled inside a masked cell is neutral grey (mask or hatch),
    # which viridis never is; a visible cell keeps its colour
    for fx, fy in ((0.2, 0.2), (0.3, 0.7), (0.8, 0.25), (0.75, 0.8)):
        r, g, b = hh.rgb(hh.pixel(view, 0, 2, fx, fy))
        assert r == g == b, (fx, fy, r, g, b)
    samples = {hh.rgb(hh.pixel(view, 0, 1, fx, 0.2)) for fx in np.linspace(0.1, 0.9, 17)}
    assert hh.rgb(view.matrix.mask_fill) in samples
    zero_colour = hh.expected_rgb("viridis", 0.0, 0.0, 1.0)
    assert not hh.close(hh.rgb(hh.pixel(view, 0, 2, 0.2, 0.2)), zero_colour)


def test_masked_weights_print_nothing_not_zero(view: HeatmapView) -> None:
    causal = np.tril(np.ones((3, 3), dtype=bool))
    weights = np.where(causal, hh.SEED_WEIGHTS, 0.0)  # what attention() returns: 0 when masked
    weights[2, 2] = 0.0  # a real 0 that is not masked still prints "0"
    view.set_matrix(weights, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights", visible=causal)
    hh.settle()
    assert view.cell_texts() == [
        "0.136", "", "",
        "0.001", "0.909", "",
        "0.007", "0.755", "0",
    ]  # fmt: skip
    # rendered: a masked cell holds only the fill and the hatching, no black glyphs
    fill, lines = hh.rgb(view.matrix.mask_fill), hh.rgb(view.matrix.mask_lines)
    assert hh.text_pixels(view, 0, 2) <= {fill, lines} | hh.blends(fill, lines)
    assert "(masked)" in view.hover_text(0, 2)  # the number is still a hover away


def test_dark_palette_keeps_masked_cells_dim(view: HeatmapView) -> None:
    light_fill = view.matrix.mask_fill
    causal = np.tril(np.ones((3, 3), dtype=bool))
    view.set_matrix(np.where(causal, hh.SEED_WEIGHTS, 0.0), hh.SEED_TOKENS, hh.SEED_TOKENS,
                    kind="weights", visible=causal)  # fmt: skip
    view.setPalette(hh.dark_palette())
    hh.settle()
    fill, lines = view.matrix.mask_fill, view.matrix.mask_lines
    # between the window (45) and its text (230) but close to the window: dim
    assert 45 < fill.lightness() < 100 and 45 < lines.lightness() < 120
    assert light_fill.lightness() > 128  # a light theme keeps a light grey
    for fx, fy in ((0.2, 0.2), (0.5, 0.5), (0.8, 0.3)):
        assert hh.pixel(view, 0, 2, fx, fy).lightness() < 120  # nothing glaring
    assert hh.rgb(fill) in {
        hh.rgb(hh.pixel(view, 0, 1, fx, 0.2)) for fx in np.linspace(0.1, 0.9, 17)
    }


def test_dark_palette_uses_a_dark_middled_diverging_map(view: HeatmapView) -> None:
    scores = np.array([[-3.0, 0.0], [3.0, 1.0]])
    view.set_matrix(scores, ["a", "b"], ["x", "y"], kind="scores")
    assert hh.pixel(view, 0, 1, 0.15, 0.15).lightness() > 200  # light theme: white middle
    view.setPalette(hh.dark_palette())  # switched while shown
    hh.settle()
    assert view.colorbar.colorMap().name == DIVERGING_COLORMAP_DARK
    zero = hh.rgb(hh.pixel(view, 0, 1, 0.15, 0.15))
    assert hh.close(zero, hh.expected_rgb(DIVERGING_COLORMAP_DARK, 0.0, -3.0, 3.0))
    assert max(zero) < 60  # 0 is near black, not a glaring white
    # the ends still say negative (blue) and positive (red)
    neg, pos = hh.rgb(hh.pixel(view, 0, 0, 0.15, 0.15)), hh.rgb(hh.pixel(view, 1, 0, 0.15, 0.15))
    assert neg[2] > neg[0] and pos[0] > pos[2]
    assert view.matrix.cell_texts.text_colors()[1] == QColor(255, 255, 255)
    assert view.matrix.cell_texts.box_color == view.matrix.mask_fill  # "−∞" boxes dim too
    view.setPalette(QPalette())
    hh.settle()
    assert view.colorbar.colorMap().name == DIVERGING_COLORMAP


def test_minus_inf_scores_are_masked_even_without_visible(view: HeatmapView) -> None:
    scaled = np.array([[1.0, -np.inf], [0.5, 2.0]])
    view.set_matrix(scaled, ["a", "b"], ["x", "y"], kind="scores")
    overlay = view.mask_item.image
    assert overlay[0, 1] > 0 and overlay[0, 0] == 0 and overlay[1, 1] == 0
    assert "masked" in view.hover_text(0, 1)


def test_unmasking_hides_the_overlay(view: HeatmapView) -> None:
    visible = np.array([[True, False], [True, True]])
    view.set_matrix(np.eye(2), ["a", "b"], ["x", "y"], kind="weights", visible=visible)
    assert view.mask_item.isVisible()
    view.set_matrix(np.eye(2), ["a", "b"], ["x", "y"], kind="weights")
    assert not view.mask_item.isVisible()


# -- arbitrary input -------------------------------------------------------------------

_cells = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.just(-math.inf),
)
# raw scores of a float64 preset reach far past float32 (and weights never pass 1)
_score_cells = st.one_of(_cells, st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    n=st.integers(1, 20),
    m=st.integers(1, 20),
    kind=st.sampled_from(["weights", "scores"]),
)
def test_any_matrix_draws_what_it_was_handed(view: HeatmapView, data, n, m, kind) -> None:
    elements = _score_cells if kind == "scores" else _cells
    values = data.draw(hnp.arrays(np.float64, (n, m), elements=elements))
    visible = data.draw(hnp.arrays(np.bool_, (n, m)))
    view.set_matrix(values, hh.tokens(n), hh.tokens(m), kind=kind, visible=visible)
    image = view.image_item.image
    assert image.shape == (n, m) and np.all(np.isfinite(image))
    shown = visible & np.isfinite(values)
    np.testing.assert_array_equal(view.matrix.display_mask, ~shown)
    lo, hi = view.levels()
    if kind == "weights":
        assert (lo, hi) == (0.0, 1.0)
    else:
        assert lo == -hi and hi > 0
        if shown.any():
            assert hi == pytest.approx(np.abs(values[shown]).max())
    # the image holds the values in display units: image / scale, where the image's
    # levels are the true levels times the same scale (a power of two)
    scale = view.matrix.scale
    assert math.frexp(scale)[0] == 0.5  # a power of two: no digit of a float32 changes
    image_lo, image_hi = view.image_item.levels
    assert (image_lo / scale, image_hi / scale) == pytest.approx((lo, hi), rel=1e-6)
    assert max(abs(image_lo), abs(image_hi)) < 2.0**101  # spans stay finite in float32
    # as exact as float32 allows, relative to the levels (the colours' resolution);
    # compared in display units: true units may round past the largest double
    np.testing.assert_allclose(
        image[shown].astype(np.float64), values[shown] * scale, rtol=1e-6, atol=1e-6 * hi * scale
    )


def test_scores_beyond_float32_keep_their_colours_and_readout(view: HeatmapView) -> None:
    # raw scores of a float64 preset can exceed float32's largest number (3.4e38); the
    # float32 display buffer must not turn them into inf (which drew them as garbage)
    big = np.array([[1e39, -1e39], [5e38, 0.0]])
    view.set_matrix(big, ["a", "b"], ["x", "y"], kind="scores")
    assert view.levels() == (-1e39, 1e39)  # true levels, in float64
    assert np.all(np.isfinite(view.image_item.image))
    for (i, j), value in np.ndenumerate(big):
        got = hh.rgb(hh.pixel(view, i, j, fx=0.15, fy=0.15))
        want = hh.expected_rgb(DIVERGING_COLORMAP, value, -1e39, 1e39)
        assert hh.close(got, want), (i, j, got, want)
    assert view.hover_text(1, 0).endswith(": 5e+38")  # the true value, not the display copy
    shown_top = view.colorbar.levels()[1] * view.colorbar.axis.scale  # the tick axis
    assert shown_top == pytest.approx(1e39, rel=1e-6)  # the bar reads true scores


def test_window_shows_float64_scores_beyond_float32(qtbot, settings) -> None:
    from app.main_window import MainWindow
    from selfattn.preset import Preset

    # X = 1e20 I and identity weights: raw scores 1e40 on the diagonal, 0 elsewhere
    preset = Preset(inputs=np.eye(2) * 1e20, w_query=np.eye(2), w_key=np.eye(2), w_value=np.eye(2))
    window = MainWindow(preset, settings=settings)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    window.set_view_mode("scores")
    hh.settle()
    view = window.heatmap
    assert view.levels() == (-1e40, 1e40)
    assert np.all(np.isfinite(view.image_item.image))
    top = hh.expected_rgb(DIVERGING_COLORMAP, 1e40, -1e40, 1e40)
    middle = hh.expected_rgb(DIVERGING_COLORMAP, 0.0, -1e40, 1e40)
    assert hh.close(hh.rgb(hh.pixel(view, 0, 0, 0.15, 0.15)), top)
    assert hh.close(hh.rgb(hh.pixel(view, 0, 1, 0.15, 0.15)), middle)
    assert view.hover_text(0, 0).endswith(": 1e+40")
    window.document.undo_stack.setClean()


def test_scores_near_the_largest_double_count_in_units_of_1024(view: HeatmapView) -> None:
    # the bar's axis cannot span ±1e308 (its span overflows): it reads thousands of 2**10
    big = np.array([[1e308, -1e308], [0.0, 2.5e307]])
    view.set_matrix(big, ["a", "b"], ["x", "y"], kind="scores")
    hh.settle()
    assert view.levels() == (-1e308, 1e308)
    assert view.colorbar.getAxis("left").labelText == "score (× 1024)"
    shown_top = view.colorbar.levels()[1] * view.colorbar.axis.scale
    assert shown_top == pytest.approx(1e308 / 1024, rel=1e-6)
    want = hh.expected_rgb(DIVERGING_COLORMAP, 2.5e307 / 2, -1e308 / 2, 1e308 / 2)  # no overflow
    assert hh.close(hh.rgb(hh.pixel(view, 1, 1, fx=0.15, fy=0.15)), want)
    assert view.hover_text(0, 0).endswith(": 1e+308")
