"""View → Number precision: one setting for the tables, the heatmap's cells and the pipeline.

Expected texts are the seed example's published numbers written by hand (weights
0.136, 0.432, 0.432 in the tutorial; scaled scores k/√3), at each precision; full
values are checked by reading them back, against plain-math softmax.
"""

from __future__ import annotations

import math

import heatmap_helpers as hh
import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt, Signal

from app.main_window import MainWindow
from app.matrix_model import VALUE_ROLE, MatrixModel
from app.precision_menu import SETTING
from app.table_view import MatrixTableView
from selfattn.bundled import load_bundled
from selfattn.numbers import MINUS

DISPLAY = Qt.ItemDataRole.DisplayRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole
SCORES = [[2, 4, 4], [4, 16, 12], [4, 12, 10]]  # the tutorial's raw scores Q·Kᵀ

# The seed example's weights, by hand at each precision (published: 0.136, 0.432, 0.432).
WEIGHTS_DECIMALS3 = [
    "0.136",
    "0.432",
    "0.432",
    "0.001",
    "0.909",
    "0.090",
    "0.007",
    "0.755",
    "0.238",
]
WEIGHTS_SIGNIFICANT6 = [
    "0.136126", "0.431937", "0.431937",
    "0.000890447", "0.908843", "0.0902669",
    "0.00744489", "0.754708", "0.237848",
]  # fmt: skip
# Scaled scores k/√3 for k = 2, 4, 4 / 4, 16, 12 / 4, 12, 10.
SCALED_DECIMALS3 = ["1.155", "2.309", "2.309", "2.309", "9.238", "6.928", "2.309", "6.928", "5.774"]
SCALED_SIGNIFICANT6 = [
    "1.1547", "2.3094", "2.3094",
    "2.3094", "9.2376", "6.9282",
    "2.3094", "6.9282", "5.7735",
]  # fmt: skip
X_ROW1 = {"decimals3": ["1.000", "0.000", "1.000", "0.000"], "significant6": ["1", "0", "1", "0"]}
X_ROW1["full"] = X_ROW1["significant6"]


def _plain_weights() -> list[float]:
    """Softmax of the published scores / sqrt(3), by plain loops (row by row, flattened)."""
    out = []
    for row in SCORES:
        e = [math.exp(s / math.sqrt(3)) for s in row]
        out += [x / sum(e) for x in e]
    return out


def _texts(view, role=DISPLAY) -> list[object]:
    model = view.model()
    return [
        model.index(r, c).data(role)
        for r in range(model.rowCount())
        for c in range(model.columnCount())
    ]


def _read(text: str) -> float:
    return float(text.replace(MINUS, "-").replace("∞", "inf"))


def _choose(window: MainWindow, precision: str) -> None:
    """Pick a precision the way a person does: its View-menu action."""
    actions = {a.data(): a for a in window.precision_actions.actions()}
    actions[precision].trigger()
    hh.settle()


def test_the_menu_offers_three_precisions_and_checks_the_current_one(window) -> None:
    actions = window.precision_actions.actions()
    assert [a.data() for a in actions] == ["decimals3", "significant6", "full"]
    assert all(a.isCheckable() for a in actions)
    assert window.view_state.precision == "significant6"  # the tables' long-standing look
    assert [a.isChecked() for a in actions] == [False, True, False]
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    submenu = next(a.menu() for a in view_menu.actions() if a.menu() is not None)
    assert submenu.title() == "Number &precision"
    assert submenu.actions() == actions
    _choose(window, "decimals3")
    assert window.view_state.precision == "decimals3"
    assert [a.isChecked() for a in actions] == [True, False, False]


