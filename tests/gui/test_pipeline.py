"""The pipeline view: every matrix of the layer at once with its numbers (published values of
the seed example), outlines, clicks that explain, thumbnails for large presets, wrapping."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRect, Qt

from app import commands
from app.highlights import OUTLINE
from app.main_window import MainWindow
from app.pipeline_view import SMALL, Thumbnail
from selfattn import edit
from selfattn.bundled import load_bundled

# The tutorial's published Q, K, V and raw scores of the seed example.
Q = [[1, 0, 2], [2, 2, 2], [2, 1, 3]]
K = [[0, 1, 1], [4, 4, 0], [2, 3, 1]]
V = [[1, 2, 3], [2, 8, 0], [2, 6, 3]]
SCORES = [[2, 4, 4], [4, 16, 12], [4, 12, 10]]
X = [[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]]


def _naive_weights_and_context():
    """Softmax of scores / sqrt(3) and weights · V, by plain loops over the published numbers."""
    weights, context = [], []
    for i in range(3):
        e = [math.exp(SCORES[i][j] / math.sqrt(3)) for j in range(3)]
        w = [x / sum(e) for x in e]
        weights.append(w)
        context.append([sum(w[j] * V[j][c] for j in range(3)) for c in range(3)])
    return weights, context


def _shown(window, matrix):
    """The numbers the pipeline's table shows (the model's values, as the delegate draws them)."""
    view = window.pipeline.table(matrix)
    assert view is not None, matrix
    model = view.model()
    return np.array(
        [
            [
                model.index(r, c).data(Qt.ItemDataRole.UserRole + 1)
                for c in range(model.columnCount())
            ]
            for r in range(model.rowCount())
        ]
    )


def test_all_eight_matrices_of_the_seed_example_with_the_published_numbers(window):
    assert window.center_tabs.currentWidget() is window.pipeline  # small preset: the default
    assert list(window.pipeline.cards) == [
        "inputs",
        "q",
        "k",
        "v",
        "scores",
        "scaled_scores",
        "weights",
        "context",
        "output",
    ]
    weights, context = _naive_weights_and_context()
    np.testing.assert_array_equal(_shown(window, "inputs"), X)
    np.testing.assert_array_equal(_shown(window, "q"), Q)
    np.testing.assert_array_equal(_shown(window, "k"), K)
    np.testing.assert_array_equal(_shown(window, "v"), V)
    np.testing.assert_array_equal(_shown(window, "scores"), SCORES)
    np.testing.assert_allclose(_shown(window, "scaled_scores"), np.array(SCORES) / math.sqrt(3))
    np.testing.assert_allclose(_shown(window, "weights"), weights, rtol=1e-12)
    np.testing.assert_allclose(_shown(window, "weights")[0], [0.136, 0.432, 0.432], atol=5e-4)
    np.testing.assert_allclose(_shown(window, "context"), context, rtol=1e-12)
    np.testing.assert_allclose(_shown(window, "output"), context, rtol=1e-12)  # no W_O
    text = window.pipeline.table("weights").model().index(0, 0).data()
    assert text == "0.136126"  # the numbers are drawn, not only held


def test_cells_are_coloured_with_readable_text(window):
    model = window.pipeline.table("scores").model()
    low = model.index(0, 0).data(Qt.ItemDataRole.BackgroundRole).color()
    high = model.index(1, 1).data(Qt.ItemDataRole.BackgroundRole).color()
    assert low != high  # 2 and 16 are different colours
    for index in (model.index(0, 0), model.index(1, 1)):
        back = index.data(Qt.ItemDataRole.BackgroundRole).color()
        text = index.data(Qt.ItemDataRole.ForegroundRole).color()
        assert abs(back.lightnessF() - text.lightnessF()) > 0.4


def test_selected_weight_outlines_its_inputs_in_the_pipeline(window):
    table = window.pipeline.table("weights")
    table.setCurrentIndex(table.model().index(0, 1))  # weight[1,2]
    assert window.view_state.cell.kind == "weights"
    x = window.pipeline.table("inputs")
    marked = {(r, c) for r in range(3) for c in range(4) if x.cell_marks(r, c) & OUTLINE}
    assert marked == {(r, c) for r in (0, 1) for c in range(4)}
    assert not window.pipeline.table("v").cell_marks(0, 0) & OUTLINE


def test_clicking_a_pipeline_q_cell_explains_it(window):
    q = window.pipeline.table("q")
    q.setCurrentIndex(q.model().index(0, 0))
    assert "Q[1,q1] = X row 1 · W_Q column q1" in window.explain_panel.current_text()
    assert window.highlights.focus().matrix == "q"


def test_edits_show_in_the_pipeline(window):
    model = window.inputs_panel.tables["w_value"].model()
    model.setData(model.index(2, 0), "5")  # W_V[3,1]: V column 1 = X · (0, 0, 5, 1)
    np.testing.assert_array_equal(_shown(window, "v")[:, 0], [5, 2, 6])
    window.document.undo_stack.undo()
    np.testing.assert_array_equal(_shown(window, "v"), V)


def test_head_follows_the_view_state(window):
    commands.open_preset(window.document, load_bundled("two-heads-self-and-previous"), None)
    window.view_state.set_head(1)
    assert "head 2" in window.pipeline.cards["weights"].title.text()
    np.testing.assert_array_equal(_shown(window, "weights"), window.recompute.result.weights[1])


def test_large_matrices_are_thumbnails_and_clicks_map_to_cells(qtbot, settings, dialogs):
    preset = edit.resized(load_bundled("seed-example"), n_tokens=SMALL + 4)
    win = MainWindow(preset, settings=settings)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    assert win.center_tabs.currentWidget() is not win.pipeline  # large: the heatmap first
    body = win.pipeline.cards["weights"].body
    assert isinstance(body, Thumbnail)
    assert win.pipeline.table("q") is None and isinstance(win.pipeline.cards["q"].body, Thumbnail)
    assert win.pipeline.table("v") is None
    qtbot.mouseClick(body, Qt.MouseButton.LeftButton, pos=QPointF(body.width() - 1, 0).toPoint())
    assert win.view_state.cell is not None
    assert (win.view_state.cell.kind, win.view_state.cell.row, win.view_state.cell.col) == (
        "weights",
        0,
        SMALL + 3,
    )
    win.document.undo_stack.setClean()


def test_the_steps_wrap_when_the_view_is_narrow(window):
    cards = window.pipeline.cards
    flow = window.pipeline.widget().layout()
    flow.setGeometry(QRect(0, 0, 2400, 600))
    assert {cards[m].y() for m in cards} == {cards["inputs"].y()}  # one line when wide
    assert [cards[m].x() for m in cards] == sorted(cards[m].x() for m in cards)
    flow.setGeometry(QRect(0, 0, 420, 2000))
    assert cards["q"].y() > cards["inputs"].y()  # wrapped: X alone on the first line
    assert max(card.geometry().right() for card in cards.values()) < 420
    assert flow.heightForWidth(420) > flow.heightForWidth(2400)
