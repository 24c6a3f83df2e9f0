"""selfattn.walkthrough: the tutorial's steps, checked against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn import Options, Preset, compute
from selfattn.bundled import bundled_names, load_bundled
from selfattn.rope import Rope
from selfattn.walkthrough import Cells, Walkthrough, WalkthroughError, walkthrough
from selfattn.worksheet import render_html, render_markdown

# The tutorial's seed example, worked by hand (see also test_explain.py):
#   K = X W_K, Q = X W_Q, V = X W_V with X = [[1,0,1,0],[0,2,0,2],[1,1,1,1]]
KEYS = [[0, 1, 1], [4, 4, 0], [2, 3, 1]]
QUERIES = [[1, 0, 2], [2, 2, 2], [2, 1, 3]]
VALUES = [[1, 2, 3], [2, 8, 0], [2, 6, 3]]
#   input 1's scores: q1 . k_j = [0+0+2, 4+0+0, 2+0+2]
SCORES_1 = [2, 4, 4]
#   divided by sqrt(3), softmax: exp(2/√3) and twice exp(4/√3) over their sum
_E1, _E2 = math.exp(2 / math.sqrt(3)), math.exp(4 / math.sqrt(3))
WEIGHTS_1 = [_E1 / (_E1 + 2 * _E2), _E2 / (_E1 + 2 * _E2), _E2 / (_E1 + 2 * _E2)]
#   output 1 = Σ_j weight_j v_j
OUTPUT_1 = [
    WEIGHTS_1[0] * 1 + WEIGHTS_1[1] * 2 + WEIGHTS_1[2] * 2,
    WEIGHTS_1[0] * 2 + WEIGHTS_1[1] * 8 + WEIGHTS_1[2] * 6,
    WEIGHTS_1[0] * 3 + WEIGHTS_1[1] * 0 + WEIGHTS_1[2] * 3,
]
SEED_STEPS = (
    "inputs",
    "weights",
    "qkv_row",
    "qkv_all",
    "raw_scores",
    "scaled_scores",
    "softmax",
    "weighted_values",
    "context_row",
    "all_queries",
)


@pytest.fixture(scope="module")
def seed() -> Walkthrough:
    return walkthrough(load_bundled("seed-example"))


def table(walk: Walkthrough, key: str, title_start: str) -> np.ndarray:
    step = walk.step(key)
    return next(t.values for t in step.tables if t.title.startswith(title_start))


# The seed example: the tutorial's numbers ------------------------------------------------


def test_seed_steps_follow_the_tutorial(seed: Walkthrough) -> None:
    assert seed.keys == SEED_STEPS
    assert all(step.title and step.text for step in seed.steps)


def test_seed_keys_queries_values(seed: Walkthrough) -> None:
    assert table(seed, "qkv_all", "Q").tolist() == QUERIES
    assert table(seed, "qkv_all", "K").tolist() == KEYS
    assert table(seed, "qkv_all", "V").tolist() == VALUES


def test_seed_input_1_query_key_value_first(seed: Walkthrough) -> None:
    step = seed.step("qkv_row")
    assert [t.values.tolist() for t in step.tables] == [[QUERIES[0]], [KEYS[0]], [VALUES[0]]]
    # The rows are named as rows: q1, k1, v1 are the tables' column names.
    assert "X row 1 = [1, 0, 1, 0]" in step.text
    assert "Q row 1 = [1, 0, 2]" in step.text and "K row 1 = [0, 1, 1]" in step.text
    assert "V row 1 = [1, 2, 3]" in step.text
    assert [t.title for t in step.tables] == ["Q row 1", "K row 1", "V row 1"]
    for column_name in ("x1", "q1", "k1", "v1"):
        assert column_name not in step.text
    # q1[0] = x1 . W_Q[:, 0] = 1*1 + 0*1 + 1*0 + 0*0, written out term by term
    first = step.explanations[0]
    assert [t.operands for t in first.steps[0].terms] == [(1, 1), (0, 1), (1, 0), (0, 0)]
    assert first.value == 1


def test_seed_input_1_scores(seed: Walkthrough) -> None:
    step = seed.step("raw_scores")
    assert table(seed, "raw_scores", "Raw scores").tolist() == [SCORES_1]
    assert "[2, 4, 4]" in step.text
    assert [ex.value for ex in step.explanations] == SCORES_1


def test_seed_scaled_scores_divide_by_sqrt_3(seed: Walkthrough) -> None:
    step = seed.step("scaled_scores")
    np.testing.assert_allclose(step.tables[0].values[0], np.array(SCORES_1) / math.sqrt(3))
    assert "sqrt(3) = 1.732" in step.text


def test_seed_input_1_weights(seed: Walkthrough) -> None:
    step = seed.step("softmax")
    weights = step.tables[0].values[0]
    np.testing.assert_allclose(weights, WEIGHTS_1, rtol=1e-12)
    np.testing.assert_allclose(weights, [0.136, 0.432, 0.432], atol=5e-4)  # as published
    assert "[0.1361, 0.4319, 0.4319]" in step.text


def test_seed_input_row_is_not_named_like_a_column(seed: Walkthrough) -> None:
    text = seed.step("inputs").text
    assert "Query 1 'input_1' is X row 1 = [1, 0, 1, 0]." in text
    assert "x1" not in text


def test_seed_weighted_values_name_the_value_rows(seed: Walkthrough) -> None:
    # weights [0.1361, 0.4319, 0.4319] times V rows [1, 2, 3], [2, 8, 0], [2, 6, 3]
    text = seed.step("weighted_values").text
    assert "0.1361 × V row 1 [1, 2, 3]; 0.4319 × V row 2 [2, 8, 0]; 0.4319 × V row 3" in text
    assert "v1" not in text


def test_seed_weighted_values_and_output_1(seed: Walkthrough) -> None:
    products = table(seed, "weighted_values", "Weighted")
    expected = [[w * x for x in v] for w, v in zip(WEIGHTS_1, VALUES, strict=True)]
    np.testing.assert_allclose(products, expected, rtol=1e-12)
    step = seed.step("context_row")
    assert step.title == "Sum them: output 1"
    np.testing.assert_allclose(step.tables[0].values[0], OUTPUT_1, rtol=1e-12)
    assert "[1.864, 6.319, 1.704]" in step.text
    assert Cells("output", (0,), (0, 1, 2)) in step.cells


def test_query_2_chosen(seed: Walkthrough) -> None:
    walk = walkthrough(load_bundled("seed-example"), query=1)
    # q2 = [2, 2, 2]: scores = [0+2+2, 8+8+0, 4+6+2]
    assert table(walk, "raw_scores", "Raw").tolist() == [[4, 16, 12]]
    assert walk.step("qkv_row").tables[0].values.tolist() == [QUERIES[1]]
    assert walk.step("raw_scores").cells[0] == Cells("q", (1,), (0, 1, 2))


# The steps each feature needs -----------------------------------------------------------


def test_causal_mask_step_hides_later_keys() -> None:
    walk = walkthrough(load_bundled("causal-the-cat-sat"), query=1)
    keys = walk.keys
    assert keys.index("scaled_scores") < keys.index("causal_mask") < keys.index("softmax")
    step = walk.step("causal_mask")
    assert step.cells == (Cells("scaled_scores", (1,), (2, 3, 4, 5), 0),)
    assert "keys 3..6" in step.text
    assert walk.step("softmax").tables[0].values[0, 2:].tolist() == [0, 0, 0, 0]


def test_causal_mask_step_for_the_last_query_hides_nothing() -> None:
    walk = walkthrough(load_bundled("causal-the-cat-sat"), query=5)
    step = walk.step("causal_mask")
    assert step.cells == (Cells("scaled_scores", (5,), (), 0),)
    assert "nothing is hidden" in step.text


def test_padding_mask_step_names_the_masked_keys() -> None:
    walk = walkthrough(load_bundled("padding-mask"))
    assert "padding_mask" in walk.keys and "causal_mask" not in walk.keys
    step = walk.step("padding_mask")
    # The preset's key_mask is [T, T, T, T, F, F]: keys 5 and 6 are padding.
    assert step.cells == (Cells("scaled_scores", (0, 1, 2, 3, 4, 5), (4, 5), 0),)
    assert "key 5" in step.text and "key 6" in step.text


def test_two_heads_with_output_projection() -> None:
    preset = load_bundled("two-heads-self-and-previous")
    walk = walkthrough(preset, query=2)
    assert walk.keys[-3:] == ("all_queries", "heads", "output")
    heads = walk.step("heads")
    assert [t.title for t in heads.tables if t.heatmap] == ["Weights, head 1", "Weights, head 2"]
    output = walk.step("output")
    assert any(c.matrix == "w_output" for c in output.cells)
    # Output row 3 = the heads' contexts side by side times W_O, by a plain loop.
    result = compute(preset)
    concat = [result.context[h, 2, c] for h in range(2) for c in range(result.d_v)]
    expected = [
        sum(concat[t] * preset.w_output[t, o] for t in range(len(concat)))
        for o in range(preset.w_output.shape[1])
    ]
    np.testing.assert_allclose(output.tables[-1].values[2], expected, rtol=1e-12)
    assert [ex.value for ex in output.explanations] == pytest.approx(expected, rel=1e-12)


def test_cross_attention_keys_come_from_the_source() -> None:
    preset = load_bundled("cross-attention-translation")
    walk = walkthrough(preset)
    assert walk.keys[:3] == ("inputs", "source", "weights")
    assert [t.matrix for t in walk.step("qkv_row").tables] == ["q"]
    # 'the' = [1, 0, 0, 0] times W_Q (4 × the identity over x1..x3) = [4, 0, 0]
    assert (
        "X row 1 = [1, 0, 0, 0], times W_Q gives its query Q row 1 = [4, 0, 0]"
        in walk.step("qkv_row").text
    )
    k_table = next(t for t in walk.step("qkv_all").tables if t.matrix == "k")
    assert k_table.row_labels == preset.source_tokens
    assert Cells("source_inputs", (0, 1, 2), (0, 1, 2, 3)) in walk.step("source").cells


def test_biases_step_and_a_wide_real_head() -> None:
    preset = load_bundled("real-previous-token")
    walk = walkthrough(preset)
    assert "biases" in walk.keys and walk.keys[-1] == "output"
    biases = walk.step("biases")
    assert {c.matrix for c in biases.cells} == {"b_query", "b_key", "b_value"}
    # 384 products per cell are not written out; the text says so instead.
    row = walk.step("qkv_row")
    assert row.explanations == () and "384 products" in row.text
    assert "(384 numbers)" in walk.step("inputs").text


def test_fully_masked_query_has_zero_weights() -> None:
    preset = load_bundled("seed-example").with_options(causal=True, key_mask=(False, True, True))
    walk = walkthrough(preset)
    step = walk.step("softmax")
    assert step.tables[0].values.tolist() == [[0, 0, 0]]
    assert "Every key is masked" in step.text and step.explanations == ()


def test_a_query_or_head_out_of_range_is_refused() -> None:
    preset = load_bundled("seed-example")
    with pytest.raises(WalkthroughError, match="query 4 does not exist: the preset has 3 queries"):
        walkthrough(preset, query=3)
    with pytest.raises(WalkthroughError, match="query 0 does not exist"):
        walkthrough(preset, query=-1)
    with pytest.raises(WalkthroughError, match="head 2 does not exist: the preset has 1 head"):
        walkthrough(preset, head=1)


# Every preset, every query: the cells exist and the numbers agree ----------------------


def _matrix(walk: Walkthrough, cells: Cells) -> np.ndarray:
    if hasattr(walk.result, cells.matrix):
        array = np.asarray(getattr(walk.result, cells.matrix))
        return array if cells.head is None else array[cells.head]
    array = getattr(walk.preset, cells.matrix)
    assert array is not None, cells.matrix
    return array.reshape(1, -1) if array.ndim == 1 else array


def check_walkthrough(walk: Walkthrough) -> None:
    r = walk.result
    for step in walk.steps:
        for cells in step.cells:
            array = _matrix(walk, cells)
            assert all(0 <= i < array.shape[0] for i in cells.rows), (step.key, cells)
            assert all(0 <= j < array.shape[1] for j in cells.cols), (step.key, cells)
        for ex in step.explanations:
            assert np.isfinite(ex.value) or ex.value == -math.inf
    # The weighted values add up to the context row (a plain sum, not the program's).
    products = walk.step("weighted_values").tables[0].values
    context = walk.step("context_row").tables[0].values[0]
    np.testing.assert_allclose(products.sum(axis=0), context, rtol=1e-9, atol=1e-9)
    weights = walk.step("softmax").tables[0].values[0]
    assert math.isclose(weights.sum(), 0.0 if r.fully_masked[walk.query] else 1.0, abs_tol=1e-9)


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_preset_and_query(name: str) -> None:
    preset = load_bundled(name)
    for query in range(preset.n_tokens):
        check_walkthrough(walkthrough(preset, query=query))


@st.composite
def presets(draw: st.DrawFn) -> Preset:
    heads = draw(st.integers(1, 3))
    n = draw(st.integers(1, 5))
    cross = draw(st.booleans())
    m = draw(st.integers(1, 5)) if cross else n
    d_model = draw(st.integers(1, 5))
    d_k, d_v = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    numbers = st.floats(-3, 3, allow_nan=False, width=32)

    def matrix(rows: int, cols: int) -> np.ndarray:
        return np.array(draw(st.lists(numbers, min_size=rows * cols, max_size=rows * cols)))

    def maybe_bias(width: int) -> np.ndarray | None:
        return matrix(1, width) if draw(st.booleans()) else None

    kv = draw(st.sampled_from([g for g in range(1, heads + 1) if heads % g == 0]))
    rope = None
    if draw(st.booleans()):
        dims = draw(st.sampled_from([r for r in range(2, d_k + 1, 2)] or [0]))
        if dims:
            style = draw(st.sampled_from(["half", "interleaved"]))
            rope = Rope(style=style, dims=dims, theta=draw(st.sampled_from([10.0, 10000.0])))
    window = draw(st.none() | st.integers(1, 4))
    w_output = matrix(heads * d_v, 2).reshape(heads * d_v, 2) if draw(st.booleans()) else None
    key_mask = tuple(draw(st.lists(st.booleans(), min_size=m, max_size=m)))
    return Preset(
        inputs=matrix(n, d_model).reshape(n, d_model),
        w_query=matrix(d_model, heads * d_k).reshape(d_model, heads * d_k),
        w_key=matrix(d_model, kv * d_k).reshape(d_model, kv * d_k),
        w_value=matrix(d_model, kv * d_v).reshape(d_model, kv * d_v),
        w_output=w_output,
        b_query=maybe_bias(heads * d_k),
        b_key=maybe_bias(kv * d_k),
        b_value=maybe_bias(kv * d_v),
        b_output=maybe_bias(2 if w_output is not None else heads * d_v),
        source_inputs=matrix(m, d_model).reshape(m, d_model) if cross else None,
        options=Options(
            heads=heads,
            causal=draw(st.booleans()),
            key_mask=key_mask if draw(st.booleans()) else None,
            temperature=draw(st.sampled_from([0.5, 1.0, 2.0])),
            kv_heads=kv if kv < heads or draw(st.booleans()) else None,
            rope=rope,
            window=window,
        ),
    )


@settings(max_examples=60, deadline=None)
@given(presets(), st.data())
def test_any_preset_any_query_and_head(preset: Preset, data: st.DataObject) -> None:
    query = data.draw(st.integers(0, preset.n_tokens - 1))
    head = data.draw(st.integers(0, preset.options.heads - 1))
    walk = walkthrough(preset, query=query, head=head)
    check_walkthrough(walk)
    # Any walk-through renders: one heading per step; HTML without any URL.
    assert render_markdown(walk).count("\n## ") == len(walk.steps)
    assert "http" not in render_html(walk)
    o = preset.options
    assert ("causal_mask" in walk.keys) == o.causal
    assert ("padding_mask" in walk.keys) == (o.key_mask is not None and not all(o.key_mask))
    assert ("heads" in walk.keys) == (o.heads > 1)
    assert ("source" in walk.keys) == (preset.source_inputs is not None)
    has_bias = any(b is not None for b in (preset.b_query, preset.b_key, preset.b_value))
    assert ("biases" in walk.keys) == has_bias
    projects = o.heads > 1 or preset.w_output is not None or preset.b_output is not None
    assert ("output" in walk.keys) == projects
    assert ("grouped_heads" in walk.keys) == (walk.result.kv_heads < o.heads)
    assert ("rope" in walk.keys) == (o.rope is not None)
    assert ("window" in walk.keys) == (o.window is not None)


def test_second_head_writes_out_its_own_columns() -> None:
    walk = walkthrough(load_bundled("two-heads-self-and-previous"), query=2, head=1)
    cells = [(ex.cell.matrix, ex.cell.col) for ex in walk.step("qkv_row").explanations]
    # d_k = d_v = 2: head 2 owns columns 3 and 4 (0-based 2, 3) of Q, K and V.
    assert cells == [("q", 2), ("q", 3), ("k", 2), ("k", 3), ("v", 2), ("v", 3)]
    assert walk.step("raw_scores").cells[0] == Cells("q", (2,), (2, 3))
    assert "key 4 comes later" in walk.step("causal_mask").text


# Version-2 presets: grouped heads, RoPE, a sliding window ------------------------------


def test_grouped_heads_step_and_the_shared_key_columns() -> None:
    # Two query heads (d_k = 1) share one key/value head: W_K and W_V have one column.
    preset = Preset(
        inputs=[[1.0, 2.0], [3.0, 4.0]],
        w_query=[[1.0, 0.0], [0.0, 1.0]],  # head 1 reads x1, head 2 reads x2
        w_key=[[1.0], [1.0]],  # k = x1 + x2 = [3, 7]
        w_value=[[1.0], [0.0]],
        options=Options(heads=2, kv_heads=1, scale="none"),
    )
    walk = walkthrough(preset, query=1, head=1)
    keys = walk.keys
    assert keys.index("qkv_all") < keys.index("grouped_heads") < keys.index("raw_scores")
    assert "share 1 key/value head," in walk.step("grouped_heads").text
    # head 2's query of token 2 is x2 = 4; scores 4 × [3, 7]
    assert walk.step("raw_scores").tables[0].values.tolist() == [[12.0, 28.0]]
    assert walk.step("raw_scores").cells[:2] == (Cells("q", (1,), (1,)), Cells("k", (0, 1), (0,)))


def test_rope_step_rotates_by_position() -> None:
    # One head, d_k = 2, inv_freq [1]: token 2 (position 1) turns by 1 radian.
    preset = Preset(
        inputs=[[1.0, 0.0], [0.0, 1.0]],
        w_query=[[1.0, 0.0], [0.0, 1.0]],
        w_key=[[1.0, 0.0], [0.0, 1.0]],
        w_value=[[1.0], [1.0]],
        options=Options(rope=Rope(inv_freq=(1.0,)), scale="none"),
    )
    walk = walkthrough(preset, query=1)
    keys = walk.keys
    assert keys.index("qkv_all") < keys.index("rope") < keys.index("raw_scores")
    c, s = math.cos(1.0), math.sin(1.0)
    # q2 = (0, 1) rotated by 1 rad: (0·c − 1·s, 1·c + 0·s); k1 = (1, 0) stays (position 0)
    q_rot_2 = [-s, c]
    rope = walk.step("rope")
    np.testing.assert_allclose(rope.tables[0].values[1], q_rot_2, rtol=1e-15)
    # Explain's rotation of query 2's row names the q_rot cells it gives.
    rotated = {
        ref.col: t.value
        for t in rope.explanations[0].steps[0].terms
        for ref in t.refs
        if ref.matrix == "q_rot"
    }
    assert rotated == pytest.approx({0: -s, 1: c}, rel=1e-15)
    assert "position 1" in rope.text
    raw = walk.step("raw_scores")
    # scores: q_rot_2 · k_rot_1 = -s; q_rot_2 · k_rot_2 = q2 · k2 = 1 (same rotation)
    np.testing.assert_allclose(raw.tables[0].values[0], [-s, 1.0], rtol=1e-12)
    assert raw.cells[0].matrix == "q_rot" and raw.cells[1].matrix == "k_rot"


def test_window_step_hides_keys_too_far_back() -> None:
    preset = load_bundled("causal-the-cat-sat").with_options(window=2)
    walk = walkthrough(preset, query=4)  # position 4 sees positions 3 and 4
    keys = walk.keys
    assert keys.index("causal_mask") < keys.index("window") < keys.index("softmax")
    assert walk.step("window").cells == (Cells("scaled_scores", (4,), (0, 1, 2), 0),)
    assert walk.step("causal_mask").cells == (Cells("scaled_scores", (4,), (5,), 0),)
    weights = walk.step("softmax").tables[0].values[0]
    assert weights[[0, 1, 2, 5]].tolist() == [0, 0, 0, 0] and weights[3] + weights[4] == 1


def test_window_without_causal_hides_both_sides() -> None:
    preset = load_bundled("causal-the-cat-sat").with_options(causal=False, window=2)
    walk = walkthrough(preset, query=2)  # |2 - j| < 2: keys 2, 3, 4 (0-based 1, 2, 3)
    assert walk.step("window").cells == (Cells("scaled_scores", (2,), (0, 4, 5), 0),)


def test_bundled_decoder_head_walks_through_rope_and_the_causal_mask() -> None:
    preset = load_bundled("real-attention-sink")
    walk = walkthrough(preset, query=4)
    assert {"rope", "causal_mask"} <= set(walk.keys)
    q = walk.result.q
    # inv_freq[0] = theta^0 = 1, so the first pair of query 5 (position 4) turns by 4 rad;
    # "half" pairs column 1 with column d_k/2 + 1.
    half = walk.result.d_k // 2
    expected = q[4, 0] * math.cos(4.0) - q[4, half] * math.sin(4.0)
    rope = walk.step("rope")
    assert rope.explanations[0].value == pytest.approx(expected, rel=1e-12)
    assert "position 4" in rope.text


# Position 0 is not rotated: the walk-through shows a query that turns -------------------


def test_rope_step_at_position_0_shows_query_2_turning() -> None:
    """The seed example with RoPE on its first pair (q1, q2), inv_freq [1]: query 1 sits at
    position 0 and stays [1, 0, 2]; query 2 = [2, 2, 2] at position 1 turns by 1 rad into
    [2 cos 1 − 2 sin 1, 2 cos 1 + 2 sin 1, 2] = [−0.6023, 2.764, 2]."""
    walk = walkthrough(load_bundled("seed-example").with_options(rope=Rope(dims=2)))
    rope = walk.step("rope")
    assert "position 0 is not rotated" in rope.text
    assert "its rotated query row is its query row, [1, 0, 2]" in rope.text
    assert (
        "query 2 'input_2' at position 1: its angles are [1], and its query row [2, 2, 2] "
        "becomes [−0.6023, 2.764, 2]" in rope.text
    )
    c, s = math.cos(1.0), math.sin(1.0)
    turned = next(ex for ex in rope.explanations if ex.title.startswith("Rotate Q row 2"))
    assert "position p = 1" in turned.title
    rotated = {
        ref.col: t.value for t in turned.steps[0].terms for ref in t.refs if ref.matrix == "q_rot"
    }
    assert rotated == pytest.approx({0: 2 * c - 2 * s, 1: 2 * c + 2 * s}, rel=1e-15)
    assert Cells("q_rot", (0, 1), (0, 1, 2)) in rope.cells


def test_rope_step_of_the_real_decoder_turns_query_2_by_its_frequencies() -> None:
    """real-attention-sink: theta 100000 over d_k = 64, so inv_freq[2] = 100000^(−2/64)
    = 10^(−5/32) = 0.6978 and query 2 'Ġcat' at position 1 turns pair k by inv_freq[k]."""
    rope = walkthrough(load_bundled("real-attention-sink")).step("rope")
    assert "Query 1 'The' is at position 0, and position 0 is not rotated" in rope.text
    assert "query 2 'Ġcat' at position 1: its angles are [1, 0.6978, " in rope.text
    assert [ex.title.split(" (")[0] for ex in rope.explanations] == [
        "Rotate Q row 1",
        "Rotate K row 1",
        "Rotate Q row 2",
        "Rotate K row 2",
    ]


def test_rope_step_away_from_position_0_follows_its_own_query() -> None:
    rope = walkthrough(load_bundled("real-attention-sink"), query=2).step("rope")
    assert "Query 3 'Ġsat' is at position 2: angles [2, 1.396, " in rope.text  # 2 × 0.6978
    assert "not rotated" not in rope.text
    assert [ex.title.split(" (")[0] for ex in rope.explanations] == [
        "Rotate Q row 3",
        "Rotate K row 3",
    ]


def test_window_step_with_nothing_hidden_shows_a_query_it_hides_from() -> None:
    """Causal window of 2 over 'the cat sat on the mat': query 1 (position 0) sees every key
    it may; query 3 at position 2 sees positions 1..2 only, so key 1 is too far away."""
    preset = load_bundled("causal-the-cat-sat").with_options(window=2)
    text = walkthrough(preset, query=0).step("window").text
    assert "No key is too far away for this query." in text
    assert (
        "For another query it matters: query 3 'sat' at position 2 may look at only the keys "
        "at positions 1..2 (the last 2), so key 1 is too far away." in text
    )
