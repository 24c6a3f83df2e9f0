"""The heatmap views draw what they are handed: orientation, levels, masks, texts, exports.

Expected colours come from the colour map's definition (pyqtgraph's viridis / CET-D1
tables), expected strings are written out by hand, and the seed example's weights are
the published 3-token walk-through (queries input_1..3).
"""

from __future__ import annotations

import base64
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.heatmap import (
    DIVERGING_COLORMAP,
    DIVERGING_COLORMAP_DARK,
    SEQUENTIAL_COLORMAPS,
    WEIGHT_RANGES,
    AllHeadsView,
    HeatmapView,
    best_grid,
    format_cell,
    format_cells,
    label_step,
    round_step,
    tick_indices,
)

SEED_WEIGHTS = np.array(
    [[0.1361, 0.4319, 0.4319], [0.00089, 0.9088, 0.0903], [0.0074, 0.7547, 0.2378]]
)
SEED_TOKENS = ["input_1", "input_2", "input_3"]


def _tokens(count: int, prefix: str = "t") -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


@pytest.fixture
def view(qtbot) -> HeatmapView:
    widget = HeatmapView()
    qtbot.addWidget(widget)
    widget.resize(800, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def _pixel(view: HeatmapView, row: int, col: int, fx: float = 0.5, fy: float = 0.5) -> QColor:
    _settle()
    image = view.grab().toImage()
    p = view.cell_center(row, col, fx, fy)
    return image.pixelColor(round(p.x()), round(p.y()))


def _rgb(color: QColor) -> tuple[int, int, int]:
    return (color.red(), color.green(), color.blue())


def _expected_rgb(cmap_name: str, value: float, lo: float, hi: float) -> tuple[int, int, int]:
    """The colour map's own colour at a value's position between the levels."""
    lut = pg.colormap.get(cmap_name).getLookupTable(nPts=256)
    index = int(np.clip((value - lo) / (hi - lo) * 255, 0, 255))
    return tuple(int(c) for c in lut[index][:3])


def _close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 6) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def _viewport_pos(view: HeatmapView, row: float, col: float) -> QPoint:
    glw = view.graphics_widget
    vb = view.plot_item.getViewBox()
    return glw.mapFromScene(vb.mapViewToScene(QPointF(col, row)))


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
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    _settle()
    top, below = view.cell_center(0, 0), view.cell_center(1, 0)
    left, right = view.cell_center(0, 0), view.cell_center(0, 1)
    assert top.y() < below.y()
    assert left.x() < right.x()


def test_rendered_colours_follow_the_values_cell_by_cell(view: HeatmapView) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    for i in range(3):
        for j in range(3):
            # sample away from the printed value in the middle of the cell
            got = _rgb(_pixel(view, i, j, fx=0.15, fy=0.15))
            want = _expected_rgb("viridis", SEED_WEIGHTS[i, j], 0.0, 1.0)
            assert _close(got, want), (i, j, got, want)


def test_weights_levels_stay_zero_to_one(view: HeatmapView) -> None:
    view.set_matrix(np.full((4, 4), 0.25), _tokens(4), _tokens(4), kind="weights")
    assert view.levels() == (0.0, 1.0)
    assert tuple(view.image_item.levels) == (0.0, 1.0)
    assert tuple(view.colorbar.levels()) == (0.0, 1.0)


def test_uniform_attention_draws_one_colour_not_autoscaled(view: HeatmapView) -> None:
    view.set_matrix(np.full((4, 4), 0.25), _tokens(4), _tokens(4), kind="weights")
    want = _expected_rgb("viridis", 0.25, 0.0, 1.0)
    assert _close(_rgb(_pixel(view, 0, 0, 0.15, 0.15)), want)
    assert _close(_rgb(_pixel(view, 3, 3, 0.15, 0.15)), want)


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
    view.set_matrix(np.zeros((3, 3)), _tokens(3), _tokens(3), kind="scores")
    lo, hi = view.levels()
    assert lo < 0 < hi and lo == -hi
    assert np.all(view.image_item.image == 0)


def test_weight_range_max_spreads_small_weights_over_the_colours(view: HeatmapView) -> None:
    n = 200  # uniform-ish weights of ~1/200: on 0..1 all one dark colour
    weights = np.full((n, n), 1.0 / n)
    weights[:, 0] = 2.0 / n
    weights /= weights.sum(axis=1, keepdims=True)
    top = 2.0 / (n + 1)  # the first column's weight after normalising: 2 / 201
    view.set_matrix(weights, _tokens(n), _tokens(n), kind="weights")
    assert view.levels() == (0.0, 1.0) and view.weight_range() == "fixed"
    view.set_weight_range("max")  # redraws what is shown
    assert view.levels() == pytest.approx((0.0, top))
    assert tuple(view.image_item.levels) == pytest.approx((0.0, top))
    assert tuple(view.colorbar.levels()) == pytest.approx((0.0, top))
    assert "max" in view.colorbar.getAxis("left").labelText
    # the largest weight now draws the top colour of the map, a 1/201 cell the middle
    assert _close(_rgb(_pixel(view, 5, 0)), _expected_rgb("viridis", 1.0, 0.0, 1.0))
    assert _close(_rgb(_pixel(view, 5, 100)), _expected_rgb("viridis", 0.5, 0.0, 1.0))
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
    weights = np.where(causal, SEED_WEIGHTS, 0.0)
    view.set_matrix(weights, SEED_TOKENS, SEED_TOKENS, kind="weights", visible=causal)
    overlay = view.mask_item.image
    assert overlay.shape == (3, 3)
    np.testing.assert_array_equal(overlay > 0, ~causal)
    # rendered: every pixel sampled inside a masked cell is neutral grey (mask or hatch),
    # which viridis never is; a visible cell keeps its colour
    for fx, fy in ((0.2, 0.2), (0.3, 0.7), (0.8, 0.25), (0.75, 0.8)):
        r, g, b = _rgb(_pixel(view, 0, 2, fx, fy))
        assert r == g == b, (fx, fy, r, g, b)
    samples = {_rgb(_pixel(view, 0, 1, fx, 0.2)) for fx in np.linspace(0.1, 0.9, 17)}
    assert _rgb(view._matrix.mask_fill) in samples
    zero_colour = _expected_rgb("viridis", 0.0, 0.0, 1.0)
    assert not _close(_rgb(_pixel(view, 0, 2, 0.2, 0.2)), zero_colour)


