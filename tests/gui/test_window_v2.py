"""A version-2 preset (grouped key/value heads, RoPE, sliding window) in the window."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

import selfattn
from app import commands
from selfattn.preset import Options, Preset, Rope


def _grouped_preset() -> Preset:
    # 4 tokens, d_model 3, 2 query heads of d_k = d_v = 2 sharing 1 key/value head.
    rng = np.random.default_rng(5)
    return Preset(
        inputs=rng.normal(size=(4, 3)),
        w_query=rng.normal(size=(3, 4)),
        w_key=rng.normal(size=(3, 2)),
        w_value=rng.normal(size=(3, 2)),
        name="grouped",
        options=Options(heads=2, kv_heads=1, causal=True, window=2, rope=Rope()),
    )


def _header(view, orientation=Qt.Orientation.Horizontal):
    model = view.model()
    count = model.columnCount() if orientation == Qt.Orientation.Horizontal else model.rowCount()
    return [model.headerData(i, orientation) for i in range(count)]


def test_grouped_heads_label_keys_and_values_by_their_own_heads(window):
    preset = _grouped_preset()
    commands.open_preset(window.document, preset, None)
    results = window.results_panel.tables
    assert _header(results["q"]) == ["h1:q1", "h1:q2", "h2:q1", "h2:q2"]
    assert _header(results["k"]) == ["kv1:k1", "kv1:k2"]  # one key/value head of width 2
    assert _header(results["v"]) == ["kv1:v1", "kv1:v2"]
    inputs = window.inputs_panel.tables
    assert _header(inputs["w_key"]) == ["kv1:k1", "kv1:k2"]
    assert _header(inputs["w_value"]) == ["kv1:v1", "kv1:v2"]


def test_grouped_heads_show_explain_and_recompute_the_second_head(window):
    preset = _grouped_preset()
    commands.open_preset(window.document, preset, None)
    expected = selfattn.compute(preset)
    window.select_head(1)
    np.testing.assert_array_equal(
        window.heatmap.image_item.image, expected.weights[1].astype(np.float32)
    )
    window.heatmap.cellClicked.emit(3, 2)
    assert "head 2 of 2" in window.explain_panel.title.text()
    # The window of 2 hides key 1 from query 4 (positions 3 - 2 < p_j): weight 0 there.
    assert expected.weights[1][3, 0] == 0
    x = window.inputs_panel.tables["inputs"].matrix_model()
    assert x.setData(x.index(0, 0), "0.5")
    np.testing.assert_allclose(
        window.recompute.result.weights,
        selfattn.compute(window.document.preset).weights,
        rtol=1e-12,
        atol=0,
    )
