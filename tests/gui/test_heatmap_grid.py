"""The grid of heads: tiles sized for the widget, one colour bar, hover and click per head."""

from __future__ import annotations

from pathlib import Path

import heatmap_helpers as hh
import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from app.heatmap import (
    AllHeadsView,
    best_grid,
)


@pytest.fixture
def heads_view(qtbot) -> AllHeadsView:
    return hh.shown_heads_view(qtbot)


def _four_heads() -> np.ndarray:
    rng = np.random.default_rng(3)
    w = rng.random((4, 5, 5))
    return w / w.sum(axis=-1, keepdims=True)


# -- all heads -------------------------------------------------------------------------


def _four_heads() -> np.ndarray:
    rng = np.random.default_rng(3)
    w = rng.random((4, 5, 5))
    return w / w.sum(axis=-1, keepdims=True)


def test_all_heads_shows_one_titled_panel_per_head(heads_view: AllHeadsView) -> None:
    weights = _four_heads()
    heads_view.set_heads(weights, hh.tokens(5), hh.tokens(5))
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
    heads_view.set_heads(weights, hh.tokens(4), hh.tokens(4), visible)
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
    heads_view.set_heads(np.full((6, 3, 3), 1 / 3), hh.tokens(3), hh.tokens(3))
    hh.settle()
    tops = {round(t) for _, t, _, _ in _tile_rects(heads_view)}
    assert heads_view.grid() == (1, 6) and len(tops) == 1
    heads_view.resize(420, 1500)  # narrow and tall: one column, same panels re-arranged
    hh.settle()
    lefts = {round(x) for x, _, _, _ in _tile_rects(heads_view)}
    assert heads_view.grid() == (6, 1) and len(lefts) == 1
    tops = [t for _, t, _, _ in _tile_rects(heads_view)]
    assert tops == sorted(tops)  # head 1 on top, row by row
    assert len(heads_view.panels) == 6


def test_two_heads_fill_the_view(heads_view: AllHeadsView) -> None:
    # the reviewer's 2 heads filled only the top ~45% of a wide view
    causal = np.tril(np.ones((4, 4), dtype=bool))
    heads_view.set_heads(np.full((2, 4, 4), 0.25), hh.tokens(4), hh.tokens(4), causal)
    hh.settle()
    for _, _, w, h in _tile_rects(heads_view):
        assert h > 0.65 * heads_view.height() and w == pytest.approx(h, abs=1.5)
    heads_view.resize(500, 900)  # tall: stacked, each nearly the full width
    hh.settle()
    assert heads_view.grid() == (2, 1)
    for _, _, w, _ in _tile_rects(heads_view):
        assert w > 0.6 * heads_view.width()  # side by side they would get < 0.4