def test_masked_weights_print_nothing_not_zero(view: HeatmapView) -> None:
    causal = np.tril(np.ones((3, 3), dtype=bool))
    weights = np.where(causal, SEED_WEIGHTS, 0.0)  # what attention() returns: 0 when masked
    weights[2, 2] = 0.0  # a real 0 that is not masked still prints "0"
    view.set_matrix(weights, SEED_TOKENS, SEED_TOKENS, kind="weights", visible=causal)
    _settle()
    assert view.cell_texts() == [
        "0.136", "", "",
        "0.001", "0.909", "",
        "0.007", "0.755", "0",
    ]  # fmt: skip
    # rendered: a masked cell holds only the fill and the hatching, no black glyphs
    fill, lines = _rgb(view._matrix.mask_fill), _rgb(view._matrix.mask_lines)
    assert _text_pixels(view, 0, 2) <= {fill, lines} | _blends(fill, lines)
    assert "(masked)" in view.hover_text(0, 2)  # the number is still a hover away


def _blends(a: tuple[int, int, int], b: tuple[int, int, int]) -> set[tuple[int, int, int]]:
    """Antialiased edges between two greys: every grey between them."""
    lo, hi = sorted((a[0], b[0]))
    return {(v, v, v) for v in range(lo, hi + 1)}


def _dark_palette() -> QPalette:
    palette = QPalette()  # only the roles a hand-made dark theme typically sets
    palette.setColor(QPalette.ColorRole.Window, QColor(45, 45, 45))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(230, 230, 230))
    return palette


def test_dark_palette_keeps_masked_cells_dim(view: HeatmapView) -> None:
    light_fill = view._matrix.mask_fill
    causal = np.tril(np.ones((3, 3), dtype=bool))
    view.set_matrix(np.where(causal, SEED_WEIGHTS, 0.0), SEED_TOKENS, SEED_TOKENS,
                    kind="weights", visible=causal)  # fmt: skip
    view.setPalette(_dark_palette())
    _settle()
    fill, lines = view._matrix.mask_fill, view._matrix.mask_lines
    # between the window (45) and its text (230) but close to the window: dim
    assert 45 < fill.lightness() < 100 and 45 < lines.lightness() < 120
    assert light_fill.lightness() > 128  # a light theme keeps a light grey
    for fx, fy in ((0.2, 0.2), (0.5, 0.5), (0.8, 0.3)):
        assert _pixel(view, 0, 2, fx, fy).lightness() < 120  # nothing glaring
    assert _rgb(fill) in {_rgb(_pixel(view, 0, 1, fx, 0.2)) for fx in np.linspace(0.1, 0.9, 17)}


def test_dark_palette_uses_a_dark_middled_diverging_map(view: HeatmapView) -> None:
    scores = np.array([[-3.0, 0.0], [3.0, 1.0]])
    view.set_matrix(scores, ["a", "b"], ["x", "y"], kind="scores")
    assert _pixel(view, 0, 1, 0.15, 0.15).lightness() > 200  # light theme: white middle
    view.setPalette(_dark_palette())  # switched while shown
    _settle()
    assert view.colorbar.colorMap().name == DIVERGING_COLORMAP_DARK
    zero = _rgb(_pixel(view, 0, 1, 0.15, 0.15))
    assert _close(zero, _expected_rgb(DIVERGING_COLORMAP_DARK, 0.0, -3.0, 3.0))
    assert max(zero) < 60  # 0 is near black, not a glaring white
    # the ends still say negative (blue) and positive (red)
    neg, pos = _rgb(_pixel(view, 0, 0, 0.15, 0.15)), _rgb(_pixel(view, 1, 0, 0.15, 0.15))
    assert neg[2] > neg[0] and pos[0] > pos[2]
    assert view._matrix.cell_texts.text_colors()[1] == QColor(255, 255, 255)
    assert view._matrix.cell_texts.box_color == view._matrix.mask_fill  # "−∞" boxes dim too
    view.setPalette(QPalette())
    _settle()
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


# -- cell texts ------------------------------------------------------------------------


def test_small_matrix_prints_values_in_cells(view: HeatmapView) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    _settle()
    # weights: three decimals in every cell (0.00089 rounds to 0.001, 0.0903 to 0.090)
    assert view.cell_texts() == [
        "0.136", "0.432", "0.432",
        "0.001", "0.909", "0.090",
        "0.007", "0.755", "0.238",
    ]  # fmt: skip


def _text_pixels(view: HeatmapView, row: int, col: int) -> set[tuple[int, int, int]]:
    """Colours of the pixels in the middle band of a cell, where its value is printed."""
    _settle()
    image = view.grab().toImage()
    a, b = view.cell_center(row, col, 0.2, 0.35), view.cell_center(row, col, 0.8, 0.65)
    return {
        _rgb(image.pixelColor(x, y))
        for x in range(round(a.x()), round(b.x()))
        for y in range(round(a.y()), round(b.y()))
    }


def test_text_colour_contrasts_with_the_cell(view: HeatmapView) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    colors = view._matrix.cell_texts.text_colors()
    assert colors[1 * 3 + 0] == QColor(255, 255, 255)  # 0.00089: deep purple cell
    assert colors[1 * 3 + 1] == QColor(0, 0, 0)  # 0.909: yellow-green cell
    # rendered: the dark cell holds white glyph pixels, the light one black ones
    assert (255, 255, 255) in _text_pixels(view, 1, 0)
    assert (0, 0, 0) not in _text_pixels(view, 1, 0)
    assert (0, 0, 0) in _text_pixels(view, 1, 1)
    assert (255, 255, 255) not in _text_pixels(view, 1, 1)


def test_text_colour_follows_the_colour_map(view: HeatmapView) -> None:
    # viridis runs dark purple -> yellow; CET-L17 runs near-white -> dark purple,
    # so the same two values swap black and white text
    values = np.array([[0.95, 0.02]])
    view.set_matrix(values, ["a"], ["x", "y"], kind="weights")
    assert view._matrix.cell_texts.text_colors() == [QColor(0, 0, 0), QColor(255, 255, 255)]
    view.set_colormap("CET-L17")
    assert view._matrix.cell_texts.text_colors() == [QColor(255, 255, 255), QColor(0, 0, 0)]


def test_masked_scores_print_minus_infinity(view: HeatmapView) -> None:
    scaled = np.array([[1.0, -np.inf], [-0.25, 2.0]])
    view.set_matrix(scaled, ["a", "b"], ["x", "y"], kind="scores")
    _settle()
    assert view.cell_texts() == ["1", "−∞", "−0.25", "2"]


