"""Edge numerics in the window: tiny shapes, zeros, huge logits, masks, extreme temperatures.

Every case is loaded into the window as a person would load a preset, then checked
against what the window shows: the result tables' texts, the heatmap image, and the
status bar's fully-masked label. Expected numbers are worked out by hand or by a
naive loop written here (independent of selfattn's vectorised code).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

import selfattn
from app import commands
from selfattn.bundled import load_bundled
from selfattn.preset import Options, Preset

EDIT, DISPLAY = Qt.ItemDataRole.EditRole, Qt.ItemDataRole.DisplayRole


# Reading what the window shows ---------------------------------------------------------------


def shown(window, key: str, role: Qt.ItemDataRole = EDIT) -> list[list[str]]:
    """The texts of a result table (for the selected head), row by row."""
    model = window.results_panel.tables[key].matrix_model()
    return [
        [model.data(model.index(i, j), role) for j in range(model.columnCount())]
        for i in range(model.rowCount())
    ]


def shown_numbers(window, key: str) -> np.ndarray:
    """A result table's exact texts read back as floats."""
    return np.array([[float(t) for t in row] for row in shown(window, key)])


def load(window, preset: Preset) -> None:
    commands.open_preset(window.document, preset, None)


def assert_heatmap_is_weights(window, weights: np.ndarray) -> None:
    image = window.heatmap.image_item.image
    assert np.isfinite(image).all()
    assert image.dtype == np.float32
    np.testing.assert_array_equal(image, np.asarray(weights, dtype=np.float32))


# An independent reference: attention written as plain loops --------------------------------


def naive(preset: Preset) -> tuple[list[list[list[float]]], list[list[float]]]:
    """(weights[h][i][j], output[i][o]) by the definition, one multiply-add at a time."""
    o = preset.options
    x = preset.inputs.tolist()
    xs = x if preset.source_inputs is None else preset.source_inputs.tolist()
    n, m, heads = len(x), len(xs), o.heads
    d_k, d_v = preset.d_k, preset.d_v

    def project(rows, w, b):
        cols = len(w[0])
        return [
            [
                sum(r[t] * w[t][c] for t in range(len(r))) + (0.0 if b is None else b[c])
                for c in range(cols)
            ]
            for r in rows
        ]

    def vec(a):
        return None if a is None else a.tolist()

    q = project(x, preset.w_query.tolist(), vec(preset.b_query))
    k = project(xs, preset.w_key.tolist(), vec(preset.b_key))
    v = project(xs, preset.w_value.tolist(), vec(preset.b_value))
    scale = {"sqrt_dk": math.sqrt(d_k), "none": 1.0}.get(o.scale, o.scale)  # type: ignore[arg-type]
    weights, concat = [], [[] for _ in range(n)]
    for h in range(heads):
        head_w = []
        for i in range(n):
            visible = [
                (not o.causal or j <= i) and (o.key_mask is None or o.key_mask[j]) for j in range(m)
            ]
            logits = [
                sum(q[i][h * d_k + t] * k[j][h * d_k + t] for t in range(d_k))
                / (scale * o.temperature)
                for j in range(m)
            ]
            if any(visible):
                top = max(lg for lg, vis in zip(logits, visible, strict=True) if vis)
                e = [
                    math.exp(lg - top) if vis else 0.0
                    for lg, vis in zip(logits, visible, strict=True)
                ]
                total = sum(e)
                row = [x / total for x in e]
            else:
                row = [0.0] * m
            head_w.append(row)
            concat[i] += [sum(row[j] * v[j][h * d_v + c] for j in range(m)) for c in range(d_v)]
        weights.append(head_w)
    if preset.w_output is not None:
        out = project(concat, preset.w_output.tolist(), vec(preset.b_output))
    else:
        b = vec(preset.b_output)
        out = [[c + (0.0 if b is None else b[t]) for t, c in enumerate(r)] for r in concat]
    return weights, out


def assert_close(actual: np.ndarray, expected, rel: float = 1e-12, abs_: float = 1e-15) -> None:
    np.testing.assert_allclose(actual, np.array(expected, dtype=np.float64), rtol=rel, atol=abs_)


def assert_window_matches_reference(window, rel: float = 1e-12) -> None:
    """Tables and heatmap agree with the naive loops, every shown number is finite."""
    preset = window.document.preset
    weights, output = naive(preset)
    head = window.head_spin.value() - 1
    table_w = shown_numbers(window, "weights")
    table_out = shown_numbers(window, "output")
    assert np.isfinite(table_w).all() and np.isfinite(table_out).all()
    assert_close(table_w, weights[head], rel=rel)
    assert_close(table_out, output, rel=rel, abs_=1e-12)
    assert_heatmap_is_weights(window, table_w)
    # the display is the core's arithmetic exactly, not an approximation of it
    expected = selfattn.compute(preset)
    np.testing.assert_array_equal(table_w, expected.weights[head])
    np.testing.assert_array_equal(table_out, expected.output)


