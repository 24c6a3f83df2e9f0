"""The numbers printed in the cells: which, in what colour, at what size, and when not.

The number formats themselves are tested in tests/core/test_numbers.py.
"""

from __future__ import annotations

import heatmap_helpers as hh
import numpy as np
import pytest
from PySide6.QtGui import QColor

from app.heatmap import (
    HeatmapView,
    format_cell,
    format_cells,
)
from selfattn import numbers


@pytest.fixture
def view(qtbot) -> HeatmapView:
    return hh.shown_view(qtbot)


# -- cell texts ------------------------------------------------------------------------


def test_small_matrix_prints_values_in_cells(view: HeatmapView) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    hh.settle()
    # weights: three decimals in every cell (0.00089 rounds to 0.001, 0.0903 to 0.090)
    assert view.cell_texts() == [
        "0.136", "0.432", "0.432",
        "0.001", "0.909", "0.090",
        "0.007", "0.755", "0.238",
    ]  # fmt: skip


def test_text_colour_contrasts_with_the_cell(view: HeatmapView) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    colors = view.matrix.cell_texts.text_colors()
    assert colors[1 * 3 + 0] == QColor(255, 255, 255)  # 0.00089: deep purple cell
    assert colors[1 * 3 + 1] == QColor(0, 0, 0)  # 0.909: yellow-green cell
    # rendered: the dark cell holds white glyph pixels, the light one black ones
    assert (255, 255, 255) in hh.text_pixels(view, 1, 0)
    assert (0, 0, 0) not in hh.text_pixels(view, 1, 0)
    assert (0, 0, 0) in hh.text_pixels(view, 1, 1)
    assert (255, 255, 255) not in hh.text_pixels(view, 1, 1)


def test_text_colour_follows_the_colour_map(view: HeatmapView) -> None:
    # viridis runs dark purple -> yellow; CET-L17 runs near-white -> dark purple,
    # so the same two values swap black and white text
    values = np.array([[0.95, 0.02]])
    view.set_matrix(values, ["a"], ["x", "y"], kind="weights")
    assert view.matrix.cell_texts.text_colors() == [QColor(0, 0, 0), QColor(255, 255, 255)]
    view.set_colormap("CET-L17")
    assert view.matrix.cell_texts.text_colors() == [QColor(255, 255, 255), QColor(0, 0, 0)]


def test_masked_scores_print_minus_infinity(view: HeatmapView) -> None:
    scaled = np.array([[1.0, -np.inf], [-0.25, 2.0]])
    view.set_matrix(scaled, ["a", "b"], ["x", "y"], kind="scores")
    hh.settle()
    assert view.cell_texts() == ["1", "−∞", "−0.25", "2"]


def test_large_matrix_prints_no_values(view: HeatmapView) -> None:
    rng = np.random.default_rng(1)
    view.set_matrix(rng.random((40, 40)), hh.tokens(40), hh.tokens(40), kind="weights")
    hh.settle()
    assert view.cell_texts() == []
    assert not view.matrix.cell_texts.isVisible()


def test_texts_hide_after_growing_past_16(view: HeatmapView) -> None:
    view.set_matrix(np.eye(3), hh.tokens(3), hh.tokens(3), kind="weights")
    hh.settle()
    assert len(view.cell_texts()) == 9
    view.set_matrix(np.eye(17), hh.tokens(17), hh.tokens(17), kind="weights")
    hh.settle()
    assert view.cell_texts() == []


def test_values_hide_when_cells_are_too_small_and_return(view: HeatmapView) -> None:
    values = np.full((16, 16), 0.123456)
    view.set_matrix(values, hh.tokens(16), hh.tokens(16), kind="weights")
    view.resize(220, 180)  # cells of a few pixels: no readable text fits
    hh.settle()
    assert view.cell_texts() == []
    view.resize(1800, 1400)  # cells of ~80 px: full 3 digits
    hh.settle()
    assert view.cell_texts() == ["0.123"] * 256


def test_weight_cells_read_alike_at_every_size(view: HeatmapView) -> None:
    # the reviewer's 10 x 10 mix: 2 significant digits gave "0.1" beside "0.13" and "0.002"
    values = np.full((10, 10), 0.1)
    values[0, :3] = [0.1, 0.13, 0.002]
    view.resize(1400, 1100)
    view.set_matrix(values, hh.tokens(10), hh.tokens(10), kind="weights")
    hh.settle()
    assert view.cell_texts()[:3] == ["0.100", "0.130", "0.002"]
    view.resize(400, 320)  # narrower cells: two decimals, still all alike
    hh.settle()
    assert view.cell_texts()[:3] == ["0.10", "0.13", "<.01"]


def test_scores_print_three_significant_digits(view: HeatmapView) -> None:
    scores = np.array([[16.0, 2.309401, -0.0123], [1e-05, 12345.0, -np.inf]])
    view.set_matrix(scores, ["a", "b"], ["x", "y", "z"], kind="scores")
    hh.settle()
    assert view.cell_texts() == ["16", "2.31", "−0.0123", "1e−5", "1.23e4", "−∞"]


def test_cells_print_the_one_number_module_s_texts(view: HeatmapView) -> None:
    # the old names stay importable and are the one implementation in selfattn.numbers
    assert format_cell is numbers.cell_text and format_cells is numbers.cell_texts
    weights = np.array([[0.25, 0.0004], [-0.5, 1.0]])
    view.set_matrix(weights, ["a", "b"], ["x", "y"], kind="weights")
    hh.settle()
    assert view.cell_texts() == ["0.250", "<0.001", "−0.500", "1"]