def test_large_matrix_prints_no_values(view: HeatmapView) -> None:
    rng = np.random.default_rng(1)
    view.set_matrix(rng.random((40, 40)), _tokens(40), _tokens(40), kind="weights")
    _settle()
    assert view.cell_texts() == []
    assert not view._matrix.cell_texts.isVisible()


def test_texts_hide_after_growing_past_16(view: HeatmapView) -> None:
    view.set_matrix(np.eye(3), _tokens(3), _tokens(3), kind="weights")
    _settle()
    assert len(view.cell_texts()) == 9
    view.set_matrix(np.eye(17), _tokens(17), _tokens(17), kind="weights")
    _settle()
    assert view.cell_texts() == []


def test_values_hide_when_cells_are_too_small_and_return(view: HeatmapView) -> None:
    values = np.full((16, 16), 0.123456)
    view.set_matrix(values, _tokens(16), _tokens(16), kind="weights")
    view.resize(220, 180)  # cells of a few pixels: no readable text fits
    _settle()
    assert view.cell_texts() == []
    view.resize(1800, 1400)  # cells of ~80 px: full 3 digits
    _settle()
    assert view.cell_texts() == ["0.123"] * 256


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.1361, "0.136"), (0.00089, "0.00089"), (1.0, "1"), (0.0, "0"), (-0.0, "0"),
     (-2.5, "−2.5"), (-math.inf, "−∞"), (12345.0, "1.23e4"), (1.5e-05, "1.5e−5")],
)  # fmt: skip
def test_format_cell(value: float, text: str) -> None:
    assert format_cell(value) == text


def test_format_cell_shorter_formats_for_tight_cells() -> None:
    assert format_cell(0.123456, ".2g") == "0.12"
    assert format_cell(-0.0903, ".2g") == "−0.09"
    assert format_cell(0.00089, ".2f") == "0.00"
    assert format_cell(-0.001, ".2f") == "0.00"  # no negative zero
    assert format_cell(-12.345, ".1f") == "−12.3"


def test_format_cells_formats_a_whole_matrix_row_by_row() -> None:
    values = np.array([[0.1361, -0.0, -math.inf], [-2.5, 12345.0, 0.00089]])
    assert format_cells(values) == ["0.136", "0", "−∞", "−2.5", "1.23e4", "0.00089"]
    assert format_cells(np.array([[-0.001, 1.5e-05]]), ".2f") == ["0.00", "0.00"]
    assert format_cells(np.array([[1.5e-05, math.nan, math.inf]]), ".2g") == [
        "1.5e−5",
        "nan",
        "∞",
    ]


@pytest.mark.parametrize(
    ("value", "w3", "w2"),
    [(0.1361, "0.136", "0.14"), (0.0903, "0.090", "0.09"), (0.00089, "0.001", "<.01"),
     (0.0004, "<0.001", "<.01"), (9.21e-13, "<0.001", "<.01"), (0.0, "0", "0"), (-0.0, "0", "0"),
     (1.0, "1", "1"), (0.9996, "1.000", "1.00"), (0.5, "0.500", "0.50"), (0.004, "0.004", "<.01"),
     (-0.25, "−0.250", "−0.25"), (-0.0001, ">−0.001", ">−.01"), (-math.inf, "−∞", "−∞")],
)  # fmt: skip
def test_weights_print_fixed_decimals(value: float, w3: str, w2: str) -> None:
    assert format_cell(value, "w3") == w3
    assert format_cell(value, "w2") == w2


def test_weight_cells_read_alike_at_every_size(view: HeatmapView) -> None:
    # the reviewer's 10 x 10 mix: 2 significant digits gave "0.1" beside "0.13" and "0.002"
    values = np.full((10, 10), 0.1)
    values[0, :3] = [0.1, 0.13, 0.002]
    view.resize(1400, 1100)
    view.set_matrix(values, _tokens(10), _tokens(10), kind="weights")
    _settle()
    assert view.cell_texts()[:3] == ["0.100", "0.130", "0.002"]
    view.resize(400, 320)  # narrower cells: two decimals, still all alike
    _settle()
    assert view.cell_texts()[:3] == ["0.10", "0.13", "<.01"]


def test_scores_print_three_significant_digits(view: HeatmapView) -> None:
    scores = np.array([[16.0, 2.309401, -0.0123], [1e-05, 12345.0, -np.inf]])
    view.set_matrix(scores, ["a", "b"], ["x", "y", "z"], kind="scores")
    _settle()
    assert view.cell_texts() == ["16", "2.31", "−0.0123", "1e−5", "1.23e4", "−∞"]


@settings(max_examples=200)
@given(
    values=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
    ),
    spec=st.sampled_from([".3g", ".2g", ".2f", ".1f", "w3", "w2"]),
)
def test_format_cells_agrees_with_format_cell(values: np.ndarray, spec: str) -> None:
    assert format_cells(values, spec) == [format_cell(float(v), spec) for v in values.ravel()]


# -- axes and ticks --------------------------------------------------------------------


def _ticks(view: HeatmapView, axis: str) -> list[tuple[float, str]]:
    levels = view.plot_item.getAxis(axis)._tickLevels
    return list(levels[0]) if levels else []


def test_token_labels_on_both_axes_at_cell_centres(view: HeatmapView) -> None:
    view.set_matrix(np.eye(2, 3), ["q0", "q1"], ["k0", "k1", "k2"], kind="weights")
    _settle()
    assert _ticks(view, "left") == [(0.5, "q0"), (1.5, "q1")]
    assert _ticks(view, "top") == [(0.5, "k0"), (1.5, "k1"), (2.5, "k2")]
    # titles with arrows, so they are not read as one more token label
    assert view.plot_item.getAxis("left").labelText == "← query"  # turned: points down
    assert view.plot_item.getAxis("top").labelText == "key →"


def test_long_labels_are_truncated_on_axes_but_not_in_hover(view: HeatmapView) -> None:
    long = "a_really_long_token_label"
    view.set_matrix(np.eye(2), [long, "b"], ["x", "y"], kind="weights")
    _settle()
    label = _ticks(view, "left")[0][1]
    assert label.endswith("…") and len(label) <= 12
    assert long in view.hover_text(0, 0)


ROUND_STEPS = {f * 10**k for f in (1, 2, 5) for k in range(5)}


