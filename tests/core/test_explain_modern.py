"""Explain for modern attention: the RoPE rotation pair by pair, grouped heads, windows.
Every number below is worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from selfattn.explain import CellRef, explain_context, explain_score, explain_weight
from selfattn.preset import Options, Preset, Rope, compute

SIN1, COS1 = 0.8414709848078965, 0.5403023058681398


def flat(text: str) -> str:
    return " ".join(text.split())


def two_tokens(rope: Rope, dtype: str = "float64") -> Preset:
    """X = I, W_Q = W_K = W_V = I, d_k = 2, positions 0 and 1, scale none."""
    eye = np.eye(2)
    return Preset(
        inputs=eye, w_query=eye, w_key=eye, w_value=eye,
        options=Options(scale="none", rope=rope, dtype=dtype),
    )  # fmt: skip


def test_rope_weight_writes_out_each_rotated_pair_by_hand():
    """Query 2 = (0, 1) at position 1: angle 1 × inv_freq 1 = 1 rad, so
    rotated q1 = 0 cos 1 − 1 sin 1 = −0.8414709848, rotated q2 = 1 cos 1 + 0 sin 1 = 0.5403023059.
    Key 1 = (1, 0) at position 0: angle 0, cos 1, sin 0, unchanged.
    Score = −0.8414709848 × 1 + 0.5403023059 × 0 = −0.8414709848; the row's logits are
    (−sin 1, 1), so weight[2,1] = 1 / (1 + e^(1 + sin 1)) = 0.1368774147.
    """
    p = two_tokens(Rope())
    ex = explain_weight(p, compute(p), 0, 1, 0)
    rot_q, rot_k, dot = ex.steps[0], ex.steps[1], ex.steps[2]
    assert rot_q.label.startswith("Rotate Q row 2") and "position p = 1" in rot_q.label
    angle, u_cos, w_sin, first, w_cos, u_sin, second = rot_q.terms
    assert angle.operands == (1.0, 1.0) and angle.value == 1.0 and angle.op == "×"
    assert angle.label == "pair 1: angle"
    # rotated q1 = q1 cos − q2 sin = 0 × cos 1 + 1 × (−sin 1)
    assert (u_cos.label, u_cos.operands, u_cos.value) == ("q1 × cos", (0.0, COS1), 0.0)
    assert (w_sin.label, w_sin.operands, w_sin.value) == ("q2 × −sin", (1.0, -SIN1), -SIN1)
    assert first.label == "rotated q1 = sum" and first.value == pytest.approx(-SIN1, abs=1e-16)
    # rotated q2 = q2 cos + q1 sin = 1 × cos 1 + 0 × sin 1
    assert (w_cos.label, w_cos.operands, w_cos.value) == ("q2 × cos", (1.0, COS1), COS1)
    assert (u_sin.label, u_sin.operands, u_sin.value) == ("q1 × sin", (0.0, SIN1), 0.0)
    assert second.label == "rotated q2 = sum"
    assert second.value == pytest.approx(COS1, abs=1e-16)
    assert first.refs == (CellRef("q", None, 1, 0), CellRef("q_rot", None, 1, 0))
    assert u_cos.refs == (CellRef("q", None, 1, 0),) and w_sin.refs == (CellRef("q", None, 1, 1),)
    assert [t.value for t in rot_k.terms] == [0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0]  # angle 0
    assert rot_k.label.startswith("Rotate K row 1 (key 1 't1', key/value head 1)")
    assert "position p = 0" in rot_k.label
    assert dot.terms[0].refs == (CellRef("q_rot", None, 1, 0), CellRef("k_rot", None, 0, 0))
    assert dot.result == pytest.approx(-SIN1, abs=1e-16)
    assert ex.value == pytest.approx(1 / (1 + math.exp(1 + SIN1)), rel=1e-14)
    text = flat(ex.render())
    assert "q2 × −sin 1 × -0.8414709848 = -0.8414709848" in text
    assert "rotated q1 = sum = -0.8414709848" in text
    assert "q2 × cos 1 × 0.5403023059 = 0.5403023059" in text
    assert "rotated q2 = sum = 0.5403023059" in text
    assert "Q row 2 of head 1 before rotation: 0, 1" in text
    assert "rotQ[2,q1] × rotK[1,k1] -0.8414709848 × 1 = -0.8414709848" in text
    assert "theta = 10000 and r = 2" in text
    assert "recomputed here" not in text


def test_rope_pairs_are_named_by_the_layout():
    """d_k = 4, q = (1, 2, 3, 4) at position 2, inv_freq = (0.5, 0.25): angles 1 and 0.5.
    half pairs (q1, q3) and (q2, q4); interleaved pairs (q1, q2) and (q3, q4)."""
    x = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
    for style, pairs in (
        ("half", ["(q1, q3)", "(q2, q4)"]),
        ("interleaved", ["(q1, q2)", "(q3, q4)"]),
    ):
        p = Preset(
            inputs=x, w_query=np.eye(4), w_key=np.eye(4), w_value=np.eye(4),
            options=Options(rope=Rope(style=style, inv_freq=(0.5, 0.25))),
        )  # fmt: skip
        rot_q = explain_score(p, compute(p), 0, 2, 0).steps[0]
        u_name, w_name = pairs[0].strip("()").split(", ")
        assert [t.label for t in rot_q.terms[:4]] == [
            "pair 1: angle",
            f"{u_name} × cos",
            f"{w_name} × −sin",
            f"rotated {u_name} = sum",
        ]
        second = [t.label for t in rot_q.terms[7:9]]
        assert second[0] == "pair 2: angle"
        assert second[1] == f"{pairs[1].strip('()').split(', ')[0]} × cos"
        angles = [t.value for t in rot_q.terms if t.label.startswith("pair")]
        assert angles == [1.0, 0.5]
        u, w = (1.0, 3.0) if style == "half" else (1.0, 2.0)
        assert rot_q.terms[1].operands == (u, COS1)
        assert rot_q.terms[2].operands == (w, -SIN1)
        assert rot_q.terms[3].value == pytest.approx(u * COS1 - w * SIN1, rel=1e-15)
        assert "inv_freq as given" in flat(" ".join(rot_q.notes))


def test_partial_rotary_dims_say_which_columns_pass_unchanged():
    p = Preset(
        inputs=np.eye(2, 4), w_query=np.eye(4), w_key=np.eye(4), w_value=np.eye(4),
        options=Options(rope=Rope(dims=2)),
    )  # fmt: skip
    rot_q = explain_score(p, compute(p), 0, 1, 0).steps[0]
    assert len([t for t in rot_q.terms if t.label.startswith("pair")]) == 1
    assert "Columns q3..q4 are not rotated (dims = 2 of 4)." in rot_q.notes


def test_one_column_left_unrotated_is_named_alone():
    # d_k = 3 (the seed example's width) rotates one pair: q3 alone passes, not "q3..q3"
    p = Preset(
        inputs=np.eye(2, 3), w_query=np.eye(3), w_key=np.eye(3), w_value=np.eye(3),
        options=Options(rope=Rope(dims=2)),
    )  # fmt: skip
    rot_q = explain_score(p, compute(p), 0, 1, 0).steps[0]
    assert "Column q3 is not rotated (dims = 2 of 3)." in rot_q.notes
    assert not any(".." in note for note in rot_q.notes if "not rotated" in note)


def test_float32_rotation_is_explained_with_its_own_rounding():
    p = two_tokens(Rope(theta=3.0), dtype="float32")
    ex = explain_weight(p, compute(p), 0, 1, 0)
    assert "recomputed here" not in ex.render()
    w_cos = ex.steps[0].terms[4]  # q2 × cos: q2 = 1
    assert w_cos.operands == (1.0, float(np.float32(COS1)))


# Grouped heads -------------------------------------------------------------------------


def grouped() -> Preset:
    """H = 2, G = 1, d_k = d_v = 1: X = I, W_Q = [[1, 0], [0, 2]], k = (1, 1), v = (3, 5).
    Head 2 of query 2: q = 2, key 1's k = 1 (key/value head 1's only column): score 2."""
    return Preset(
        inputs=np.eye(2), w_query=[[1, 0], [0, 2]], w_key=[[1], [1]], w_value=[[3], [5]],
        options=Options(heads=2, kv_heads=1, scale="none"),
    )  # fmt: skip


def test_grouped_head_takes_k_from_its_shared_key_value_head():
    p = grouped()
    ex = explain_score(p, compute(p), 1, 1, 0)
    (dot,) = ex.steps
    assert dot.terms[0].operands == (2.0, 1.0) and dot.result == 2.0
    assert dot.terms[0].refs == (CellRef("q", None, 1, 1), CellRef("k", None, 0, 0))
    text = flat(ex.render())
    assert "query head 2 reads key/value head 1 of 1, which query heads 1..2 share" in text
    assert "key/value head 1's k1" in text


def test_grouped_head_context_reads_the_shared_values():
    """Every weight is 1/2 (equal scores in each row), so context = (3 + 5) / 2 = 4."""
    p = grouped()
    ex = explain_context(p, compute(p), 1, 0, 0)
    assert [t.operands for t in ex.steps[0].terms] == [(0.5, 3.0), (0.5, 5.0)]
    assert [t.refs[1] for t in ex.steps[0].terms] == [
        CellRef("v", None, 0, 0),
        CellRef("v", None, 1, 0),
    ]
    assert ex.value == 4.0
    assert "reads key/value head 1" in flat(ex.render())


def test_plain_heads_say_nothing_about_groups():
    p = (
        grouped()
        .with_options(kv_heads=None)
        .replace(w_key=[[1, 1], [1, 1]], w_value=[[3, 3], [5, 5]])
    )
    assert "key/value head" not in explain_weight(p, compute(p), 1, 1, 0).render()


# Windows -------------------------------------------------------------------------------


def windowed(causal: bool) -> Preset:
    return Preset(
        inputs=np.eye(4), w_query=np.eye(4), w_key=np.eye(4), w_value=np.eye(4),
        options=Options(causal=causal, window=2),
    )  # fmt: skip


def test_window_masked_cell_names_the_window_rule():
    """Causal, w = 2, positions 0..3: query 4 (p = 3) sees keys after 3 − 2 = 1 only,
    so key 1 (p = 0) is hidden by the window, not by the causal mask."""
    p = windowed(causal=True)
    text = flat(explain_weight(p, compute(p), 0, 3, 0).render())
    assert "Window: key 1 at position 0, query 4 't4' at position 3" in text
    assert "only after position p − w = 1, and 0 ≤ 1" in text
    assert "Causal mask" not in text


def test_window_without_causal_hides_keys_too_far_ahead():
    """No causal, w = 2: query 1 (p = 0) sees keys before 0 + 2 = 2; key 4 (p = 3) is hidden."""
    p = windowed(causal=False)
    text = flat(explain_weight(p, compute(p), 0, 0, 3).render())
    assert "before position p + w = 2 only, and 3 ≥ 2" in text


def test_a_future_key_inside_the_window_is_blamed_on_the_causal_mask():
    p = windowed(causal=True)
    text = flat(explain_weight(p, compute(p), 0, 1, 2).render())
    assert "Causal mask" in text and "Window" not in text


def test_a_64_wide_rope_head_reads_at_the_default_explain_width():
    """A SmolLM2-sized head (d_k = 64, theta 100000): every line of both rotations fits
    80 characters (the Explain panel shows about 70-80), ten digits kept."""
    rng = np.random.default_rng(7)
    n, d = 9, 64
    p = Preset(
        inputs=rng.normal(size=(n, d)), w_query=rng.normal(size=(d, d)) / 8,
        w_key=rng.normal(size=(d, d)) / 8, w_value=np.eye(d),
        options=Options(causal=True, rope=Rope(theta=100000.0)),
    )  # fmt: skip
    ex = explain_weight(p, compute(p), 0, 7, 3)
    lines = ex.render(width=76).splitlines()
    rotation = lines[: next(i for i, t in enumerate(lines) if t.startswith("3. "))]
    assert len(rotation) > 2 * 32 * 7  # both rows, 32 pairs each, 7 lines a pair
    assert max(len(t) for t in rotation) <= 80
    assert "pair 32: angle" in "\n".join(rotation)
