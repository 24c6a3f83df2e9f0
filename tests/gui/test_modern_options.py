"""Options and Inputs for modern attention: RoPE, key/value heads, sliding window.

Every change goes through the widgets a person uses, is one undo step, and gives
the numbers of `selfattn.compute` — checked again against naive loops written
here from the formulas in DESIGN.md ("Semantics").
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt

import selfattn
from app import commands
from app.main_window import MainWindow
from selfattn.explain_text import format_number
from selfattn.preset import Options, Preset, Rope


def _softmax_rows(s: np.ndarray) -> np.ndarray:
    out = np.zeros_like(s)
    for i, row in enumerate(s):
        finite = [v for v in row if v != -math.inf]
        top = max(finite)
        exps = [0.0 if v == -math.inf else math.exp(v - top) for v in row]
        total = math.fsum(exps)
        out[i] = [e / total for e in exps]
    return out


def _rotate_half(row: np.ndarray, position: int, theta: float, r: int) -> np.ndarray:
    """RoPE "half" by hand: pair (x_i, x_{i+r/2}) turns by position * theta^(-2i/r)."""
    out = row.copy()
    for i in range(r // 2):
        angle = position * theta ** (-2 * i / r)
        u, w = row[i], row[i + r // 2]
        out[i] = u * math.cos(angle) - w * math.sin(angle)
        out[i + r // 2] = w * math.cos(angle) + u * math.sin(angle)
    return out


def _four_head_preset() -> Preset:
    rng = np.random.default_rng(7)
    n, d_model, heads, d_k = 5, 4, 4, 2
    return Preset(
        inputs=rng.normal(size=(n, d_model)),
        w_query=rng.normal(size=(d_model, heads * d_k)),
        w_key=rng.normal(size=(d_model, heads * d_k)),
        w_value=rng.normal(size=(d_model, heads * d_k)),
        name="four heads",
        options=Options(heads=heads),
    )


@pytest.fixture
def four_heads(qtbot, settings, dialogs):
    win = MainWindow(_four_head_preset(), settings=settings)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.document.undo_stack.setClean()


def _assert_shows_compute(win: MainWindow) -> None:
    expected = selfattn.compute(win.document.preset)
    shown = win.recompute.result
    for field in ("q", "k", "v", "scores", "weights", "context", "output"):
        np.testing.assert_array_equal(getattr(shown, field), getattr(expected, field))


def test_rope_in_options_rotates_like_the_formula_and_undoes(window):
    opts = window.options_panel.modern
    doc = window.document
    x_before = window.recompute.result.weights.copy()
    steps = doc.undo_stack.count()

    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData("half"))
    # d_k = 3: one pair rotates, the third column passes unchanged
    assert doc.preset.options.rope == Rope(style="half", dims=2)
    assert doc.undo_stack.count() == steps + 1
    _assert_shows_compute(window)
    # Independent truth: rotate Q and K by hand, score, softmax.
    p, r = doc.preset, window.recompute.result
    d_k, rot_dims = p.d_k, 2
    q = p.inputs @ p.w_query
    k = p.inputs @ p.w_key
    q_rot = np.array([_rotate_half(q[i], i, 10000.0, rot_dims) for i in range(p.n_tokens)])
    k_rot = np.array([_rotate_half(k[i], i, 10000.0, rot_dims) for i in range(p.n_tokens)])
    np.testing.assert_allclose(r.q_rot, q_rot, rtol=1e-13, atol=1e-14)
    naive = _softmax_rows(q_rot @ k_rot.T / math.sqrt(d_k))
    np.testing.assert_allclose(r.weights[0], naive, rtol=1e-12, atol=1e-14)
    assert not np.allclose(r.weights, x_before)  # the rotation did change something
    # The rotated tables show exactly those numbers.
    table = window.results_panel.tables["q_rot"].matrix_model()
    assert table.rowCount() == p.n_tokens and table.columnCount() == d_k
    assert float(table.data(table.index(2, 1), Qt.ItemDataRole.EditRole)) == r.q_rot[2, 1]

    # theta and dims: one undo step each, the result follows.
    opts.theta_spin.setValue(2.0)
    assert doc.preset.options.rope == Rope(style="half", theta=2.0, dims=2)
    _assert_shows_compute(window)
    theta_2 = np.array([_rotate_half(q[i], i, 2.0, rot_dims) for i in range(p.n_tokens)])
    np.testing.assert_allclose(window.recompute.result.q_rot, theta_2, rtol=1e-13, atol=1e-14)
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData("interleaved"))
    assert doc.preset.options.rope.style == "interleaved"
    _assert_shows_compute(window)
    assert doc.undo_stack.count() == steps + 3

    doc.undo_stack.undo()
    assert doc.preset.options.rope == Rope(style="half", theta=2.0, dims=2)
    assert opts.rope_combo.currentData() == "half"
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.preset.options.rope is None
    assert opts.rope_combo.currentData() is None
    assert not opts.theta_spin.isEnabled() and not opts.dims_spin.isEnabled()
    np.testing.assert_array_equal(window.recompute.result.weights, x_before)


def test_refused_rope_values_return_the_widget_to_the_preset(four_heads):
    win = four_heads
    opts = win.options_panel.modern
    doc = win.document
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData("half"))
    steps = doc.undo_stack.count()
    assert opts.dims_spin.maximum() == 2  # d_k = 2: one pair
    # A preset with explicit frequencies (a model's scaled RoPE): theta is not used,
    # and more dims than listed frequencies are refused.
    preset = doc.preset.with_options(
        rope=Rope(style="half", dims=2, inv_freq=(0.5,)),
    )
    assert commands.push_preset(doc, preset, "explicit frequencies")
    assert not opts.theta_spin.isEnabled()
    assert "frequencies" in opts.theta_spin.toolTip()
    steps = doc.undo_stack.count()
    opts._on_dims(3)  # what typing an odd number delivers
    assert doc.undo_stack.count() == steps
    assert opts.dims_spin.value() == 2
    assert "even" in win.statusBar().currentMessage()


def test_kv_heads_reshape_w_k_label_its_blocks_and_compute_grouped(four_heads):
    win = four_heads
    doc = win.document
    opts = win.options_panel.modern
    inputs = win.inputs_panel
    before = doc.preset
    assert [opts.kv_combo.itemData(i) for i in range(opts.kv_combo.count())] == [4, 2, 1]

    opts.kv_combo.setCurrentIndex(opts.kv_combo.findData(2))
    p = doc.preset
    assert p.options.kv_heads == 2
    assert p.w_key.shape == (4, 2 * 2) and p.w_value.shape == (4, 2 * 2)
    # The numbers of the key/value heads that still exist keep their place.
    np.testing.assert_array_equal(p.w_key, before.w_key[:, :4])
    assert inputs.spin_kv_heads.value() == 2
    w_k = inputs.tables["w_key"].matrix_model()
    labels = [w_k.headerData(c, Qt.Orientation.Horizontal) for c in range(w_k.columnCount())]
    assert labels == ["kv1:k1", "kv1:k2", "kv2:k1", "kv2:k2"]
    tip = w_k.headerData(2, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "key/value head 2 of 2" in tip and "query heads 3..4" in tip
    w_q = inputs.tables["w_query"].matrix_model()
    assert w_q.headerData(7, Qt.Orientation.Horizontal) == "h4:q2"  # queries keep 4 heads
    k_table = win.results_panel.tables["k"].matrix_model()
    assert k_table.columnCount() == 4
    assert k_table.headerData(3, Qt.Orientation.Horizontal) == "kv2:k2"

    # Independent truth: query head 3 (index 2) reads key/value head 2's block.
    _assert_shows_compute(win)
    q = p.inputs @ p.w_query
    k = p.inputs @ p.w_key
    naive = _softmax_rows(q[:, 4:6] @ k[:, 2:4].T / math.sqrt(2))
    np.testing.assert_allclose(win.recompute.result.weights[2], naive, rtol=1e-12, atol=1e-14)

    # The Inputs spin box does the same: multi-query.
    inputs.spin_kv_heads.setValue(1)
    assert doc.preset.options.kv_heads == 1 and doc.preset.w_key.shape == (4, 2)
    assert opts.kv_combo.currentData() == 1
    # A count that does not divide the heads is refused and the spin shows 1 again.
    steps = doc.undo_stack.count()
    inputs.spin_kv_heads.setValue(3)
    assert doc.undo_stack.count() == steps
    assert inputs.spin_kv_heads.value() == 1
    assert "divide" in win.statusBar().currentMessage()

    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.preset.options.kv_heads is None
    np.testing.assert_array_equal(doc.preset.w_key, before.w_key)
    assert labels != [w_k.headerData(c, Qt.Orientation.Horizontal) for c in range(8)]
    assert w_k.headerData(2, Qt.Orientation.Horizontal) == "h2:k1"


def test_more_heads_keep_the_grouping_when_it_still_divides(four_heads):
    win = four_heads
    doc = win.document
    win.inputs_panel.spin_kv_heads.setValue(2)
    win.inputs_panel.spin_heads.setValue(6)
    assert doc.preset.options.heads == 6 and doc.preset.options.kv_heads == 2
    win.inputs_panel.spin_heads.setValue(5)  # 2 does not divide 5: refused
    assert doc.preset.options.heads == 6
    assert win.inputs_panel.spin_heads.value() == 6


def test_window_option_masks_keys_far_back_and_undoes(four_heads):
    win = four_heads
    doc = win.document
    opts = win.options_panel.modern
    win.options_panel.causal_check.setChecked(True)
    opts.window_spin.setValue(2)
    assert doc.preset.options.window == 2
    _assert_shows_compute(win)
    mask = win.recompute.result.mask
    expected = np.array([[i - 2 < j <= i for j in range(5)] for i in range(5)])
    np.testing.assert_array_equal(mask, expected)
    assert np.all(win.recompute.result.weights[:, expected == 0] == 0)
    opts.window_spin.setValue(0)
    assert doc.preset.options.window is None
    assert opts.window_spin.text() == "off"
    doc.undo_stack.undo()  # window 2 then off were one slider gesture: one step
    assert doc.preset.options.window is None and doc.preset.options.causal
    doc.undo_stack.undo()
    assert not doc.preset.options.causal


def test_rotated_tabs_appear_with_rope_and_go_without(window):
    panel = window.results_panel
    opts = window.options_panel.modern
    assert "Q rotated" not in panel.tab_titles()
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData("interleaved"))
    assert panel.tab_titles()[:5] == ["Q", "K", "V", "Q rotated", "K rotated"]
    panel.show_table("k_rot")
    assert panel.tabs.tabText(panel.tabs.currentIndex()) == "K rotated"
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData(None))
    assert "Q rotated" not in panel.tab_titles() and "K rotated" not in panel.tab_titles()
    assert panel.tabs.tabText(panel.tabs.currentIndex()) == "Q"
    window.document.undo_stack.undo()
    assert "K rotated" in panel.tab_titles()
    # Switching RoPE back on remembers its settings.
    opts.theta_spin.setValue(500.0)
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData(None))
    assert window.document.preset.options.rope is None
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData("half"))
    assert window.document.preset.options.rope == Rope(style="half", theta=500.0, dims=2)


def test_explain_shows_the_rotation_and_the_shared_key_value_head(four_heads):
    win = four_heads
    opts = win.options_panel.modern
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData("half"))
    opts.kv_combo.setCurrentIndex(opts.kv_combo.findData(2))
    win.select_head(3)
    win.view_state.select("weights", 3, 1)
    text = win.explain_panel.current_text()
    assert "Rotate Q row 4" in text and "Rotate K row 2" in text
    assert "position p = 3" in text and "cos" in text and "sin" in text
    assert "query head 4 reads key/value head 2 of 2" in text
    # The rotated numbers explained are the K rotated table's (key/value head 2's block).
    k_rot = win.recompute.result.k_rot
    assert format_number(float(k_rot[1, 2])) in text


def test_rope_on_one_column_heads_is_refused_and_the_combo_says_off(four_heads):
    win = four_heads
    doc = win.document
    opts = win.options_panel.modern
    win.inputs_panel.spin_d_k.setValue(1)
    assert doc.preset.d_k == 1
    steps = doc.undo_stack.count()
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData("half"))
    assert doc.preset.options.rope is None
    assert doc.undo_stack.count() == steps
    assert opts.rope_combo.currentData() is None
    assert "rope" in win.statusBar().currentMessage()


def _four_wide_heads() -> Preset:
    """2 heads of d_k = 4 over 6 tokens: room for 1 or 2 rotated pairs and windows."""
    rng = np.random.default_rng(11)
    return Preset(
        inputs=rng.normal(size=(6, 4)),
        w_query=rng.normal(size=(4, 8)),
        w_key=rng.normal(size=(4, 8)),
        w_value=rng.normal(size=(4, 8)),
        options=Options(heads=2),
    )


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    style=st.sampled_from(["half", "interleaved"]),
    theta=st.floats(min_value=0.5, max_value=1e6),
    dims=st.sampled_from([2, 4]),
    window=st.integers(min_value=0, max_value=8),
    kv=st.sampled_from([2, 1]),
)
def test_any_modern_settings_compute_like_selfattn_and_undo_to_the_start(
    qtbot, settings, dialogs, style, theta, dims, window, kv
):
    """Whatever a person sets in Options, the window shows selfattn.compute's numbers
    of the preset it states, and undoing every step gives the starting numbers back."""
    win = MainWindow(_four_wide_heads(), settings=settings)
    qtbot.addWidget(win)
    opts = win.options_panel.modern
    doc = win.document
    start = doc.preset
    start_weights = win.recompute.result.weights.copy()
    opts.rope_combo.setCurrentIndex(opts.rope_combo.findData(style))
    opts.theta_spin.setValue(theta)
    opts.dims_spin.setValue(dims)
    opts.window_spin.setValue(window)
    opts.kv_combo.setCurrentIndex(opts.kv_combo.findData(kv))
    o = doc.preset.options
    assert o.rope is not None and o.rope.style == style
    assert o.rope.theta == float(opts.theta_spin.cleanText())  # the value the spin shows
    assert o.rope.rotary_dims(4) == dims
    assert o.window == (window or None)
    assert doc.preset.kv_heads == kv
    _assert_shows_compute(win)
    while doc.undo_stack.canUndo():
        doc.undo_stack.undo()
    assert doc.preset.options == start.options
    np.testing.assert_array_equal(win.recompute.result.weights, start_weights)
    assert "Q rotated" not in win.results_panel.tab_titles()
    win.document.undo_stack.setClean()
    win.close()