def test_2000_by_2000_caps_tick_labels(view: HeatmapView) -> None:
    n = 2000
    values = np.random.default_rng(2).random((n, n)).astype(np.float32)
    view.set_matrix(values, _tokens(n), _tokens(n), kind="weights")
    _settle()
    for axis in ("left", "top"):
        ticks = _ticks(view, axis)
        assert 2 <= len(ticks) <= 32
        positions = [p for p, _ in ticks]
        steps = set(np.diff(positions[:-1]))
        assert len(steps) == 1  # evenly spaced, up to the last token
        assert int(steps.pop()) in ROUND_STEPS  # every 100, not every 76
        assert ticks[0] == (0.5, "t0")  # the first token is always labelled
        assert ticks[-1] == (n - 0.5, f"t{n - 1}")  # and the last
        for p, label in ticks:
            assert label == f"t{int(p - 0.5)}"  # each label sits on its own token
    assert view.image_item.image.shape == (n, n)
    assert view.cell_texts() == []


REAL_TOKENS = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", "and", "slept", ".", "[SEP]"]


@pytest.mark.parametrize(("size", "rotated"), [((650, 470), True), ((800, 600), False)])
def test_every_key_label_of_a_sentence_is_drawn(view: HeatmapView, size, rotated) -> None:
    # the reviewer's real 11-token head: side by side only 6 of the 11 key labels fit
    view.resize(*size)
    view.set_matrix(np.eye(11), REAL_TOKENS, REAL_TOKENS, kind="weights")
    view.grab()
    _settle()
    view.grab()
    assert [label for _, label in _ticks(view, "top")] == REAL_TOKENS
    assert [label for _, label in _ticks(view, "left")] == REAL_TOKENS
    top = view.plot_item.getAxis("top")
    assert top.rotated == rotated  # turned only where side by side they would not fit
    assert top.drawn == REAL_TOKENS  # painted, not only listed


def test_fifteen_keys_all_labelled(view: HeatmapView) -> None:
    view.resize(650, 470)
    labels = [f"token{i}" for i in range(15)]
    view.set_matrix(np.eye(15), labels, labels, kind="weights")
    view.grab()
    _settle()
    view.grab()
    assert view.plot_item.getAxis("top").drawn == labels


def test_short_key_labels_stay_upright(view: HeatmapView) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    view.grab()
    _settle()
    top = view.plot_item.getAxis("top")
    assert not top.rotated and view.grab() and top.drawn == SEED_TOKENS


def test_rotated_key_axis_fits_its_longest_label(view: HeatmapView) -> None:
    long = [f"{'w' * 10}{i}" for i in range(11)]
    view.set_matrix(np.eye(11), REAL_TOKENS, REAL_TOKENS, kind="weights")
    _settle()
    short_height = view.plot_item.getAxis("top").height()
    view.set_matrix(np.eye(11), REAL_TOKENS, long, kind="weights")
    _settle()
    top = view.plot_item.getAxis("top")
    assert top.rotated
    assert top.height() > short_height + 30  # ten w's are far longer than "[CLS]"
    assert top.height() < 200  # capped


@pytest.mark.parametrize(
    ("at_least", "step"),
    [(0.3, 1), (1, 1), (1.01, 2), (2, 2), (2.5, 5), (5, 5), (6, 10), (17, 20), (76, 100),
     (204, 500), (1000, 1000)],
)  # fmt: skip
def test_round_step(at_least: float, step: int) -> None:
    assert round_step(at_least) == step


def test_label_step_shows_all_labels_that_fit() -> None:
    assert label_step(100, cell_px=20.0, spacing_px=17.0) == 1  # more than 32, but they fit
    assert label_step(100, cell_px=8.0, spacing_px=17.0) == 5  # 2.1 cells per label -> 5
    assert label_step(2000, cell_px=0.2, spacing_px=17.0) == 100  # 85 cells -> 100
    assert label_step(2000, cell_px=0.0, spacing_px=17.0) == 100  # not laid out: 2000 / 32
    assert label_step(10, cell_px=0.0, spacing_px=17.0) == 1


def test_tick_indices_always_hold_first_and_last() -> None:
    assert tick_indices(11, 1, 30.0, 17.0) == list(range(11))
    assert tick_indices(2000, 100, 0.2, 17.0) == [*range(0, 2000, 100), 1999]
    # 1900 is 99 cells from 1999: at 0.1 px per cell that is 9.9 px, too close
    assert tick_indices(2000, 200, 0.1, 17.0) == [*range(0, 1800, 200), 1800, 1999]
    assert tick_indices(1960, 200, 0.1, 17.0) == [*range(0, 1800, 200), 1959]
    assert tick_indices(2, 2, 5.0, 17.0) == [0]  # the last would sit on the first
    assert tick_indices(1, 1, 5.0, 17.0) == [0]


def test_shape_change_moves_ticks_and_view_range(view: HeatmapView) -> None:
    view.set_matrix(np.eye(2), ["a", "b"], ["x", "y"], kind="weights")
    view.set_matrix(np.eye(5), _tokens(5), _tokens(5), kind="weights")
    _settle()
    assert [label for _, label in _ticks(view, "left")] == _tokens(5)
    (x0, x1), (y0, y1) = view.plot_item.getViewBox().viewRange()
    tol = 1e-9  # the locked aspect recentres the range with rounding errors
    assert x0 <= tol and x1 >= 5 - tol and y0 <= tol and y1 >= 5 - tol


def test_wide_window_keeps_the_colour_bar_beside_a_centred_matrix(view: HeatmapView) -> None:
    view.resize(1400, 500)  # far wider than a 3 x 3 matrix of square cells needs
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    _settle()
    matrix_left = view.cell_center(0, 0, 0.0, 0.5).x()
    matrix_right = view.cell_center(0, 2, 1.0, 0.5).x()
    bar = view.colorbar.sceneBoundingRect()
    glw = view.graphics_widget
    bar_left, bar_right = glw.mapFromScene(bar.topLeft()).x(), glw.mapFromScene(bar.topRight()).x()
    assert 0 < bar_left - matrix_right < 40  # the bar sits next to the matrix
    # and the group is in the middle: the same room is left on both sides (the left
    # one also holds the token labels, at most ~100 px here)
    space_left, space_right = matrix_left, view.width() - bar_right
    assert space_right > 300 and abs(space_left - space_right) < 120
    # cells stay square
    assert matrix_right - matrix_left == pytest.approx(
        view.cell_center(2, 0, 0.5, 1.0).y() - view.cell_center(0, 0, 0.5, 0.0).y(), abs=2
    )