def test_input_and_result_tables_follow_the_precision(window) -> None:
    inputs = window.inputs_panel.tables["inputs"]
    weights = window.results_panel.tables["weights"]
    scaled = window.results_panel.tables["scaled_scores"]
    assert _texts(weights) == WEIGHTS_SIGNIFICANT6
    assert _texts(scaled) == SCALED_SIGNIFICANT6
    _choose(window, "decimals3")
    assert _texts(inputs)[:4] == X_ROW1["decimals3"]
    assert _texts(weights) == WEIGHTS_DECIMALS3
    assert _texts(scaled) == SCALED_DECIMALS3
    _choose(window, "full")
    assert _texts(inputs)[:4] == X_ROW1["full"]
    full = _texts(weights)
    assert [_read(t) for t in full] == _texts(weights, VALUE_ROLE)  # every digit: reads back
    for text, truth in zip(full, _plain_weights(), strict=True):
        assert len(text) >= 15  # not shortened
        assert _read(text) == pytest.approx(truth, abs=1e-15)
    _choose(window, "significant6")
    assert _texts(weights) == WEIGHTS_SIGNIFICANT6


def test_result_columns_refit_to_the_chosen_texts(window) -> None:
    window.results_panel.show_table("weights")
    view = window.results_panel.tables["weights"]
    hh.settle()
    margin = view._text_slack()
    widths = {}
    for precision in ("decimals3", "significant6", "full"):
        _choose(window, precision)
        widths[precision] = view.columnWidth(1)
        metrics = view.fontMetrics()
        for c in range(view.model().columnCount()):
            for r in range(view.model().rowCount()):
                text = view.model().index(r, c).data(DISPLAY)
                assert metrics.horizontalAdvance(text) <= view.columnWidth(c) - 2 * margin
    assert widths["decimals3"] < widths["significant6"] < widths["full"]


def test_the_pipeline_follows_the_precision_and_refits(window) -> None:
    pipeline = window.pipeline
    _choose(window, "decimals3")
    assert _texts(pipeline.table("weights")) == WEIGHTS_DECIMALS3
    assert _texts(pipeline.table("scaled_scores")) == SCALED_DECIMALS3
    assert _texts(pipeline.table("scores"))[:3] == ["2.000", "4.000", "4.000"]
    assert _texts(pipeline.table("inputs"))[:4] == X_ROW1["decimals3"]
    narrow = pipeline.table("weights").width()
    _choose(window, "significant6")
    assert _texts(pipeline.table("weights")) == WEIGHTS_SIGNIFICANT6
    assert _texts(pipeline.table("scores"))[:3] == ["2", "4", "4"]
    assert pipeline.table("weights").width() > narrow  # the compact table grew to its texts
    _choose(window, "full")
    texts = _texts(pipeline.table("weights"))
    assert [_read(t) for t in texts] == _texts(pipeline.table("weights"), VALUE_ROLE)


def test_heatmap_cells_and_hover_follow_the_precision(window) -> None:
    window.center_tabs.setCurrentWidget(window.heatmap_stack)
    hh.settle()
    heatmap = window.heatmap
    _choose(window, "decimals3")
    assert heatmap.cell_texts() == WEIGHTS_DECIMALS3
    assert heatmap.hover_text(0, 1) == "query 'input_1' → key 'input_2': 0.432"
    _choose(window, "significant6")
    assert heatmap.cell_texts() == WEIGHTS_SIGNIFICANT6
    assert heatmap.hover_text(0, 1) == "query 'input_1' → key 'input_2': 0.431937"
    window.view_state.set_mode("scaled_scores")
    hh.settle()
    assert heatmap.cell_texts() == SCALED_SIGNIFICANT6
    _choose(window, "decimals3")
    assert heatmap.cell_texts() == SCALED_DECIMALS3


def test_full_precision_falls_back_in_cells_too_small_for_every_digit(window) -> None:
    window.center_tabs.setCurrentWidget(window.heatmap_stack)
    _choose(window, "full")
    texts = window.heatmap.cell_texts()
    values = window.recompute.result.weights[0].ravel().tolist()
    # either all 17 digits fit, or the cells fall back to 6 significant digits together
    assert texts in ([repr(v) for v in values], WEIGHTS_SIGNIFICANT6)