# One token, one dimension ----------------------------------------------------------------------


def test_one_token_attends_to_itself_with_weight_one(window):
    preset = Preset(
        inputs=[[2.0, -1.0]],
        w_query=[[1.0], [0.5]],
        w_key=[[3.0], [7.0]],
        w_value=[[1.0, 0.5], [3.0, -2.0]],
    )
    load(window, preset)
    assert shown(window, "weights") == [["1"]]
    assert shown(window, "weights", DISPLAY) == [["1"]]
    # v = [2*1 + (-1)*3, 2*0.5 + (-1)*(-2)] = [-1, 3]; output = 1 * v
    assert shown(window, "output") == [["-1", "3"]]
    assert_heatmap_is_weights(window, [[1.0]])
    assert window.masked_label.text() == ""


def test_one_dimension_everywhere(window):
    # d_model = d_k = d_v = 1: q_i = x_i, k_j = x_j, s_ij = x_i x_j, scale sqrt(1) = 1.
    preset = Preset(inputs=[[1.0], [2.0], [-1.0]], w_query=[[1.0]], w_key=[[1.0]], w_value=[[10.0]])
    load(window, preset)
    model = window.results_panel.tables["weights"].matrix_model()
    assert (model.rowCount(), model.columnCount()) == (3, 3)
    # Row 0 logits [1, 2, -1]: weight of key 1 = e^0 / (e^-1 + e^0 + e^-3), by hand.
    hand = 1 / (math.exp(-1) + 1 + math.exp(-3))
    assert float(shown(window, "weights")[0][1]) == pytest.approx(hand, rel=1e-15)
    assert_window_matches_reference(window)
    assert window.inputs_panel.spin_d_model.value() == 1
    assert window.inputs_panel.spin_d_k.value() == 1
    assert window.inputs_panel.spin_d_v.value() == 1


def test_one_dimension_resized_in_the_window(window):
    """The spin boxes take every width down to 1 and the results stay finite and right."""
    panel = window.inputs_panel
    for spin in (panel.spin_d_model, panel.spin_d_k, panel.spin_d_v, panel.spin_tokens):
        spin.setValue(1)
    p = window.document.preset
    assert (p.n_tokens, p.d_model, p.d_k, p.d_v) == (1, 1, 1, 1)
    assert shown(window, "weights") == [["1"]]
    # one token, one width: output = 1 * x_00 * W_V[0, 0]
    assert float(shown(window, "output")[0][0]) == p.inputs[0, 0] * p.w_value[0, 0]
    assert_window_matches_reference(window)


# Zeros: uniform attention ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_all_zero_matrices_give_exactly_uniform_weights(window, n):
    zeros = np.zeros
    preset = Preset(
        inputs=zeros((n, 3)), w_query=zeros((3, 2)), w_key=zeros((3, 2)), w_value=zeros((3, 2))
    )
    load(window, preset)
    uniform = repr(1 / n).removesuffix(".0")
    assert shown(window, "weights") == [[uniform] * n for _ in range(n)]
    assert shown(window, "output") == [["0", "0"] for _ in range(n)]
    assert shown(window, "scaled_scores") == [["0"] * n for _ in range(n)]
    assert_heatmap_is_weights(window, np.full((n, n), 1 / n))
    assert window.masked_label.text() == ""