# -- reuse -----------------------------------------------------------------------------


def test_same_shape_update_reuses_items(view: HeatmapView) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    image, texts = view.image_item, view._matrix.cell_texts
    buffer = view.image_item.image
    items_before = len(view.plot_item.getViewBox().addedItems)
    view.set_matrix(SEED_WEIGHTS[::-1].copy(), SEED_TOKENS, SEED_TOKENS, kind="weights")
    assert view.image_item is image
    assert np.shares_memory(view.image_item.image, buffer)  # one buffer, refilled in place
    assert view._matrix.cell_texts is texts
    assert len(view.plot_item.getViewBox().addedItems) == items_before
    np.testing.assert_allclose(view.image_item.image, SEED_WEIGHTS[::-1], rtol=1e-6)


def test_same_shape_update_leaves_ticks_and_colour_bar_alone(
    view: HeatmapView, monkeypatch: pytest.MonkeyPatch
) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    _settle()
    calls: list[str] = []
    for name in ("left", "top"):
        axis = view.plot_item.getAxis(name)
        monkeypatch.setattr(axis, "setTicks", lambda *a, n=name: calls.append(n))
        monkeypatch.setattr(axis, "setWidth", lambda *a, n=name: calls.append(n))
    monkeypatch.setattr(view.colorbar, "setLevels", lambda *a, **k: calls.append("bar"))
    view.set_matrix(SEED_WEIGHTS[::-1].copy(), SEED_TOKENS, SEED_TOKENS, kind="weights")
    assert calls == []
    view.set_matrix(SEED_WEIGHTS, ["a", "b", "c"], SEED_TOKENS, kind="weights")
    assert "left" in calls  # new labels do re-set the ticks


# -- hover, click, selection -----------------------------------------------------------


def _move(view: HeatmapView, pos: QPoint) -> None:
    # pyqtgraph drops moves closer than 1/mouseRateLimit (10 ms) apart: pace them
    QTest.qWait(20)
    viewport = view.graphics_widget.viewport()
    event = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(pos),
        QPointF(viewport.mapToGlobal(pos)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, event)


def test_hover_emits_row_and_column_under_the_mouse(view: HeatmapView, qtbot) -> None:
    view.set_matrix(np.eye(2, 3), ["q0", "q1"], ["k0", "k1", "k2"], kind="weights")
    _settle()
    seen: list[tuple[int, int]] = []
    view.cellHovered.connect(lambda r, c: seen.append((r, c)))
    _move(view, _viewport_pos(view, 1.5, 2.5))
    _move(view, _viewport_pos(view, 0.5, 0.5))
    _move(view, _viewport_pos(view, 0.5, 3.6))  # right of the matrix
    QApplication.sendEvent(view.graphics_widget.viewport(), QEvent(QEvent.Type.Leave))
    assert seen == [(1, 2), (0, 0), (-1, -1)]


def test_leaving_the_widget_reports_no_cell(view: HeatmapView) -> None:
    view.set_matrix(np.eye(2), ["a", "b"], ["x", "y"], kind="weights")
    _settle()
    seen: list[tuple[int, int]] = []
    view.cellHovered.connect(lambda r, c: seen.append((r, c)))
    _move(view, _viewport_pos(view, 1.5, 0.5))
    QApplication.sendEvent(view.graphics_widget.viewport(), QEvent(QEvent.Type.Leave))
    assert seen == [(1, 0), (-1, -1)]


def test_click_emits_the_cell(view: HeatmapView, qtbot) -> None:
    view.set_matrix(np.eye(3), _tokens(3), _tokens(3), kind="weights")
    _settle()
    with qtbot.waitSignal(view.cellClicked, timeout=1000) as blocker:
        qtbot.mouseClick(
            view.graphics_widget.viewport(),
            Qt.MouseButton.LeftButton,
            pos=_viewport_pos(view, 2.5, 1.5),
        )
    assert blocker.args == [2, 1]


def test_pointing_hand_over_cells_only(view: HeatmapView) -> None:
    view.set_matrix(np.eye(3), _tokens(3), _tokens(3), kind="weights")
    _settle()
    viewport = view.graphics_widget.viewport()
    hand = Qt.CursorShape.PointingHandCursor
    assert viewport.cursor().shape() != hand
    _move(view, _viewport_pos(view, 1.5, 1.5))
    assert viewport.cursor().shape() == hand
    _move(view, _viewport_pos(view, 1.5, 3.8))  # right of the matrix: nothing to click
    assert viewport.cursor().shape() == Qt.CursorShape.ArrowCursor
    _move(view, _viewport_pos(view, 0.5, 0.5))
    QApplication.sendEvent(viewport, QEvent(QEvent.Type.Leave))
    assert viewport.cursor().shape() == Qt.CursorShape.ArrowCursor


def test_click_hint_under_the_title_until_hidden(view: HeatmapView) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights", title="Weights")
    _settle()
    title = view.plot_item.titleLabel
    assert view.click_hint_shown()
    assert "Weights" in title.text and "click a cell to explain it" in title.text
    hinted = view.plot_item.getViewBox().height()
    view.set_click_hint(False)  # after the first click
    _settle()
    assert not view.click_hint_shown()
    assert "Weights" in title.text and "click a cell" not in title.text
    assert view.plot_item.getViewBox().height() > hinted  # the line's room goes to the cells
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights", title="Other")
    assert "click a cell" not in title.text  # stays hidden across updates
    view.set_click_hint(True)
    assert "click a cell" in title.text and "Other" in title.text


def test_click_hint_is_grey(view: HeatmapView) -> None:
    view.set_matrix(np.eye(2), ["a", "b"], ["x", "y"], kind="weights", title="T")
    text = view.plot_item.titleLabel.text
    hint_colour = text.split("click a cell")[0].rsplit("color: ", 1)[1][:7]
    grey = QColor(hint_colour)
    assert grey.red() == grey.green() == grey.blue()  # a grey between window and text
    assert 60 < grey.lightness() < 200


def test_hover_text_names_tokens_and_value(view: HeatmapView) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    assert view.hover_text(1, 2) == "query 'input_2' → key 'input_3': 0.0903"
    assert view.hover_text(5, 0) == ""


def test_select_cell_outlines_that_cell(view: HeatmapView) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    view.select_cell(1, 2)
    outline = view._matrix.select_inner
    assert outline.isVisible()
    rect = outline.rect()
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == (2, 1, 1, 1)
    # rendered: the outline is black/white at the cell's edge, not the cell colour
    edge = _rgb(_pixel(view, 1, 2, fx=0.5, fy=0.0))
    assert edge in {(0, 0, 0), (255, 255, 255)}
    view.select_cell(-1, -1)
    assert not outline.isVisible() and view.selected_cell() is None


