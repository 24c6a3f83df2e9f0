"""selfattn.explain: a cell's arithmetic, checked against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import selfattn
from selfattn import Options, Preset
from selfattn.bundled import bundled_names, load_bundled
from selfattn.explain import (
    MATRICES,
    Explanation,
    explain_cell,
    explain_context,
    explain_output,
    explain_scaled_score,
    explain_score,
    explain_weight,
    format_number,
)

# The seed example, typed in again here (not read from the bundled file).
X = [[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]]
W_Q = [[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]]
W_K = [[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]]
W_V = [[0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]]

# Worked by hand:
#   q_0 = x_0 W_Q = row0 + row2 of W_Q          = [1, 0, 2]
#   k_0 = x_0 W_K = row0 + row2 of W_K          = [0, 1, 1]
#   k_1 = x_1 W_K = 2 row1 + 2 row3 of W_K      = [4, 4, 0]
#   k_2 = x_2 W_K = sum of the rows of W_K      = [2, 3, 1]
#   scores row 0 = q_0 . k_j = [0+0+2, 4+0+0, 2+0+2] = [2, 4, 4]
#   logits = scores / sqrt(3); max = 4/sqrt(3)
#   exps = exp(2/sqrt3 - 4/sqrt3) = exp(-2/sqrt3) ~ 0.3151519, 1, 1
#   weights[0][1] = 1 / (0.3151519 + 2) ~ 0.4319371
#   v_0 = x_0 W_V = row0 + row2 of W_V          = [1, 2, 3]
#   v_1 = 2 row1 + 2 row3 of W_V                = [2, 8, 0]
#   v_2 = sum of the rows of W_V                = [2, 6, 3]
SQRT3 = math.sqrt(3)


def seed() -> Preset:
    return Preset(
        inputs=X,
        w_query=W_Q,
        w_key=W_K,
        w_value=W_V,
        tokens=("input_1", "input_2", "input_3"),
    )


def flat(text: str) -> str:
    """The rendered text with its line wrapping undone, for phrase checks."""
    return " ".join(text.split())


def step_by_label(ex: Explanation, start: str):
    return next(s for s in ex.steps if s.label.startswith(start))


# The seed example, term by term ---------------------------------------------------


def test_seed_weight_dot_product_terms():
    preset = seed()
    ex = explain_weight(preset, selfattn.compute(preset), 0, 0, 1)
    dot = step_by_label(ex, "Raw score")
    assert [t.operands for t in dot.terms] == [(1.0, 4.0), (0.0, 4.0), (2.0, 0.0)]
    assert [t.value for t in dot.terms] == [4.0, 0.0, 0.0]
    assert [t.op for t in dot.terms] == ["×", "×", "×"]
    assert dot.result == 4.0 and dot.combine == "sum"


def test_seed_weight_logit_is_score_over_sqrt_dk():
    preset = seed()
    ex = explain_weight(preset, selfattn.compute(preset), 0, 0, 1)
    logit = step_by_label(ex, "Scaled score")
    (term,) = logit.terms
    assert term.operands == (4.0, SQRT3)
    assert term.value == 4 / SQRT3
    assert logit.result == 4 / SQRT3
    assert any("sqrt(d_k) = sqrt(3)" in note for note in logit.notes)


def test_seed_weight_softmax_row():
    preset = seed()
    result = selfattn.compute(preset)
    ex = explain_weight(preset, result, 0, 0, 1)
    row = step_by_label(ex, "Row 1")
    assert [t.value for t in row.terms] == [2 / SQRT3, 4 / SQRT3, 4 / SQRT3]
    assert row.result == 4 / SQRT3 and row.combine == "max"
    exps = step_by_label(ex, "Max-subtracted")
    assert [t.operands for t in exps.terms] == [
        (2 / SQRT3, 4 / SQRT3),
        (4 / SQRT3, 4 / SQRT3),
        (4 / SQRT3, 4 / SQRT3),
    ]
    e0 = exps.terms[0].value
    assert e0 == pytest.approx(math.exp(-2 / SQRT3), rel=1e-15)
    assert [t.value for t in exps.terms[1:]] == [1.0, 1.0]
    assert exps.result == pytest.approx(math.exp(-2 / SQRT3) + 2, rel=1e-15)
    final = ex.steps[-1]
    (term,) = final.terms
    assert term.operands == (1.0, exps.result)
    assert term.value == pytest.approx(1 / (math.exp(-2 / SQRT3) + 2), rel=1e-15)
    assert ex.value == result.weights[0, 0, 1]
    assert ex.value == pytest.approx(0.43193710, abs=5e-9)


def test_seed_weight_render_shows_full_precision_numbers():
    preset = seed()
    text = explain_weight(preset, selfattn.compute(preset), 0, 0, 1).render()
    assert "0.43193" in text
    assert "1 × 4" in text and "2 × 0" in text
    assert format_number(4 / SQRT3) in text  # 2.309401077
    assert "2.309401077" in text
    assert "sqrt(3)" in text


def test_render_aligns_the_equals_signs_of_a_step():
    preset = seed()
    text = explain_weight(preset, selfattn.compute(preset), 0, 2, 1).render()
    lines = text.splitlines()
    # Query 3 'input_3' = [1, 1, 1, 1]: its products with key 2 and their sum.
    block = [line for line in lines if line.lstrip().startswith(("Q[3,", "sum: score[3,2]"))]
    assert len(block) == 4
    assert len({line.index("=") for line in block}) == 1


def test_format_number_uses_ten_significant_digits():
    assert format_number(0.43193710073) == "0.4319371007"
    assert format_number(4.0) == "4"
    assert format_number(-0.0) == "0"
    assert format_number(-math.inf) == "-inf"
    assert format_number(1 / 3) == "0.3333333333"


def test_seed_context_is_weighted_sum_of_value_column():
    preset = seed()
    result = selfattn.compute(preset)
    ex = explain_context(preset, result, 0, 0, 1)
    (step,) = ex.steps
    a = result.weights[0, 0]
    assert [t.operands for t in step.terms] == [(a[0], 2.0), (a[1], 8.0), (a[2], 6.0)]
    assert ex.value == result.context[0, 0, 1]
    assert step.result == pytest.approx(2 * a[0] + 8 * a[1] + 6 * a[2], rel=1e-15)


def test_output_without_w_o_is_the_context_cell():
    preset = seed()
    result = selfattn.compute(preset)
    ex = explain_output(preset, result, 2, 1)
    (term,) = ex.steps[0].terms
    assert term.value == result.context[0, 2, 1]
    assert term.refs[0].matrix == "context" and term.refs[0].head == 0
    # The table's row 3 and column o2 (0-based 2, 1): column c2 of the head's context.
    assert "Output column o2 is column c2 of head 1's context" in ex.render()
    assert ex.title.startswith("Output  query 3 'input_3', column o2 = ")


def test_scaled_score_and_raw_score_cells():
    preset = seed()
    result = selfattn.compute(preset)
    raw = explain_score(preset, result, 0, 0, 2)
    assert raw.value == 4.0 and len(raw.steps) == 1
    assert [t.operands for t in raw.steps[0].terms] == [(1.0, 2.0), (0.0, 3.0), (2.0, 1.0)]
    scaled = explain_scaled_score(preset, result, 0, 0, 2)
    assert scaled.value == 4 / SQRT3 and len(scaled.steps) == 2


def test_scale_none_and_custom_are_named():
    preset = seed()
    none = preset.with_options(scale="none")
    text = explain_weight(none, selfattn.compute(none), 0, 0, 1).render()
    assert "scale = none" in text
    custom = preset.with_options(scale=2.5, temperature=2.0)
    result = selfattn.compute(custom)
    ex = explain_weight(custom, result, 0, 0, 1)
    logit = step_by_label(ex, "Scaled score")
    assert logit.terms[0].operands == (4.0, 5.0) and logit.result == 0.8
    assert "custom 2.5" in ex.render() and "T = 2" in ex.render()


# The window's language: 1-based rows, the tables' column labels, a short title ------


def test_title_is_a_short_heading_and_render_starts_with_the_steps():
    preset = seed()
    ex = explain_weight(preset, selfattn.compute(preset), 0, 0, 1)
    hand = 1 / (math.exp(-2 / SQRT3) + 2)  # 0.4319371012...
    assert ex.title == f"Weight  query 1 'input_1' → key 2 'input_2'  (head 1) = {hand:.10g}"
    text = ex.render()
    assert text.startswith("1. Raw score = Q row 1 · K row 2:")
    assert ex.title not in text and "Weight weight" not in text


def test_weight_text_names_cells_like_the_tables():
    preset = seed()
    text = explain_weight(preset, selfattn.compute(preset), 0, 2, 1).render()
    # Query 3 (x = [1, 1, 1, 1]) against key 2, d_k = 3: columns q1..q3 and k1..k3.
    for t in (1, 2, 3):
        assert f"Q[3,q{t}] × K[2,k{t}]" in text
    assert "sum: score[3,2]" in text and "→ scaled[3,2]" in text and "→ weight[3,2]" in text
    assert "Row 3 (query 3 'input_3')" in text
    assert "key 1 'input_1'" in text and "key 3 'input_3'" in text
    assert "[0" not in text and "q[" not in text and "k[" not in text  # nothing 0-based


def test_multi_head_text_uses_head_local_labels_and_says_the_head():
    preset = load_bundled("two-heads-self-and-previous")
    result = selfattn.compute(preset)
    ex = explain_weight(preset, result, 1, 2, 1)
    assert ex.title.startswith("Weight  query 3 'old' → key 2 'reads'  (head 2 of 2) = ")
    text = flat(ex.render())
    assert "Q[3,q1] × K[2,k1]" in text and "Q[3,q2] × K[2,k2]" in text
    assert "over head 2's columns: multiply q1..q2 by k1..k2" in text
    assert "(h2:q1..h2:q2 and h2:k1..h2:k2 in the tables)" in text
    context = explain_context(preset, result, 1, 3, 0)
    assert context.title.startswith("Context  query 4 'books', column c1  (head 2 of 2) = ")
    assert [t.label for t in context.steps[0].terms] == [
        f"weight[4,{j}] × V[{j},v1]" for j in (1, 2, 3, 4)
    ]
    assert "h2:v1 in the V table" in flat(context.render())


def test_output_terms_name_context_and_w_o_cells_by_their_labels():
    preset = load_bundled("two-heads-self-and-previous")
    ex = explain_output(preset, selfattn.compute(preset), 2, 1)
    assert ex.title.startswith("Output  query 3 'old', column o2 = ")
    assert [t.label for t in ex.steps[0].terms] == [
        "context[3,h1:c1] × W_O[h1:v1,o2]",
        "context[3,h1:c2] × W_O[h1:v2,o2]",
        "context[3,h2:c1] × W_O[h2:v1,o2]",
        "context[3,h2:c2] × W_O[h2:v2,o2]",
    ]
    assert ex.steps[0].result_label == "output[3,o2]"
    seed_preset = seed()
    context = explain_context(seed_preset, selfattn.compute(seed_preset), 0, 0, 1)
    assert context.title.startswith("Context  query 1 'input_1', column c2  (head 1) = ")
    assert [t.label for t in context.steps[0].terms] == [
        "weight[1,1] × V[1,v2]",
        "weight[1,2] × V[2,v2]",
        "weight[1,3] × V[3,v2]",
    ]


def test_runs_of_masked_keys_are_shortened():
    preset = load_bundled("causal-the-cat-sat")
    ex = explain_weight(preset, selfattn.compute(preset), 0, 1, 0)
    # Query 2 'cat' sees keys 1 and 2; keys 3 to 6 lie in its future.
    assert step_by_label(ex, "Row 2").notes == (
        "Masked keys 3..6 left out (scaled score -inf, exp 0).",
    )


def test_cross_attention_key_mask_points_at_the_source_tab():
    preset = load_bundled("cross-attention-translation").with_options(key_mask=(True, False, True))
    ex = explain_weight(preset, selfattn.compute(preset), 0, 0, 1)
    text = flat(ex.render())
    assert "key 2 'chat' is switched off for every query (key mask)" in text
    assert "Inputs panel's Source tab" in text


def _cells(result):
    """Every (matrix, head, row, col) of a result."""
    for kind in MATRICES:
        heads = 1 if kind == "output" else result.heads
        cols = {"context": result.d_v, "output": result.output.shape[1]}.get(kind, result.n_keys)
        for h in range(heads):
            for i in range(result.n_queries):
                for c in range(cols):
                    yield kind, h, i, c


@pytest.mark.parametrize("name", [n for n in bundled_names() if not n.startswith("real-")])
def test_every_rendered_line_fits_the_panel(name):
    preset = load_bundled(name)
    result = selfattn.compute(preset)
    for cell in _cells(result):
        text = explain_cell(preset, result, *cell).render()
        assert max(len(line) for line in text.splitlines()) <= 88, cell


def test_prose_lines_of_a_real_head_fit_the_panel():
    """32-wide heads give long numbers; the prose is still wrapped at 88."""
    preset = load_bundled("real-previous-token")
    result = selfattn.compute(preset)
    n, m = result.n_queries, result.n_keys
    cells = [("weights", 0, n - 1, m - 1), ("context", 0, n - 1, result.d_v - 1)]
    cells.append(("output", 0, n - 1, result.output.shape[1] - 1))
    for cell in cells:
        for line in explain_cell(preset, result, *cell).render().splitlines():
            if "  = " not in line:  # an aligned term line keeps its numbers whole
                assert len(line) <= 88, line


@given(labels=st.lists(st.text(min_size=1, max_size=120), min_size=3, max_size=3))
def test_long_token_labels_are_shortened_and_lines_fit(labels):
    preset = seed().replace(tokens=tuple(labels)).with_options(causal=True, key_mask=(1, 0, 1))
    result = selfattn.compute(preset)
    for cell in _cells(result):
        ex = explain_cell(preset, result, *cell)
        # A line break in a label must not split an aligned term line.
        for step in ex.steps:
            texts = [step.label, step.result_label, *step.notes]
            texts += [part for t in step.terms for part in (t.label, t.note)]
            assert all(len(part.splitlines()) <= 1 for part in texts)
        text = ex.render()
        for line in text.splitlines():
            if "  = " not in line:  # prose; aligned term lines are bounded by the labels
                assert len(line) <= 88, (cell, line)
        assert all(f"'{label}'" not in text for label in labels if len(label) > 16)


def test_a_narrower_panel_can_ask_for_narrower_prose():
    preset = load_bundled("padding-mask")
    result = selfattn.compute(preset)
    for cell in (("weights", 0, 1, 4), ("weights", 0, 1, 2), ("context", 0, 5, 1)):
        ex = explain_cell(preset, result, *cell)
        narrow = ex.render(width=60)
        for line in narrow.splitlines():
            if "  = " not in line:
                assert len(line) <= 60, line
        assert flat(narrow) == flat(ex.render())  # the same words, wrapped differently


def test_a_long_label_keeps_its_first_characters():
    preset = seed().replace(tokens=("a" * 40, "b", "c"))
    text = explain_weight(preset, selfattn.compute(preset), 0, 0, 0).render()
    assert "key 1 '" + "a" * 15 + "…'" in text


# Masks ----------------------------------------------------------------------


def test_causal_masked_cell_explains_causal_mask():
    preset = load_bundled("causal-the-cat-sat")
    result = selfattn.compute(preset)
    ex = explain_weight(preset, result, 0, 1, 3)
    assert ex.value == 0.0
    assert step_by_label(ex, "Scaled score").result == -math.inf
    text = flat(ex.render())
    assert "causal" in text
    assert "key 4 'on' comes after query 2 'cat'" in text  # the tables' rows 2 and 4
    assert "'causal' ticked in Options" in text


def test_key_masked_cell_explains_key_mask():
    preset = load_bundled("padding-mask")
    result = selfattn.compute(preset)
    ex = explain_weight(preset, result, 0, 1, 4)
    assert ex.value == 0.0
    text = flat(ex.render())
    assert "key 5 '[PAD]' is switched off for every query (key mask)" in text
    assert "'attend' box of key 5 '[PAD]' is unticked in the Inputs panel's Tokens tab" in text
    assert "key_mask" not in text
    assert "causal" not in text


def test_visible_cell_lists_only_visible_keys_in_softmax():
    preset = load_bundled("padding-mask")
    result = selfattn.compute(preset)
    ex = explain_weight(preset, result, 0, 1, 2)
    exps = step_by_label(ex, "Max-subtracted")
    assert [t.refs[0].col for t in exps.terms] == [0, 1, 2, 3]
    assert step_by_label(ex, "Row 2").notes == (
        "Masked keys 5, 6 left out (scaled score -inf, exp 0).",
    )


def test_fully_masked_row_weight_is_zero_by_convention():
    preset = seed().with_options(causal=True, key_mask=(False, True, True))
    result = selfattn.compute(preset)
    assert result.fully_masked[0]  # query 0 sees only key 0, which the key mask hides
    ex = explain_weight(preset, result, 0, 0, 0)
    assert ex.value == 0.0
    text = ex.render()
    assert "fully masked" in text and "convention" in text
    ctx = explain_context(preset, result, 0, 0, 1)
    assert ctx.value == 0.0 and "fully masked" in ctx.render()


# Several heads and W_O ------------------------------------------------------------


def test_multi_head_weight_uses_the_head_column_block():
    preset = load_bundled("two-heads-self-and-previous")
    result = selfattn.compute(preset)
    ex = explain_weight(preset, result, 1, 2, 1)
    dot = step_by_label(ex, "Raw score")
    # Head 2 owns columns 2-3. q_2 = 4 x position 2 = [-4, 0]; k_1 = position 1 = (0, 1)
    # turned by +90 degrees = (-1, 0); q_2 . k_1 = 4.
    assert [t.operands for t in dot.terms] == [(-4.0, -1.0), (0.0, 0.0)]
    assert [(r.matrix, r.row, r.col) for t in dot.terms for r in t.refs] == [
        ("q", 2, 2),
        ("k", 1, 2),
        ("q", 2, 3),
        ("k", 1, 3),
    ]
    assert dot.result == 4.0
    assert "head 2" in ex.title
    assert ex.value == result.weights[1, 2, 1]


def test_multi_head_context_uses_the_head_value_columns():
    preset = load_bundled("two-heads-self-and-previous")
    result = selfattn.compute(preset)
    ex = explain_context(preset, result, 1, 3, 0)
    (step,) = ex.steps
    assert [t.refs[1].col for t in step.terms] == [2, 2, 2, 2]  # V column 2 = head 2's first
    assert [t.operands[1] for t in step.terms] == list(result.v[:, 2])


def test_output_with_w_o_sums_context_times_w_o():
    preset = load_bundled("two-heads-self-and-previous")
    result = selfattn.compute(preset)
    ex = explain_output(preset, result, 2, 1)
    (step,) = ex.steps
    # W_O column 1 is [0, 1, 0, 0.5]: concat row 2 = [C1[2,0], C1[2,1], C2[2,0], C2[2,1]].
    c = result.context
    assert [t.operands for t in step.terms] == [
        (c[0, 2, 0], 0.0),
        (c[0, 2, 1], 1.0),
        (c[1, 2, 0], 0.0),
        (c[1, 2, 1], 0.5),
    ]
    assert [(t.refs[0].head, t.refs[0].col) for t in step.terms] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert step.result == result.output[2, 1]
    assert step.result == pytest.approx(c[0, 2, 1] + 0.5 * c[1, 2, 1], rel=1e-15)


def test_output_bias_is_a_term():
    preset = load_bundled("two-heads-self-and-previous").replace(b_output=[10.0, -1.0])
    result = selfattn.compute(preset)
    ex = explain_output(preset, result, 0, 0)
    terms = ex.steps[0].terms
    assert terms[-1].label == "b_O[o1]" and terms[-1].value == 10.0
    assert ex.value == result.output[0, 0]


def test_two_heads_without_w_o_point_at_the_right_head():
    preset = load_bundled("two-heads-self-and-previous").replace(w_output=None)
    result = selfattn.compute(preset)
    ex = explain_output(preset, result, 3, 3)  # column 3 = head 2, context column 1
    (term,) = ex.steps[0].terms
    assert (term.refs[0].head, term.refs[0].col) == (1, 1)
    assert term.value == result.context[1, 3, 1]


def test_explain_cell_dispatches_and_refuses_bad_cells():
    preset = seed()
    result = selfattn.compute(preset)
    assert explain_cell(preset, result, "weights", 0, 0, 1).value == result.weights[0, 0, 1]
    assert explain_cell(preset, result, "output", 0, 1, 2).value == result.output[1, 2]
    with pytest.raises(ValueError):
        explain_cell(preset, result, "query", 0, 0, 0)
    with pytest.raises(IndexError):
        explain_weight(preset, result, 1, 0, 0)
    with pytest.raises(IndexError):
        explain_context(preset, result, 0, 0, 3)


# Property: every explanation's numbers are the result's numbers ------------------

floats = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)


def matrix(draw, rows: int, cols: int) -> list[list[float]]:
    flat = draw(st.lists(floats, min_size=rows * cols, max_size=rows * cols))
    return [flat[r * cols : (r + 1) * cols] for r in range(rows)]


@st.composite
def presets(draw) -> Preset:
    n = draw(st.integers(1, 4))
    d_model = draw(st.integers(1, 3))
    heads = draw(st.integers(1, 2))
    d_k = draw(st.integers(1, 3))
    d_v = draw(st.integers(1, 2))
    cross = draw(st.booleans())
    m = draw(st.integers(1, 4)) if cross else n
    with_wo = draw(st.booleans())
    d_out = draw(st.integers(1, 3)) if with_wo else heads * d_v
    key_mask = draw(st.none() | st.lists(st.booleans(), min_size=m, max_size=m).map(tuple))
    scale = draw(st.sampled_from(["sqrt_dk", "none"]) | st.floats(0.5, 3))
    return Preset(
        inputs=matrix(draw, n, d_model),
        source_inputs=matrix(draw, m, d_model) if cross else None,
        w_query=matrix(draw, d_model, heads * d_k),
        w_key=matrix(draw, d_model, heads * d_k),
        w_value=matrix(draw, d_model, heads * d_v),
        w_output=matrix(draw, heads * d_v, d_out) if with_wo else None,
        b_query=draw(st.none() | st.lists(floats, min_size=heads * d_k, max_size=heads * d_k)),
        b_output=draw(st.none() | st.lists(floats, min_size=d_out, max_size=d_out)),
        options=Options(
            heads=heads,
            scale=scale,
            temperature=draw(st.floats(0.25, 4)),
            causal=draw(st.booleans()),
            key_mask=key_mask,
        ),
    )


def resolve(preset: Preset, result, ref) -> float:
    """The number a CellRef points at, looked up independently of explain.py."""
    arrays = {
        "q": result.q,
        "k": result.k,
        "v": result.v,
        "w_output": preset.w_output,
    }
    if ref.matrix in arrays:
        return float(arrays[ref.matrix][ref.row, ref.col])
    if ref.matrix == "b_output":
        return float(preset.b_output[ref.col])
    return float(getattr(result, ref.matrix)[ref.head, ref.row, ref.col])


def assert_consistent(preset: Preset, result, ex: Explanation, expected: float) -> None:
    assert ex.value == expected or (math.isinf(expected) and ex.value == expected)
    for step in ex.steps:
        values = [t.value for t in step.terms]
        if step.combine == "sum":
            total = math.fsum(values)
            magnitude = math.fsum(abs(v) for v in values)
            # Relative to the terms' magnitude (a sum may cancel to ~0); the tiny absolute
            # slack covers subnormal terms, which carry no relative precision.
            slack = 1e-12 * max(magnitude, abs(step.result)) + 1e-300
            assert abs(total - step.result) <= slack
        elif step.combine == "max":
            assert step.result == max(values)
        for t in step.terms:
            if t.op == "×":
                assert t.value == t.operands[0] * t.operands[1]
                for operand, ref in zip(t.operands, t.refs, strict=True):
                    assert operand == resolve(preset, result, ref)
            elif t.op == "/":
                assert t.value == pytest.approx(t.operands[0] / t.operands[1], rel=1e-12)
            elif t.op == "exp":
                assert t.value == pytest.approx(math.exp(t.operands[0] - t.operands[1]), rel=1e-12)
                assert t.operands[0] == resolve(preset, result, t.refs[0])


@given(preset=presets(), data=st.data())
def test_explanations_match_the_result_cells(preset, data):
    result = selfattn.compute(preset)
    h = data.draw(st.integers(0, result.heads - 1))
    i = data.draw(st.integers(0, result.n_queries - 1))
    j = data.draw(st.integers(0, result.n_keys - 1))
    c = data.draw(st.integers(0, result.d_v - 1))
    o = data.draw(st.integers(0, result.output.shape[1] - 1))
    assert_consistent(
        preset, result, explain_score(preset, result, h, i, j), result.scores[h, i, j]
    )
    assert_consistent(
        preset,
        result,
        explain_scaled_score(preset, result, h, i, j),
        result.scaled_scores[h, i, j],
    )
    weight = explain_weight(preset, result, h, i, j)
    assert_consistent(preset, result, weight, result.weights[h, i, j])
    if result.mask[i, j]:
        final = weight.steps[-1].terms[0]
        assert final.value == pytest.approx(final.operands[0] / final.operands[1], rel=1e-12)
    assert_consistent(
        preset, result, explain_context(preset, result, h, i, c), result.context[h, i, c]
    )
    assert_consistent(preset, result, explain_output(preset, result, i, o), result.output[i, o])
    assert isinstance(weight.render(), str)


def test_float32_result_explains_its_own_numbers():
    preset = seed().with_options(dtype="float32")
    result = selfattn.compute(preset)
    ex = explain_weight(preset, result, 0, 0, 1)
    assert ex.value == float(result.weights[0, 0, 1])
    assert ex.value != pytest.approx(1 / (math.exp(-2 / SQRT3) + 2), rel=1e-12)
    assert ex.value == pytest.approx(1 / (math.exp(-2 / SQRT3) + 2), rel=1e-6)
    assert np.float32(ex.value) == result.weights[0, 0, 1]