def test_the_heatmap_tooltip_has_the_full_value(window, qtbot) -> None:
    window.center_tabs.setCurrentWidget(window.heatmap_stack)
    _choose(window, "decimals3")
    heatmap = window.heatmap
    value = float(window.recompute.result.weights[0][0, 1])
    tip = heatmap.hover_tip(0, 1)
    assert tip.splitlines()[0] == "query 'input_1' → key 'input_2': 0.432"
    full = tip.splitlines()[1].removeprefix("full value: ")
    assert float(full) == value and full == repr(value)
    _choose(window, "full")  # the readout has every digit: no second line
    assert heatmap.hover_tip(0, 1) == f"query 'input_1' → key 'input_2': {value!r}"
    _choose(window, "decimals3")
    hh.move_mouse(heatmap.graphics_widget, hh.viewport_pos(heatmap, 0.5, 1.5))
    qtbot.waitUntil(lambda: heatmap.graphics_widget.viewport().toolTip() == tip)
    hh.move_mouse(heatmap.graphics_widget, hh.viewport_pos(heatmap, 2.5, 2.5))
    qtbot.waitUntil(lambda: "0.238" in heatmap.graphics_widget.viewport().toolTip())


@pytest.mark.parametrize("precision", ["decimals3", "significant6", "full"])
def test_every_table_and_pipeline_tooltip_carries_the_round_trip_value(window, precision) -> None:
    _choose(window, precision)
    views = [
        window.inputs_panel.tables["inputs"],
        window.inputs_panel.tables["w_query"],
        *(window.results_panel.tables[k] for k in ("scores", "scaled_scores", "weights", "output")),
        *(window.pipeline.table(k) for k in ("inputs", "q", "weights", "context")),
    ]
    for view in views:
        for tip, value in zip(_texts(view, TOOLTIP), _texts(view, VALUE_ROLE), strict=True):
            exact = tip.rsplit(": ", 1)[1]
            assert float(exact) == value, (tip, value)
            assert exact in (repr(value), repr(value).removesuffix(".0"))


def test_the_precision_is_remembered(qtbot, settings, dialogs) -> None:
    first = MainWindow(load_bundled("seed-example"), settings=settings)
    qtbot.addWidget(first)
    _choose(first, "full")
    assert settings.value(SETTING) == "full"
    second = MainWindow(load_bundled("seed-example"), settings=settings)
    qtbot.addWidget(second)
    assert second.view_state.precision == "full"
    checked = [a.data() for a in second.precision_actions.actions() if a.isChecked()]
    assert checked == ["full"]
    weights = second.results_panel.tables["weights"]
    first_weight = _texts(weights)[0]
    assert len(first_weight) >= 15 and _read(first_weight) == _texts(weights, VALUE_ROLE)[0]
    assert second.heatmap.precision() == "full"


def test_an_unknown_stored_precision_falls_back_to_the_default(qtbot, settings, dialogs) -> None:
    settings.setValue(SETTING, "decimals7")
    win = MainWindow(load_bundled("seed-example"), settings=settings)
    qtbot.addWidget(win)
    assert win.view_state.precision == "significant6"


def test_view_state_refuses_an_unknown_precision(window) -> None:
    with pytest.raises(ValueError, match="decimals3"):
        window.view_state.set_precision("exact")
    assert window.view_state.precision == "significant6"


class _Source(QObject):
    changed = Signal(object)


def test_columns_a_widened_table_brings_into_view_fit_their_numbers(qtbot) -> None:
    source = _Source()
    values = np.full((4, 12), 0.25)
    model = MatrixModel(
        source.changed,
        lambda: values,
        lambda: [f"r{i}" for i in range(4)],
        lambda: [f"c{j}" for j in range(12)],
    )
    view = MatrixTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.set_precision("decimals3")
    view.resize(160, 200)  # only the first columns in sight
    view.show()
    qtbot.waitExposed(view)
    view.resize(900, 200)  # the rest come into view without a scroll
    hh.settle()
    metrics = view.fontMetrics()
    widest = metrics.horizontalAdvance("0.250")
    for column in range(12):
        assert view.columnWidth(column) <= widest + 30, column  # fitted, not the default
        assert metrics.horizontalAdvance("0.250") <= view.columnWidth(column) - 2