def test_zero_query_weights_average_the_values(window):
    # W_Q = 0: every score is 0, so each output row is the plain mean of the value rows.
    preset = Preset(
        inputs=[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        w_query=np.zeros((2, 2)),
        w_key=[[5.0, -1.0], [2.0, 3.0]],
        w_value=[[3.0], [6.0]],
    )
    load(window, preset)
    # v = [3, 6, 9]; mean 6 (up to rounding of the thirds)
    assert_close(shown_numbers(window, "output"), [[6.0], [6.0], [6.0]], rel=1e-15)
    assert_window_matches_reference(window)


# Huge logits: exact one-hot rows -----------------------------------------------------------------


def _huge_logits_preset(dtype: str) -> Preset:
    # X = I, so Q = W_Q = I and K = W_K: the scores are W_K^T, chosen as the logits.
    logits = np.array(
        [
            [1e4, -1e4, 0.0],
            [-1e4, 0.0, -1e4],
            [-1e4, -1e4, 1e4],
        ]
    )
    return Preset(
        inputs=np.eye(3),
        w_query=np.eye(3),
        w_key=logits.T,
        w_value=[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
        options=Options(scale="none", dtype=dtype),
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logits_of_plus_minus_1e4_give_exact_one_hot_rows(window, dtype):
    load(window, _huge_logits_preset(dtype))
    assert shown(window, "scaled_scores") == [
        ["10000", "-10000", "0"],
        ["-10000", "0", "-10000"],
        ["-10000", "-10000", "10000"],
    ]
    # exp(-1e4) underflows to exactly 0: each row is one-hot, exactly.
    assert shown(window, "weights") == [["1", "0", "0"], ["0", "1", "0"], ["0", "0", "1"]]
    # output row i = 1 * v_i: the value rows, exactly
    assert shown(window, "output") == [["1", "2"], ["3", "4"], ["5", "6"]]
    assert_heatmap_is_weights(window, np.eye(3))
    assert window.masked_label.text() == ""


# Masks -------------------------------------------------------------------------------------------


def test_every_key_masked_gives_zero_weights_and_says_so(window):
    preset = load_bundled("seed-example").with_options(key_mask=(False, False, False))
    load(window, preset)
    assert shown(window, "weights") == [["0"] * 3 for _ in range(3)]
    assert shown(window, "scaled_scores") == [["-inf"] * 3 for _ in range(3)]
    assert shown(window, "scaled_scores", DISPLAY) == [["−∞"] * 3 for _ in range(3)]
    # no W_O: the output is the context, all zeros (never NaN)
    assert shown(window, "output") == [["0"] * 3 for _ in range(3)]
    label = window.masked_label.text()
    assert "fully masked" in label
    for token in preset.tokens:
        assert token in label
    assert_heatmap_is_weights(window, np.zeros((3, 3)))
    assert window.heatmap.mask_item.isVisible()
    for i in range(3):
        for j in range(3):
            assert window.heatmap.hover_text(i, j).endswith("(masked)")


def test_every_key_masked_by_the_checkboxes(window):
    """Unticking every key in the Tokens tab gives the same zeros and the same warning."""
    tokens = window.inputs_panel.tokens_model
    for i in range(3):
        assert tokens.setData(
            tokens.index(i, 1), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole
        )
    assert window.document.preset.options.key_mask == (False, False, False)
    assert shown(window, "weights") == [["0"] * 3 for _ in range(3)]
    assert "fully masked" in window.masked_label.text()
    tokens.setData(tokens.index(2, 1), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert window.masked_label.text() == ""
    assert shown(window, "weights") == [["0", "0", "1"] for _ in range(3)]


def test_fully_masked_row_with_bias_outputs_the_bias(window):
    preset = Preset(
        inputs=[[1.0, 2.0], [3.0, 4.0]],
        w_query=np.eye(2),
        w_key=np.eye(2),
        w_value=np.eye(2),
        w_output=[[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]],
        b_output=[0.5, -0.25, 8.0],
        options=Options(key_mask=(False, False)),
    )
    load(window, preset)
    assert shown(window, "output") == [["0.5", "-0.25", "8"], ["0.5", "-0.25", "8"]]
    assert "fully masked" in window.masked_label.text()
    assert_window_matches_reference(window)


def test_only_the_fully_masked_row_is_named(window):
    # Causal, key 0 masked: query 0 may only see key 0, so its row alone is fully masked;
    # query 1 sees keys 0 and 1, of which only key 1 is left.
    preset = load_bundled("seed-example").replace(tokens=("alpha", "beta", "gamma"))
    preset = preset.with_options(causal=True, key_mask=(False, True, True))
    load(window, preset)
    label = window.masked_label.text()
    assert "fully masked" in label and "alpha" in label
    assert "beta" not in label and "gamma" not in label
    weights = shown(window, "weights")
    assert weights[0] == ["0", "0", "0"]
    assert weights[1] == ["0", "1", "0"]  # query 1 sees key 1 alone
    assert_window_matches_reference(window)


# Temperature extremes ----------------------------------------------------------------------------


def test_temperature_near_zero_from_the_spin_box(window):
    window.options_panel.temperature_spin.setValue(1e-4)
    assert window.document.preset.options.temperature == 1e-4
    # Seed example row 0: raw scores [2, 4, 4] (hand-worked in test_interaction). Divided by
    # sqrt(3) * 1e-4 the gap of 2 becomes ~11547: exp(-11547) is 0, and the tie splits
    # exactly in half.
    assert shown(window, "weights")[0] == ["0", "0.5", "0.5"]
    assert_window_matches_reference(window)
    assert np.isfinite(shown_numbers(window, "scaled_scores")).all()


def test_temperature_very_large_from_the_spin_box(window):
    window.options_panel.temperature_spin.setValue(1e4)
    assert window.document.preset.options.temperature == 1e4
    weights = shown_numbers(window, "weights")
    # logits differ by at most 16 / (sqrt(3) * 1e4) < 1e-3: rows are nearly uniform
    assert np.all(np.abs(weights - 1 / 3) < 1e-3)
    assert weights.min() < weights.max()  # but not exactly: the scores still show through
    assert_window_matches_reference(window)


@pytest.mark.parametrize("temperature", [1e-4, 1e4])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_extreme_temperatures_stay_finite_with_larger_scores(window, temperature, dtype):
    rng = np.random.default_rng(3)
    preset = Preset(
        inputs=rng.normal(size=(5, 4)) * 10,
        w_query=rng.normal(size=(4, 6)),
        w_key=rng.normal(size=(4, 6)),
        w_value=rng.normal(size=(4, 6)),
        options=Options(heads=2, temperature=temperature, dtype=dtype),
    )
    load(window, preset)
    for head in range(2):
        window.select_head(head)
        weights = shown_numbers(window, "weights")
        assert np.isfinite(weights).all()
        assert_close(weights.sum(axis=1), np.ones(5), rel=1e-5 if dtype == "float32" else 1e-12)
        assert_heatmap_is_weights(window, weights)
        if dtype == "float64":
            assert_window_matches_reference(window)
        else:
            ref_w, _ = naive(preset)
            assert_close(weights, ref_w[head], rel=1e-4, abs_=1e-6)
    assert np.isfinite(shown_numbers(window, "output")).all()


# Cross-attention with one source token -----------------------------------------------------------


def _one_source_preset(**options) -> Preset:
    return Preset(
        inputs=[[1.0, 0.0], [0.0, 1.0], [2.0, -3.0]],
        source_inputs=[[0.5, 2.0]],
        w_query=[[1.0, 2.0], [3.0, 4.0]],
        w_key=[[1.0, 0.0], [0.0, 1.0]],
        w_value=[[2.0], [1.0]],
        source_tokens=("only",),
        options=Options(**options),
    )


@pytest.mark.parametrize("causal", [False, True])
def test_cross_attention_with_one_source_token(window, causal):
    load(window, _one_source_preset(causal=causal))
    # One key: every query gives it weight exp(0)/exp(0) = 1, even under the causal mask
    # (key 0 is never after a query).
    assert shown(window, "weights") == [["1"], ["1"], ["1"]]
    # v_0 = 0.5 * 2 + 2 * 1 = 3; output = 1 * v_0
    assert shown(window, "output") == [["3"], ["3"], ["3"]]
    model = window.results_panel.tables["weights"].matrix_model()
    assert model.headerData(0, Qt.Orientation.Horizontal) == "only"
    assert_heatmap_is_weights(window, np.ones((3, 1)))
    assert window.masked_label.text() == ""
    assert window.inputs_panel.spin_source.value() == 1
    assert_window_matches_reference(window)


def test_cross_attention_with_its_one_source_token_masked(window):
    load(window, _one_source_preset(key_mask=(False,)))
    assert shown(window, "weights") == [["0"], ["0"], ["0"]]
    assert shown(window, "output") == [["0"], ["0"], ["0"]]
    assert "fully masked" in window.masked_label.text()
    assert window.heatmap.mask_item.isVisible()
    assert_heatmap_is_weights(window, np.zeros((3, 1)))


def test_cross_attention_source_resized_to_one_in_the_window(window):
    panel = window.inputs_panel
    panel.check_source.click()
    panel.spin_source.setValue(1)
    p = window.document.preset
    assert p.n_keys == 1
    assert shown(window, "weights") == [["1"], ["1"], ["1"]]
    assert_window_matches_reference(window)


# Logits that overflow ----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "dtype"), [(1e200, "float64"), (1e20, "float32")])
def test_opening_a_file_whose_scores_overflow_is_refused(
    qtbot, window, dialogs, tmp_path, value, dtype
):
    data = json.loads(selfattn.dumps_preset(load_bundled("seed-example")))
    data["inputs"][0][0] = value  # finite, so the file itself is valid
    data["options"] = {"dtype": dtype}
    path = tmp_path / "overflow.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    model = window.inputs_panel.tables["inputs"].matrix_model()
    model.setData(model.index(1, 1), "5")  # unsaved work
    before = window.document.preset
    depth = window.document.undo_stack.count()
    with qtbot.captureExceptions() as exceptions:
        opened = window.files.open_path(Path(path), ask=False)
    assert not exceptions, exceptions[0][1]
    assert not opened
    assert window.document.preset is before
    assert window.document.undo_stack.count() == depth
    assert window.document.is_modified  # the unsaved work is still marked unsaved
    assert dialogs.calls and dialogs.calls[-1][0] == "warning"