# -- colour maps and palette -----------------------------------------------------------


def test_sequential_colormaps_exist_offline() -> None:
    for name in SEQUENTIAL_COLORMAPS:
        assert pg.colormap.get(name) is not None


def test_set_colormap_recolours_weights(view: HeatmapView) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    view.set_colormap("inferno")
    got = _rgb(_pixel(view, 1, 1, 0.15, 0.15))
    assert _close(got, _expected_rgb("inferno", SEED_WEIGHTS[1, 1], 0.0, 1.0))
    with pytest.raises(Exception):  # noqa: B017 (pyqtgraph raises FileNotFoundError)
        view.set_colormap("no-such-map")
    assert view.colormap_name() == "inferno"


def test_dark_palette_gives_dark_plot(qtbot) -> None:
    widget = HeatmapView()
    qtbot.addWidget(widget)
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor(30, 30, 30))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(220, 220, 220))
    widget.setPalette(palette)
    widget.set_matrix(np.eye(2), ["a", "b"], ["x", "y"], kind="weights")
    assert widget.graphics_widget.backgroundBrush().color() == QColor(30, 30, 30)
    text_pen = widget.plot_item.getAxis("left").textPen()
    assert text_pen.color() == QColor(220, 220, 220)


# -- export ----------------------------------------------------------------------------


def _check_png(path: Path, min_width: int) -> QImage:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    assert not image.isNull() and image.width() >= min_width
    return image


