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
    angle, cos, sin, first, second = rot_q.terms
    assert angle.operands == (1.0, 1.0) and angle.value == 1.0 and angle.op == "×"
    assert cos.value == COS1 and sin.value == SIN1
    assert first.operands == (0.0, COS1, 1.0, SIN1) and first.op == "rot−"
    assert first.value == pytest.approx(-SIN1, abs=1e-16)
    assert second.operands == (1.0, COS1, 0.0, SIN1) and second.op == "rot+"
    assert second.value == pytest.approx(COS1, abs=1e-16)
    assert first.refs == (CellRef("q", None, 1, 0), CellRef("q_rot", None, 1, 0))
    assert [t.value for t in rot_k.terms] == [0.0, 1.0, 0.0, 1.0, 0.0]  # angle 0: unchanged
    assert rot_k.label.startswith("Rotate K row 1 (key 1 't1', key/value head 1)")
    assert "position p = 0" in rot_k.label
    assert dot.terms[0].refs == (CellRef("q_rot", None, 1, 0), CellRef("k_rot", None, 0, 0))
    assert dot.result == pytest.approx(-SIN1, abs=1e-16)
    assert ex.value == pytest.approx(1 / (1 + math.exp(1 + SIN1)), rel=1e-14)
    text = flat(ex.render())
    assert "0 × 0.5403023059 − 1 × 0.8414709848 = -0.8414709848" in text
    assert "1 × 0.5403023059 + 0 × 0.8414709848 = 0.5403023059" in text
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
        labels = [t.label for t in rot_q.terms if t.label.startswith("pair")]
        assert [label.split(":")[0] for label in labels] == [
            f"pair 1 {pairs[0]}",
            f"pair 2 {pairs[1]}",
        ]
        angles = [t.value for t in rot_q.terms if t.label.startswith("pair")]
        assert angles == [1.0, 0.5]
        u, w = (1.0, 3.0) if style == "half" else (1.0, 2.0)
        first = rot_q.terms[3]
        assert first.operands == (u, COS1, w, SIN1)
        assert first.value == pytest.approx(u * COS1 - w * SIN1, rel=1e-15)
        assert "inv_freq as given" in flat(" ".join(rot_q.notes))


def test_partial_rotary_dims_say_which_columns_pass_unchanged():
    p = Preset(
        inputs=np.eye(2, 4), w_query=np.eye(4), w_key=np.eye(4), w_value=np.eye(4),
        options=Options(rope=Rope(dims=2)),
    )  # fmt: skip
    rot_q = explain_score(p, compute(p), 0, 1, 0).steps[0]
    assert len([t for t in rot_q.terms if t.label.startswith("pair")]) == 1
    assert "Columns q3..q4 are not rotated (dims = 2 of 4)." in rot_q.notes


def test_float32_rotation_is_explained_with_its_own_rounding():
    p = two_tokens(Rope(theta=3.0), dtype="float32")
    ex = explain_weight(p, compute(p), 0, 1, 0)
    assert "recomputed here" not in ex.render()
    cos = ex.steps[0].terms[1].value
    assert cos == float(np.float32(COS1))


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
