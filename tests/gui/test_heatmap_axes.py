"""Token labels on the axes: thinned to round steps, turned when that shows more, reused."""

from __future__ import annotations

import heatmap_helpers as hh
import numpy as np
import pytest

from app.heatmap import (
    HeatmapView,
    label_step,
    round_step,
    tick_indices,
)


@pytest.fixture
def view(qtbot) -> HeatmapView:
    return hh.shown_view(qtbot)


# -- axes and ticks --------------------------------------------------------------------


def _ticks(view: HeatmapView, axis: str) -> list[tuple[float, str]]:
    levels = view.plot_item.getAxis(axis)._tickLevels
    return list(levels[0]) if levels else []


def test_token_labels_on_both_axes_at_cell_centres(view: HeatmapView) -> None:
    view.set_matrix(np.eye(2, 3), ["q0", "q1"], ["k0", "k1", "k2"], kind="weights")
    hh.settle()
    assert _ticks(view, "left") == [(0.5, "q0"), (1.5, "q1")]
    assert _ticks(view, "top") == [(0.5, "k0"), (1.5, "k1"), (2.5, "k2")]
    # titles with arrows, so they are not read as one more token label
    assert view.plot_item.getAxis("left").labelText == "← query"  # turned: points down
    assert view.plot_item.getAxis("top").labelText == "key →"


def test_long_labels_are_truncated_on_axes_but_not_in_hover(view: HeatmapView) -> None:
    long = "a_really_long_token_label"
    view.set_matrix(np.eye(2), [long, "b"], ["x", "y"], kind="weights")
    hh.settle()
    label = _ticks(view, "left")[0][1]
    assert label.endswith("…") and len(label) <= 12
    assert long in view.hover_text(0, 0)


ROUND_STEPS = {f * 10**k for f in (1, 2, 5) for k in range(5)}


def test_2000_by_2000_caps_tick_labels(view: HeatmapView) -> None:
    n = 2000
    values = np.random.default_rng(2).random((n, n)).astype(np.float32)
    view.set_matrix(values, hh.tokens(n), hh.tokens(n), kind="weights")
    hh.settle()
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
    hh.settle()
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
    hh.settle()
    view.grab()
    assert view.plot_item.getAxis("top").drawn == labels


def test_short_key_labels_stay_upright(view: HeatmapView) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    view.grab()
    hh.settle()
    top = view.plot_item.getAxis("top")
    assert not top.rotated and view.grab() and top.drawn == hh.SEED_TOKENS


def test_rotated_key_axis_fits_its_longest_label(view: HeatmapView) -> None:
    long = [f"{'w' * 10}{i}" for i in range(11)]
    view.set_matrix(np.eye(11), REAL_TOKENS, REAL_TOKENS, kind="weights")
    hh.settle()
    short_height = view.plot_item.getAxis("top").height()
    view.set_matrix(np.eye(11), REAL_TOKENS, long, kind="weights")
    hh.settle()
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
    view.set_matrix(np.eye(5), hh.tokens(5), hh.tokens(5), kind="weights")
    hh.settle()
    assert [label for _, label in _ticks(view, "left")] == hh.tokens(5)
    (x0, x1), (y0, y1) = view.plot_item.getViewBox().viewRange()
    tol = 1e-9  # the locked aspect recentres the range with rounding errors
    assert x0 <= tol and x1 >= 5 - tol and y0 <= tol and y1 >= 5 - tol


def test_wide_window_keeps_the_colour_bar_beside_a_centred_matrix(view: HeatmapView) -> None:
    view.resize(1400, 500)  # far wider than a 3 x 3 matrix of square cells needs
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    hh.settle()
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
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    image, texts = view.image_item, view.matrix.cell_texts
    buffer = view.image_item.image
    items_before = len(view.plot_item.getViewBox().addedItems)
    view.set_matrix(hh.SEED_WEIGHTS[::-1].copy(), hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    assert view.image_item is image
    assert np.shares_memory(view.image_item.image, buffer)  # one buffer, refilled in place
    assert view.matrix.cell_texts is texts
    assert len(view.plot_item.getViewBox().addedItems) == items_before
    np.testing.assert_allclose(view.image_item.image, hh.SEED_WEIGHTS[::-1], rtol=1e-6)


def test_same_shape_update_leaves_ticks_and_colour_bar_alone(
    view: HeatmapView, monkeypatch: pytest.MonkeyPatch
) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    hh.settle()
    calls: list[str] = []
    for name in ("left", "top"):
        axis = view.plot_item.getAxis(name)
        monkeypatch.setattr(axis, "setTicks", lambda *a, n=name: calls.append(n))
        monkeypatch.setattr(axis, "setWidth", lambda *a, n=name: calls.append(n))
    monkeypatch.setattr(view.colorbar, "setLevels", lambda *a, **k: calls.append("bar"))
    view.set_matrix(hh.SEED_WEIGHTS[::-1].copy(), hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    assert calls == []
    view.set_matrix(hh.SEED_WEIGHTS, ["a", "b", "c"], hh.SEED_TOKENS, kind="weights")
    assert "left" in calls  # new labels do re-set the ticks