def _check_svg(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert any(el.tag.endswith("image") for el in root.iter())  # the matrix raster


def test_export_png_and_svg(view: HeatmapView, tmp_path: Path) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    view.export_png(str(tmp_path / "w.png"))
    image = _check_png(tmp_path / "w.png", 1600)
    # the picture is not blank: it contains viridis colours of the cells
    colours = {
        image.pixelColor(x, y).rgb()
        for x in range(0, image.width(), 37)
        for y in range(0, image.height(), 37)
    }
    assert len(colours) > 5
    view.export_svg(str(tmp_path / "w.svg"))
    _check_svg(tmp_path / "w.svg")


def _white_rows(image: QImage, center: QPointF, half: float) -> int:
    """How many pixel rows near a cell centre hold pure-white glyph pixels."""
    cx, cy, h = round(center.x()), round(center.y()), round(half)
    return sum(
        any(image.pixelColor(x, y) == QColor(255, 255, 255) for x in range(cx - h, cx + h))
        for y in range(cy - h, cy + h)
    )


def test_png_export_scales_the_cell_text_with_the_picture(
    view: HeatmapView, tmp_path: Path
) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    _settle()
    vb = view.plot_item.getViewBox()
    scene_center = vb.mapViewToScene(QPointF(0.5, 1.5))  # 0.00089: white text on purple
    cell_h = (vb.mapViewToScene(QPointF(0, 2)) - vb.mapViewToScene(QPointF(0, 1))).y()
    on_screen = _white_rows(view.grab().toImage(), view.cell_center(1, 0), cell_h / 3)
    width = view.graphics_widget.scene().sceneRect().width()
    view.export_png(str(tmp_path / "big.png"), width_px=round(2 * width))
    image = QImage(str(tmp_path / "big.png"))
    factor = image.width() / width
    exported = _white_rows(image, scene_center * factor, factor * cell_h / 3)
    assert on_screen > 5
    assert exported == pytest.approx(2 * on_screen, rel=0.3)  # redrawn larger, not 1:1


def test_svg_embeds_a_sharp_raster_of_a_small_matrix(view: HeatmapView, tmp_path: Path) -> None:
    view.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights")
    view.export_svg(str(tmp_path / "w.svg"))
    root = ET.parse(tmp_path / "w.svg").getroot()
    widths = []
    for el in root.iter():
        if el.tag.endswith("image"):
            href = el.get("{http://www.w3.org/1999/xlink}href") or el.get("href") or ""
            data = base64.b64decode(href.split(",", 1)[1])
            widths.append(QImage.fromData(data).width())
    # a 3 x 3 matrix as a 3 x 3 raster would be smoothed into a blur by SVG viewers
    assert max(widths) >= 512
    # and the on-screen image is back to one pixel per cell afterwards
    assert view.image_item.image.shape == (3, 3)
    text = (tmp_path / "w.svg").read_text(encoding="utf-8")
    assert 'width="100%"' not in text


def test_export_from_a_never_shown_view(qtbot, tmp_path: Path) -> None:
    widget = HeatmapView()
    qtbot.addWidget(widget)
    causal = np.tril(np.ones((3, 3), dtype=bool))
    widget.set_matrix(SEED_WEIGHTS, SEED_TOKENS, SEED_TOKENS, kind="weights", visible=causal)
    widget.export_png(str(tmp_path / "hidden.png"), width_px=1800)
    image = _check_png(tmp_path / "hidden.png", 1800)
    assert image.height() > 600
    widget.export_svg(str(tmp_path / "hidden.svg"))
    _check_svg(tmp_path / "hidden.svg")


# -- all heads -------------------------------------------------------------------------


@pytest.fixture
def heads_view(qtbot) -> AllHeadsView:
    widget = AllHeadsView()
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _four_heads() -> np.ndarray:
    rng = np.random.default_rng(3)
    w = rng.random((4, 5, 5))
    return w / w.sum(axis=-1, keepdims=True)


def test_all_heads_shows_one_titled_panel_per_head(heads_view: AllHeadsView) -> None:
    weights = _four_heads()
    heads_view.set_heads(weights, _tokens(5), _tokens(5))
    assert len(heads_view.panels) == 4
    titles = [p.plot.titleLabel.text for p in heads_view.panels]
    assert titles == ["head 1", "head 2", "head 3", "head 4"]
    for h, panel in enumerate(heads_view.panels):
        np.testing.assert_allclose(panel.image.image, weights[h], rtol=1e-6)
        assert tuple(panel.image.levels) == (0.0, 1.0)
    assert tuple(heads_view.colorbar.levels()) == (0.0, 1.0)


def test_all_heads_weight_range_max_is_shared_by_the_heads(heads_view: AllHeadsView) -> None:
    weights = np.full((3, 4, 4), 0.25)
    weights[1, 2] = [0.1, 0.1, 0.1, 0.7]  # head 2 holds the largest weight
    weights[2, 3] = [0.05, 0.05, 0.0, 0.9]
    visible = np.ones((4, 4), dtype=bool)
    visible[3, 3] = False  # ... once head 3's 0.9 is masked
    heads_view.set_heads(weights, _tokens(4), _tokens(4), visible)
    assert heads_view.levels() == (0.0, 1.0)
    heads_view.set_weight_range("max")
    assert heads_view.levels() == (0.0, 0.7)
    assert tuple(heads_view.colorbar.levels()) == (0.0, 0.7)
    for panel in heads_view.panels:
        assert tuple(panel.image.levels) == (0.0, 0.7)
    heads_view.set_weight_range("fixed")
    assert heads_view.levels() == (0.0, 1.0)


@pytest.mark.parametrize(
    ("heads", "n", "width", "height", "grid"),
    [
        (2, 4, 1000, 500, (1, 2, 125.0)),  # side by side: min(1000 / 8, 500 / 4)
        (2, 4, 400, 900, (2, 1, 100.0)),  # stacked: min(400 / 4, 900 / 8)
        (12, 10, 1000, 600, (3, 4, 20.0)),  # 3 x 4: min(1000 / 40, 600 / 30); 2 x 6 gives 16.7
        (4, 5, 1000, 1000, (2, 2, 100.0)),  # 3 rows of 2 would leave one empty: never
        (1, 3, 300, 600, (1, 1, 100.0)),
    ],
)
def test_best_grid_makes_the_largest_cells(heads, n, width, height, grid) -> None:
    assert best_grid(heads, n, n, width, height) == pytest.approx(grid)


def test_best_grid_counts_fixed_and_per_tile_room() -> None:
    # 2 heads of 4 x 4 in 1000 x 500, minus 100 px fixed and 20 px per column/row:
    # 1 x 2 -> min((1000-100-40)/8, (500-100-20)/4) = min(107.5, 95) = 95
    # 2 x 1 -> min((1000-100-20)/4, (500-100-40)/8) = min(220, 45) = 45
    got = best_grid(2, 4, 4, 1000, 500, fixed_w=100, fixed_h=100, tile_w=20, tile_h=20)
    assert got == pytest.approx((1, 2, 95.0))


def _tile_rects(view: AllHeadsView) -> list[tuple[float, float, float, float]]:
    """(left, top, width, height) of every head's matrix area on the scene."""
    out = []
    for panel in view.panels:
        r = panel.vb.sceneBoundingRect()
        out.append((r.left(), r.top(), r.width(), r.height()))
    return out


def test_all_heads_grid_follows_the_widget_shape(heads_view: AllHeadsView) -> None:
    heads_view.resize(1500, 420)  # wide and low: one row
    heads_view.set_heads(np.full((6, 3, 3), 1 / 3), _tokens(3), _tokens(3))
    _settle()
    tops = {round(t) for _, t, _, _ in _tile_rects(heads_view)}
    assert heads_view.grid() == (1, 6) and len(tops) == 1
    heads_view.resize(420, 1500)  # narrow and tall: one column, same panels re-arranged
    _settle()
    lefts = {round(x) for x, _, _, _ in _tile_rects(heads_view)}
    assert heads_view.grid() == (6, 1) and len(lefts) == 1
    tops = [t for _, t, _, _ in _tile_rects(heads_view)]
    assert tops == sorted(tops)  # head 1 on top, row by row
    assert len(heads_view.panels) == 6


def test_two_heads_fill_the_view(heads_view: AllHeadsView) -> None:
    # the reviewer's 2 heads filled only the top ~45% of a wide view
    causal = np.tril(np.ones((4, 4), dtype=bool))
    heads_view.set_heads(np.full((2, 4, 4), 0.25), _tokens(4), _tokens(4), causal)
    _settle()
    for _, _, w, h in _tile_rects(heads_view):
        assert h > 0.65 * heads_view.height() and w == pytest.approx(h, abs=1.5)
    heads_view.resize(500, 900)  # tall: stacked, each nearly the full width
    _settle()
    assert heads_view.grid() == (2, 1)
    for _, _, w, _ in _tile_rects(heads_view):
        assert w > 0.6 * heads_view.width()  # side by side they would get < 0.4


def test_all_heads_colour_bar_spans_the_tiles(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(np.full((12, 5, 5), 0.2), _tokens(5), _tokens(5))
    _settle()
    tiles = _tile_rects(heads_view)
    block_top = min(t for _, t, _, _ in tiles)
    block_bottom = max(t + h for _, t, _, h in tiles)
    bar = heads_view.colorbar.getViewBox().sceneBoundingRect()
    assert bar.top() == pytest.approx(block_top, abs=2)
    assert bar.bottom() == pytest.approx(block_bottom, abs=2)


def test_all_heads_share_one_query_and_one_key_title(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(np.full((4, 5, 5), 0.2), _tokens(5), _tokens(5))
    assert heads_view._key_title.text == "key →"
    assert heads_view._query_title.text == "← query"
    for panel in heads_view.panels:  # none of the tiles repeats them
        assert not panel.plot.getAxis("left").labelText
        assert not panel.plot.getAxis("top").labelText


def test_all_heads_panels_have_equal_cells(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(_four_heads(), _tokens(5), _tokens(5))
    heads_view.select_head(1)
    _settle()
    widths = [p.vb.width() for p in heads_view.panels]
    assert max(widths) - min(widths) < 1.0


def test_all_heads_reuses_items_for_same_h(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(_four_heads(), _tokens(5), _tokens(5))
    images = [p.image for p in heads_view.panels]
    heads_view.set_heads(_four_heads()[::-1].copy(), _tokens(5), _tokens(5))
    assert [p.image for p in heads_view.panels] == images
    heads_view.set_heads(np.full((2, 5, 5), 0.2), _tokens(5), _tokens(5))
    assert len(heads_view.panels) == 2


def test_clicking_a_panel_selects_its_head(heads_view: AllHeadsView, qtbot) -> None:
    heads_view.set_heads(_four_heads(), _tokens(5), _tokens(5))
    _settle()
    panel = heads_view.panels[2]
    glw = heads_view.graphics_widget
    pos = glw.mapFromScene(panel.vb.mapViewToScene(QPointF(2.5, 2.5)))
    with qtbot.waitSignal(heads_view.headClicked, timeout=1000) as blocker:
        qtbot.mouseClick(glw.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == [2]


def _move_in(glw: pg.GraphicsLayoutWidget, pos: QPoint) -> None:
    QTest.qWait(20)  # pyqtgraph drops moves closer than 10 ms apart
    viewport = glw.viewport()
    event = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(pos),
        QPointF(viewport.mapToGlobal(pos)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, event)


def test_all_heads_hover_reports_head_row_and_column(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(_four_heads(), _tokens(5), _tokens(5))
    _settle()
    glw = heads_view.graphics_widget
    seen: list[tuple[int, int, int]] = []
    heads_view.headCellHovered.connect(lambda h, r, c: seen.append((h, r, c)))

    def at(head: int, row: float, col: float) -> QPoint:
        vb = heads_view.panels[head].vb
        return glw.mapFromScene(vb.mapViewToScene(QPointF(col, row)))

    _move_in(glw, at(2, 1.5, 3.5))
    _move_in(glw, at(0, 4.5, 0.5))
    _move_in(glw, at(0, 4.5, 0.7))  # same cell: no repeat
    QApplication.sendEvent(glw.viewport(), QEvent(QEvent.Type.Leave))
    assert seen == [(2, 1, 3), (0, 4, 0), (-1, -1, -1)]


def test_all_heads_pointing_hand_over_the_tiles(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(_four_heads(), _tokens(5), _tokens(5))
    _settle()
    glw = heads_view.graphics_widget
    vb = heads_view.panels[1].vb
    _move_in(glw, glw.mapFromScene(vb.mapViewToScene(QPointF(2.5, 2.5))))
    assert glw.viewport().cursor().shape() == Qt.CursorShape.PointingHandCursor
    bar = heads_view.colorbar.sceneBoundingRect().center()  # the colour bar: no click
    _move_in(glw, glw.mapFromScene(bar))
    assert glw.viewport().cursor().shape() == Qt.CursorShape.ArrowCursor


def test_all_heads_hover_text_names_head_tokens_and_value(heads_view: AllHeadsView) -> None:
    weights = np.zeros((2, 2, 2))
    weights[1] = [[0.25, 0.75], [1.0, 0.0]]
    causal = np.array([[True, False], [True, True]])
    heads_view.set_heads(weights, ["a", "b"], ["x", "y"], causal)
    assert heads_view.hover_text(1, 0, 1) == "head 2: query 'a' → key 'y': 0.75 (masked)"
    assert heads_view.hover_text(1, 1, 0) == "head 2: query 'b' → key 'x': 1"
    assert heads_view.hover_text(2, 0, 0) == ""
    assert heads_view.hover_text(0, 2, 0) == ""


def test_all_heads_print_values_at_one_size(heads_view: AllHeadsView) -> None:
    short = np.full((4, 5, 5), 0.5)
    heads_view.set_heads(short, _tokens(5), _tokens(5))
    _settle()
    alone = heads_view.panels[0].cell_texts._font_px
    assert alone > 0 and heads_view.panels[0].texts_shown() == ["0.500"] * 25
    mixed = short.copy()
    mixed[2, 1, 1] = 0.000123456  # one longer text in head 3: "<0.001"
    heads_view.set_heads(mixed, _tokens(5), _tokens(5))
    _settle()
    sizes = {panel.cell_texts._font_px for panel in heads_view.panels}
    assert len(sizes) == 1 and 0 < sizes.pop() < alone  # head 1 shrinks along with head 3
    assert [len(p.texts_shown()) for p in heads_view.panels] == [25] * 4


def test_all_heads_masks_every_head(heads_view: AllHeadsView) -> None:
    causal = np.tril(np.ones((3, 3), dtype=bool))
    heads_view.set_heads(np.full((2, 3, 3), 0.3), _tokens(3), _tokens(3), causal)
    for panel in heads_view.panels:
        np.testing.assert_array_equal(panel.overlay.image > 0, ~causal)


def test_all_heads_export(heads_view: AllHeadsView, tmp_path: Path) -> None:
    heads_view.set_heads(_four_heads(), _tokens(5), _tokens(5))
    heads_view.export_png(str(tmp_path / "heads.png"))
    _check_png(tmp_path / "heads.png", 1600)
    heads_view.export_svg(str(tmp_path / "heads.svg"))
    _check_svg(tmp_path / "heads.svg")


# -- arbitrary input -------------------------------------------------------------------

_cells = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.just(-math.inf),
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    n=st.integers(1, 20),
    m=st.integers(1, 20),
    kind=st.sampled_from(["weights", "scores"]),
)
def test_any_matrix_draws_what_it_was_handed(view: HeatmapView, data, n, m, kind) -> None:
    values = data.draw(hnp.arrays(np.float64, (n, m), elements=_cells))
    visible = data.draw(hnp.arrays(np.bool_, (n, m)))
    view.set_matrix(values, _tokens(n), _tokens(m), kind=kind, visible=visible)
    image = view.image_item.image
    assert image.shape == (n, m) and np.all(np.isfinite(image))
    shown = visible & np.isfinite(values)
    np.testing.assert_allclose(image[shown], values[shown].astype(np.float32))
    np.testing.assert_array_equal(view._matrix.display_mask, ~shown)
    lo, hi = view.levels()
    if kind == "weights":
        assert (lo, hi) == (0.0, 1.0)
    else:
        assert lo == -hi and hi > 0
        if shown.any():
            assert hi == pytest.approx(np.abs(values[shown]).max())


def test_scores_beyond_float32_keep_their_colours_and_readout(view: HeatmapView) -> None:
    # raw scores of a float64 preset can exceed float32's largest number (3.4e38); the
    # float32 display buffer must not turn them into inf (which drew them as garbage)
    big = np.array([[1e39, -1e39], [5e38, 0.0]])
    view.set_matrix(big, ["a", "b"], ["x", "y"], kind="scores")
    assert view.levels() == (-1e39, 1e39)  # true levels, in float64
    assert np.all(np.isfinite(view.image_item.image))
    for (i, j), value in np.ndenumerate(big):
        got = _rgb(_pixel(view, i, j, fx=0.15, fy=0.15))
        want = _expected_rgb(DIVERGING_COLORMAP, value, -1e39, 1e39)
        assert _close(got, want), (i, j, got, want)
    assert view.hover_text(1, 0).endswith(": 5e+38")  # the true value, not the display copy
    shown_top = view.colorbar.levels()[1] * view.colorbar.axis.scale  # the tick axis
    assert shown_top == pytest.approx(1e39, rel=1e-6)  # the bar reads true scores