def test_all_heads_colour_bar_spans_the_tiles(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(np.full((12, 5, 5), 0.2), hh.tokens(5), hh.tokens(5))
    hh.settle()
    tiles = _tile_rects(heads_view)
    block_top = min(t for _, t, _, _ in tiles)
    block_bottom = max(t + h for _, t, _, h in tiles)
    bar = heads_view.colorbar.getViewBox().sceneBoundingRect()
    assert bar.top() == pytest.approx(block_top, abs=2)
    assert bar.bottom() == pytest.approx(block_bottom, abs=2)


def test_all_heads_share_one_query_and_one_key_title(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(np.full((4, 5, 5), 0.2), hh.tokens(5), hh.tokens(5))
    assert heads_view._key_title.text == "key →"
    assert heads_view._query_title.text == "← query"
    for panel in heads_view.panels:  # none of the tiles repeats them
        assert not panel.plot.getAxis("left").labelText
        assert not panel.plot.getAxis("top").labelText


def test_all_heads_panels_have_equal_cells(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(_four_heads(), hh.tokens(5), hh.tokens(5))
    heads_view.select_head(1)
    hh.settle()
    widths = [p.vb.width() for p in heads_view.panels]
    assert max(widths) - min(widths) < 1.0


def test_all_heads_reuses_items_for_same_h(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(_four_heads(), hh.tokens(5), hh.tokens(5))
    images = [p.image for p in heads_view.panels]
    heads_view.set_heads(_four_heads()[::-1].copy(), hh.tokens(5), hh.tokens(5))
    assert [p.image for p in heads_view.panels] == images
    heads_view.set_heads(np.full((2, 5, 5), 0.2), hh.tokens(5), hh.tokens(5))
    assert len(heads_view.panels) == 2


def test_clicking_a_panel_selects_its_head(heads_view: AllHeadsView, qtbot) -> None:
    heads_view.set_heads(_four_heads(), hh.tokens(5), hh.tokens(5))
    hh.settle()
    panel = heads_view.panels[2]
    glw = heads_view.graphics_widget
    pos = glw.mapFromScene(panel.vb.mapViewToScene(QPointF(2.5, 2.5)))
    with qtbot.waitSignal(heads_view.headClicked, timeout=1000) as blocker:
        qtbot.mouseClick(glw.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == [2]


def test_all_heads_hover_reports_head_row_and_column(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(_four_heads(), hh.tokens(5), hh.tokens(5))
    hh.settle()
    glw = heads_view.graphics_widget
    seen: list[tuple[int, int, int]] = []
    heads_view.headCellHovered.connect(lambda h, r, c: seen.append((h, r, c)))

    def at(head: int, row: float, col: float) -> QPoint:
        vb = heads_view.panels[head].vb
        return glw.mapFromScene(vb.mapViewToScene(QPointF(col, row)))

    hh.move_mouse(glw, at(2, 1.5, 3.5))
    hh.move_mouse(glw, at(0, 4.5, 0.5))
    hh.move_mouse(glw, at(0, 4.5, 0.7))  # same cell: no repeat
    QApplication.sendEvent(glw.viewport(), QEvent(QEvent.Type.Leave))
    assert seen == [(2, 1, 3), (0, 4, 0), (-1, -1, -1)]


def test_all_heads_pointing_hand_over_the_tiles(heads_view: AllHeadsView) -> None:
    heads_view.set_heads(_four_heads(), hh.tokens(5), hh.tokens(5))
    hh.settle()
    glw = heads_view.graphics_widget
    vb = heads_view.panels[1].vb
    hh.move_mouse(glw, glw.mapFromScene(vb.mapViewToScene(QPointF(2.5, 2.5))))
    assert glw.viewport().cursor().shape() == Qt.CursorShape.PointingHandCursor
    bar = heads_view.colorbar.sceneBoundingRect().center()  # the colour bar: no click
    hh.move_mouse(glw, glw.mapFromScene(bar))
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
    heads_view.set_heads(short, hh.tokens(5), hh.tokens(5))
    hh.settle()
    alone = heads_view.panels[0].cell_texts._font_px
    assert alone > 0 and heads_view.panels[0].texts_shown() == ["0.500"] * 25
    mixed = short.copy()
    mixed[2, 1, 1] = 0.000123456  # one longer text in head 3: "<0.001"
    heads_view.set_heads(mixed, hh.tokens(5), hh.tokens(5))
    hh.settle()
    sizes = {panel.cell_texts._font_px for panel in heads_view.panels}
    assert len(sizes) == 1 and 0 < sizes.pop() < alone  # head 1 shrinks along with head 3
    assert [len(p.texts_shown()) for p in heads_view.panels] == [25] * 4


def test_all_heads_masks_every_head(heads_view: AllHeadsView) -> None:
    causal = np.tril(np.ones((3, 3), dtype=bool))
    heads_view.set_heads(np.full((2, 3, 3), 0.3), hh.tokens(3), hh.tokens(3), causal)
    for panel in heads_view.panels:
        np.testing.assert_array_equal(panel.overlay.image > 0, ~causal)


def test_all_heads_export(heads_view: AllHeadsView, tmp_path: Path) -> None:
    heads_view.set_heads(_four_heads(), hh.tokens(5), hh.tokens(5))
    heads_view.export_png(str(tmp_path / "heads.png"))
    hh.check_png(tmp_path / "heads.png", 1600)
    heads_view.export_svg(str(tmp_path / "heads.svg"))
    hh.check_svg(tmp_path / "heads.svg")
