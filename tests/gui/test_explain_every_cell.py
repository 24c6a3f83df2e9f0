"""Explain every cell of the window: Q/K/V cells show their dot product term by term, input
and weight cells what they feed and the ∂ of the selected result cell (checked against
central finite differences of selfattn.compute)."""

from __future__ import annotations

import re

import numpy as np

import selfattn


def _click(view, row, col):
    view.setCurrentIndex(view.model().index(row, col))


def test_q_1_1_lists_the_four_products_and_their_sum(window):
    # Seed example: X row 1 = (1, 0, 1, 0), W_Q column 1 = (1, 1, 0, 0).
    _click(window.results_panel.tables["q"], 0, 0)
    text = window.explain_panel.current_text()
    products = re.findall(r"X\[1,x(\d)\] × W_Q\[x\d,q1\]\s+(\S+) × (\S+)\s+= (\S+)", text)
    assert products == [
        ("1", "1", "1", "1"),
        ("2", "0", "1", "0"),
        ("3", "1", "0", "0"),
        ("4", "0", "0", "0"),
    ]
    assert re.search(r"sum: Q\[1,q1\]\s+= 1\b", text)
    assert window.explain_panel.title.text() == "Q  query 1 'input_1', column q1 = 1"


def test_k_and_v_cells_are_explained_too(window):
    # K[2,1] = X row 2 · W_K column 1 = 0·0 + 2·1 + 0·0 + 2·1 = 4 (the published K).
    _click(window.results_panel.tables["k"], 1, 0)
    assert re.search(r"sum: K\[2,k1\]\s+= 4\b", window.explain_panel.current_text())
    # V[3,2] = (1,1,1,1) · (2,3,0,1) = 6
    _click(window.results_panel.tables["v"], 2, 1)
    assert re.search(r"sum: V\[3,v2\]\s+= 6\b", window.explain_panel.current_text())


def _weight_1_2(preset):
    return float(selfattn.compute(preset).weights[0, 0, 1])


def test_input_cell_with_a_selected_weight_shows_the_exact_derivative(window):
    _click(window.results_panel.tables["weights"], 0, 1)  # the ∂ target: weight[1,2]
    _click(window.inputs_panel.tables["w_query"], 2, 0)  # W_Q[3,1]
    text = window.explain_panel.current_text()
    assert "column q1 of Q" in text
    found = re.search(r"∂ weight\[1,2\] / ∂ W_Q\[x3,q1\]\s+= (\S+)", text)
    assert found, text
    preset = window.document.preset
    h = 1e-6
    up = preset.w_query.copy()
    down = preset.w_query.copy()
    up[2, 0] += h
    down[2, 0] -= h
    numeric = (
        _weight_1_2(preset.replace(w_query=up)) - _weight_1_2(preset.replace(w_query=down))
    ) / (2 * h)
    assert abs(float(found.group(1)) - numeric) < 1e-6
    # The result cell stays the target: the heatmap and Results keep weight[1,2] selected.
    assert window.view_state.cell is not None and window.view_state.cell.kind == "weights"


def test_input_cell_without_a_target_says_what_it_feeds(window):
    window.view_state.clear_cell()
    _click(window.inputs_panel.tables["inputs"], 1, 3)  # X[2,4] = 2
    text = window.explain_panel.current_text()
    assert "X" in window.explain_panel.title.text() and "= 2" in window.explain_panel.title.text()
    assert "∂" not in text
    assert "From there it reaches" in text


def test_every_cell_of_every_table_has_an_explanation(window):
    """No click leaves Explain empty or stale: every cell of every Inputs and Results table."""
    tables = {**window.inputs_panel.tables, **window.results_panel.tables}
    for key, view in tables.items():
        model = view.model()
        if not view.isVisibleTo(window) and model.rowCount() == 0:
            continue
        for row in range(model.rowCount()):
            for col in range(model.columnCount()):
                _click(view, row, col)
                focus = window.highlights.focus()
                assert focus is not None and focus.matrix == key, (key, row, col)
                assert (focus.row, focus.col) == (row, col)
                title = window.explain_panel.title.text()
                value = float(np.asarray(model.array())[row, col])
                assert window.explain_panel.current_text(), (key, row, col)
                shown = float(re.findall(r"= (-?[\d.e+-]+)\S*$", title)[-1])
                assert shown == value or abs(shown - value) <= 1e-9 * abs(value), (key, title)
