"""selfattn.explain_inputs: Q, K, V cells and input cells explained, numbers worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn import Options, Preset, compute
from selfattn.explain import CellRef, Explanation, explain_weight
from selfattn.explain_inputs import (
    cell_label,
    explain_any,
    explain_input,
    explain_projection,
    with_dependencies,
)
from selfattn.gradient import gradient
from selfattn.provenance import HEAD_MATRICES, INPUT_MATRICES, RESULT_MATRICES
from selfattn.rope import Rope

X = [[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]]
W_Q = [[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]]
W_K = [[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]]
W_V = [[0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]]
SQRT3 = math.sqrt(3)


def seed() -> Preset:
    return Preset(
        inputs=X, w_query=W_Q, w_key=W_K, w_value=W_V, tokens=("input_1", "input_2", "input_3")
    )


def flat(text: str) -> str:
    return " ".join(text.split())


def test_q_1_1_of_the_seed_example_is_four_products_adding_to_1() -> None:
    p = seed()
    ex = explain_projection(p, compute(p), CellRef("q", None, 0, 0))
    (step,) = ex.steps
    # X row 1 = [1, 0, 1, 0], W_Q column 1 = [1, 1, 0, 0]
    assert [t.operands for t in step.terms] == [(1, 1), (0, 1), (1, 0), (0, 0)]
    assert [t.value for t in step.terms] == [1, 0, 0, 0]
    assert step.result == 1 and ex.value == 1
    text = ex.render()
    assert "X[1,x1] × W_Q[x1,q1]  1 × 1  = 1" in text
    assert "X[1,x3] × W_Q[x3,q1]  1 × 0  = 0" in text
    assert "sum: Q[1,q1]" in text
    assert "Q[1,q1] = X row 1 · W_Q column q1 = 1·1 + 0·1 + 1·0 + 0·0 = 1" in text
    assert ex.title == "Q  query 1 'input_1', column q1 = 1"


def test_a_value_cell_with_a_bias() -> None:
    p = seed().replace(b_value=[0.5, -1.0, 0.25])
    ex = explain_projection(p, compute(p), CellRef("v", None, 1, 1))
    # V[2,v2] = X row 2 · W_V column 2 + b_V[v2] = 0·2 + 2·3 + 0·0 + 2·1 − 1 = 7
    (step,) = ex.steps
    assert [t.value for t in step.terms] == [0, 6, 0, 2, -1.0]
    assert step.terms[-1].label == "b_V[v2]"
    assert ex.value == 7
    assert "= 0·2 + 2·3 + 0·0 + 2·1 − 1 = 7" in ex.render()


def test_a_key_cell_in_cross_attention_reads_the_source_row() -> None:
    p = seed().replace(source_inputs=[[2, 0, 0, 1], [0, 0, 3, 0]])
    ex = explain_projection(p, compute(p), CellRef("k", None, 1, 1))
    # K[2,k2] = Xs row 2 · W_K column 2 = 0·0 + 0·1 + 3·1 + 0·1 = 3
    assert ex.value == 3
    assert "Xs[2,x3] × W_K[x3,k2]  3 × 1  = 3" in ex.render()
    assert "Xs row 2" in ex.steps[0].label


def test_two_heads_name_the_head_in_labels() -> None:
    rng = np.random.default_rng(1)
    p = Preset(
        inputs=rng.normal(size=(3, 2)),
        w_query=rng.normal(size=(2, 4)),
        w_key=rng.normal(size=(2, 4)),
        w_value=rng.normal(size=(2, 4)),
        w_output=rng.normal(size=(4, 2)),
        options=Options(heads=2),
    )
    r = compute(p)
    assert cell_label(p, r, CellRef("w_query", None, 1, 2)) == "W_Q[x2,h2:q1]"
    assert cell_label(p, r, CellRef("w_output", None, 3, 0)) == "W_O[h2:v2,o1]"
    assert cell_label(p, r, CellRef("weights", 1, 0, 2)) == "weight[1,3] of head 2"
    ex = explain_projection(p, r, CellRef("q", None, 0, 3))
    assert "head 2" in flat(ex.render())


def test_weight_cell_of_w_q_with_the_selected_weight_gives_the_derivative() -> None:
    p = seed()
    ex = explain_input(p, compute(p), CellRef("w_query", None, 2, 0), CellRef("weights", 0, 0, 1))
    # By hand (see test_gradient): a = softmax([2, 4, 4]/sqrt 3), k_j the key rows,
    # ∂a_1/∂W_Q[x3,q1] = x_0[2] · a_1 (k_1[0] − Σ_j a_j k_j[0]) / sqrt 3
    e = math.exp(-2 / SQRT3)
    a = np.array([e, 1, 1]) / (e + 2)
    expected = 1 * a[1] * (4 - (a[0] * 0 + a[1] * 4 + a[2] * 2)) / SQRT3
    derivative = ex.steps[-1].terms[0]
    assert derivative.label == "∂ weight[1,2] / ∂ W_Q[x3,q1]"
    assert derivative.value == pytest.approx(expected, abs=1e-15)
    text = flat(ex.render())
    assert f"∂ weight[1,2] / ∂ W_Q[x3,q1] = {expected:.10g}" in text
    # What it feeds: column q1 of Q, each row's X[i,x3] × W_Q[x3,q1]
    first = ex.steps[0]
    assert [t.operands for t in first.terms] == [(1, 0), (0, 0), (1, 0)]
    assert "From there it reaches raw scores: all" in text


def test_w_v_feeds_no_score_and_the_weight_does_not_depend_on_it() -> None:
    p = seed()
    ex = explain_input(p, compute(p), CellRef("w_value", None, 0, 0), CellRef("weights", 0, 0, 1))
    text = flat(ex.render())
    assert "From there it reaches context: column c1; output: column o1." in text
    assert "score" not in text.split("From there")[1].split("∂")[0]
    assert ex.steps[-1].terms[0].value == 0.0
    assert "does not depend on W_V[x1,v1]: the derivative is exactly 0" in text


def test_an_input_row_reaching_a_weight_only_through_the_normaliser_says_so() -> None:
    p = seed()
    ex = explain_input(p, compute(p), CellRef("inputs", None, 2, 1), CellRef("weights", 0, 0, 1))
    text = flat(ex.render())
    assert "only through the softmax normaliser of row 1" in text
    # weight[1,2] = 1/(e + 2) falls as key 3's exponential grows: a negative derivative
    assert ex.steps[-1].terms[0].value < 0
    # X row 3 is query 3, key 3 and value 3: three share steps
    assert [s.label.split(",")[0] for s in ex.steps[:3]] == ["As query 3", "As key 3", "As value 3"]


def test_weight_explanation_with_its_inputs_and_the_normaliser() -> None:
    p = seed()
    r = compute(p)
    ex = with_dependencies(explain_weight(p, r, 0, 0, 1), p, r)
    text = flat(ex.render())
    assert "weight[1,2] is computed from: X: rows 1, 2; W_Q: all; W_K: all" in text
    assert "so X row 3 moves this weight too" in text


def test_the_key_bias_is_said_to_reach_no_weight() -> None:
    p = seed().replace(b_key=[1.0, 2.0, 3.0])
    r = compute(p)
    text = flat(explain_input(p, r, CellRef("b_key", None, 0, 0)).render())
    assert "b_K changes no weight, context or output" in text
    assert "weights" not in text.split("From there it reaches")[1].split(".")[0]


def test_long_columns_are_shortened() -> None:
    n = 20
    p = Preset(
        inputs=np.ones((n, 2)),
        w_query=np.ones((2, 2)),
        w_key=np.ones((2, 2)),
        w_value=np.ones((2, 2)),
    )
    ex = explain_input(p, compute(p), CellRef("w_query", None, 0, 0))
    assert len(ex.steps[0].terms) == 12
    assert "... and 8 more like these." in ex.render()


def test_masked_weights_say_they_depend_on_nothing() -> None:
    p = seed().with_options(causal=True)
    r = compute(p)
    text = flat(explain_any(p, r, CellRef("weights", 0, 0, 2)).render())
    assert "depends on no input cell" in text


@st.composite
def presets_and_cells(draw: st.DrawFn) -> tuple[Preset, CellRef, CellRef]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, d, heads = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    kv_heads = draw(st.sampled_from([None, 1])) if heads == 2 else None
    groups = kv_heads or heads
    rope = draw(st.none() | st.builds(Rope, style=st.sampled_from(["half", "interleaved"])))
    parts: dict[str, object] = {
        "inputs": rng.normal(size=(n, d)),
        "w_query": rng.normal(size=(d, 2 * heads)),
        "w_key": rng.normal(size=(d, 2 * groups)),
        "w_value": rng.normal(size=(d, groups)),
    }
    if draw(st.booleans()):
        parts["w_output"] = rng.normal(size=(heads, 2))
        parts["b_output"] = rng.normal(size=2)
    if draw(st.booleans()):
        parts["b_query"] = rng.normal(size=2 * heads)
        parts["b_key"] = rng.normal(size=2 * groups)
    if draw(st.booleans()):
        parts["source_inputs"] = rng.normal(size=(n + 1, d))
    m = n + 1 if "source_inputs" in parts else n
    options = Options(
        heads=heads,
        kv_heads=kv_heads,
        rope=rope,
        causal=draw(st.booleans()),
        key_mask=draw(st.none() | st.lists(st.booleans(), min_size=m, max_size=m).map(tuple)),
        window=draw(st.none() | st.integers(1, 2)),
    )
    p = Preset(options=options, **parts)  # type: ignore[arg-type]
    r = compute(p)

    def any_cell(names: tuple[str, ...]) -> CellRef:
        name = draw(
            st.sampled_from(
                [
                    m
                    for m in names
                    if (getattr(r, m) if m in RESULT_MATRICES else getattr(p, m)) is not None
                ]
            )
        )
        array = np.asarray(getattr(r, name) if name in RESULT_MATRICES else getattr(p, name))
        if array.ndim == 1:
            return CellRef(name, None, 0, draw(st.integers(0, array.shape[0] - 1)))
        index = [draw(st.integers(0, s - 1)) for s in array.shape]
        if name in HEAD_MATRICES:
            return CellRef(name, index[0], index[1], index[2])
        return CellRef(name, None, index[0], index[1])

    return p, any_cell(INPUT_MATRICES), any_cell(RESULT_MATRICES)


@settings(max_examples=60, deadline=None)
@given(presets_and_cells())
def test_every_cell_explains_with_its_own_number(case: tuple[Preset, CellRef, CellRef]) -> None:
    p, source, target = case
    r = compute(p)
    cells = [source, target]
    if r.kv_heads != r.heads and target.matrix in HEAD_MATRICES + ("output",):
        # selfattn.explain (not this module) does not know grouped heads yet: its scores
        # and context read K and V at the query head's columns. The derivative of such a
        # target with respect to an input cell is this module's, and is still checked.
        cells = [source]
    derivative = explain_any(p, r, source, target).steps[-1].terms[0]
    assert derivative.label.startswith("∂ ")
    exact = gradient(p, target, r).at(source)
    assert derivative.value == exact or (derivative.value == 0 and abs(exact) < 1e-12)
    for cell in cells:
        ex = explain_any(p, r, cell, target if cell is source else None)
        assert isinstance(ex, Explanation)
        array = np.asarray(
            getattr(r, cell.matrix) if cell.matrix in RESULT_MATRICES else getattr(p, cell.matrix)
        )
        index = (cell.col,) if array.ndim == 1 else (cell.row, cell.col)
        if cell.matrix in HEAD_MATRICES:
            index = (cell.head, cell.row, cell.col)
        expected = float(array[index])
        assert ex.value == expected or (math.isinf(expected) and ex.value == expected)
        for line in ex.render().splitlines():
            if "  = " not in line:  # prose lines are wrapped; aligned term lines are not
                assert len(line) <= 88, line


# RoPE and grouped heads ---------------------------------------------------------------


def rope_preset(**rope: object) -> Preset:
    # Q = X (W_Q is the identity), so the rotation's numbers are X's.
    return Preset(
        inputs=[[1.0, 2.0], [3.0, -1.0]],
        w_query=np.eye(2),
        w_key=np.eye(2),
        w_value=np.eye(2),
        options=Options(rope=Rope(inv_freq=(0.5,), **rope)),  # type: ignore[arg-type]
    )


def test_a_query_cell_with_rope_is_then_turned_by_its_positions_angle() -> None:
    p = rope_preset()
    ex = explain_projection(p, compute(p), CellRef("q", None, 1, 0))
    assert len(ex.steps) == 2
    rotation = ex.steps[1]
    # token 2 sits at position 1: a = 1 × 0.5; the pair (q1, q2) = (3, −1)
    a = 0.5
    assert [t.operands for t in rotation.terms] == [(3.0, math.cos(a)), (-1.0, -math.sin(a))]
    assert rotation.result == pytest.approx(3 * math.cos(a) + math.sin(a), abs=1e-15)
    text = flat(ex.render())
    assert "a = position 1 × inv_freq 0.5 = 0.5" in text
    assert "sum: Q_rot[2,q1]" in text


def test_the_second_column_of_a_pair_adds_the_first_times_sin() -> None:
    p = rope_preset(style="interleaved", positions=(4, 2))
    ex = explain_any(p, compute(p), CellRef("q_rot", None, 0, 1))
    (rotation,) = ex.steps
    a = 4 * 0.5  # token 1 at position 4; pair (q1, q2) = (1, 2): w' = w cos a + u sin a
    assert [t.operands for t in rotation.terms] == [(2.0, math.cos(a)), (1.0, math.sin(a))]
    assert ex.value == pytest.approx(2 * math.cos(a) + math.sin(a), abs=1e-15)
    assert "Q_rot[1,q2] is computed from: X: row 1; W_Q: all" in flat(ex.render())


def test_position_0_is_not_turned_and_reads_no_partner() -> None:
    p = rope_preset()
    r = compute(p)
    ex = explain_any(p, r, CellRef("q_rot", None, 0, 0))
    assert ex.value == 1.0
    assert "W_Q: column q1" in flat(ex.render())


def test_a_shared_key_head_names_the_query_heads_that_read_it() -> None:
    rng = np.random.default_rng(3)
    p = Preset(
        inputs=rng.normal(size=(2, 3)),
        w_query=rng.normal(size=(3, 8)),
        w_key=rng.normal(size=(3, 4)),
        w_value=rng.normal(size=(3, 4)),
        options=Options(heads=4, kv_heads=2),
    )
    text = flat(explain_projection(p, compute(p), CellRef("v", None, 1, 3)).render())
    assert "key/value head 2 of 2, shared by query heads 3..4" in text
    assert cell_label(p, compute(p), CellRef("w_key", None, 0, 2)) == "W_K[x1,h2:k1]"


def test_a_key_masked_for_every_query_reaches_only_its_raw_scores() -> None:
    p = seed().with_options(key_mask=(True, False, True))
    text = flat(explain_input(p, compute(p), CellRef("inputs", None, 1, 0)).render())
    # X row 2 is query 2 (its whole rows) and key 2, which no query may see
    assert "Key 2 is masked for every query" in text
    assert "raw scores: row 2 and key 2; scaled scores: row 2; weights: row 2" in text


def test_every_q_k_v_cell_matches_a_loop_over_the_typed_numbers() -> None:
    b = {"q": [0.5, 0.0, -1.0], "k": [1.0, 2.0, 0.0], "v": [0.0, 0.0, 0.25]}
    p = seed().replace(b_query=b["q"], b_key=b["k"], b_value=b["v"])
    r = compute(p)
    for name, w in (("q", W_Q), ("k", W_K), ("v", W_V)):
        for i in range(3):
            for c in range(3):
                products = [X[i][t] * w[t][c] for t in range(4)]
                expected = sum(products) + b[name][c]
                ex = explain_projection(p, r, CellRef(name, None, i, c))
                (step,) = ex.steps
                assert [t.operands for t in step.terms[:4]] == [
                    (X[i][t], w[t][c]) for t in range(4)
                ]
                assert [t.value for t in step.terms] == [*products, b[name][c]]
                assert step.result == expected == ex.value
