"""Rotary position embeddings: hand-worked numbers, the two layouts against each other,
a loop reference, and properties (norms kept, only relative positions matter)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from modern_reference import naive_modern

from selfattn import AttentionError, attention
from selfattn.preset import Options, Preset, Rope, compute
from selfattn.rope import apply_rope, default_inv_freq, rope_angles

SIN1, COS1 = 0.8414709848078965, 0.5403023058681398  # sin(1), cos(1) to 16 digits


def test_default_inv_freq_by_hand():
    # theta^(-2i/r): r = 4, theta = 10000 -> 1, 10000^(-1/2) = 0.01
    np.testing.assert_allclose(default_inv_freq(4, 10000.0), [1.0, 0.01], rtol=1e-15)
    # r = 8, theta = 100 -> 100^0, 100^-0.25, 100^-0.5, 100^-0.75
    np.testing.assert_allclose(
        default_inv_freq(8, 100.0), [1.0, 0.31622776601683794, 0.1, 0.03162277660168379], rtol=1e-15
    )
    assert default_inv_freq(4, 10000.0).dtype == np.float64


def test_rope_angles_are_position_times_frequency():
    np.testing.assert_array_equal(
        rope_angles(np.array([0, 1, 3]), np.array([1.0, 0.5])),
        [[0.0, 0.0], [1.0, 0.5], [3.0, 1.5]],
    )


def test_two_tokens_d_k_2_by_hand():
    """X = I, W_Q = W_K = I, d_k = 2, positions 0 and 1, inv_freq = [1] (theta^0).

    q_1 = k_1 = (1, 0) sits at position 0: angle 0, unchanged.
    q_2 = k_2 = (0, 1) sits at position 1: angle 1 rad, (u, w) = (0, 1) becomes
    (0 cos 1 - 1 sin 1, 1 cos 1 + 0 sin 1) = (-sin 1, cos 1) = (-0.84147, 0.54030).
    Raw scores: q1.k1 = 1, q1.k2 = -sin 1, q2.k1 = -sin 1, q2.k2 = sin^2 + cos^2 = 1.
    With scale "none", row 1's weights are softmax(1, -sin 1):
    w12 = 1 / (1 + e^(1 + sin 1)) = 1 / (1 + 6.3058071887) = 0.1368774147
    """
    for style in ("half", "interleaved"):  # with one pair both layouts are the same
        r = attention(
            np.eye(2),
            np.eye(2),
            np.eye(2),
            np.eye(2),
            rope=Rope(style=style),
            scale="none",
        )
        np.testing.assert_allclose(r.q_rot, [[1, 0], [-SIN1, COS1]], rtol=0, atol=1e-16)
        np.testing.assert_allclose(r.k_rot, [[1, 0], [-SIN1, COS1]], rtol=0, atol=1e-16)
        np.testing.assert_array_equal(r.q, np.eye(2))  # q before rotation is kept
        np.testing.assert_allclose(r.scores, [[[1, -SIN1], [-SIN1, 1]]], rtol=1e-15, atol=1e-16)
        w12 = 1 / (1 + math.exp(1 + SIN1))
        np.testing.assert_allclose(r.weights[0, 0], [1 - w12, w12], rtol=1e-14)
        assert abs(w12 - 0.13687741466075895) < 1e-15
        np.testing.assert_array_equal(r.positions, [0, 1])


def test_apply_rope_pairs_by_layout_by_hand():
    """x = (1, 2, 3, 4) at position 1, inv_freq = (1, 0.01): angles 1 and 0.01.

    half: pairs (x1, x3) = (1, 3) by 1 rad and (x2, x4) = (2, 4) by 0.01 rad;
    interleaved: pairs (x1, x2) = (1, 2) by 1 rad and (x3, x4) = (3, 4) by 0.01 rad.
    """
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    angles = np.array([[1.0, 0.01]])
    c, s = math.cos(0.01), math.sin(0.01)
    half = apply_rope(x, angles, "half")
    np.testing.assert_allclose(
        half[0], [COS1 - 3 * SIN1, 2 * c - 4 * s, 3 * COS1 + SIN1, 4 * c + 2 * s], rtol=1e-15
    )
    inter = apply_rope(x, angles, "interleaved")
    np.testing.assert_allclose(
        inter[0], [COS1 - 2 * SIN1, 2 * COS1 + SIN1, 3 * c - 4 * s, 4 * c + 3 * s], rtol=1e-15
    )
    np.testing.assert_array_equal(x, [[1, 2, 3, 4]])  # a new array; x untouched


def test_columns_beyond_the_rotary_dims_pass_unchanged():
    x = np.arange(1.0, 7.0).reshape(1, 6)
    out = apply_rope(x, np.array([[0.7, 0.3]]), "half")  # r = 4 of 6 columns
    np.testing.assert_array_equal(out[0, 4:], [5, 6])
    r = attention(
        np.eye(3),
        np.arange(18.0).reshape(3, 6) / 10,
        np.arange(18.0).reshape(3, 6) / 7,
        np.eye(3),
        rope=Rope(dims=2),
    )
    np.testing.assert_array_equal(r.q_rot[:, 2:], r.q[:, 2:])
    np.testing.assert_array_equal(r.k_rot[:, 2:], r.k[:, 2:])


def half_from_interleaved(w, heads, d_k, r):
    """Columns of each head reordered so that "half" pairs are "interleaved" pairs.

    Interleaved pair i is (2i, 2i+1); half pair i is (i, i + r/2). Putting column 2i at
    i and column 2i+1 at i + r/2 turns one layout into the other.
    """
    perm = [2 * i for i in range(r // 2)] + [2 * i + 1 for i in range(r // 2)]
    perm += list(range(r, d_k))
    order = [h * d_k + p for h in range(heads) for p in perm]
    return w[:, order], order


@pytest.mark.parametrize(("heads", "kv_heads", "d_k", "dims"), [(1, 1, 4, None), (2, 1, 6, 4)])
def test_both_layouts_give_the_same_attention_through_the_pair_permutation(
    heads, kv_heads, d_k, dims
):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5))
    w_q = rng.standard_normal((5, heads * d_k))
    w_k = rng.standard_normal((5, kv_heads * d_k))
    w_v = rng.standard_normal((5, kv_heads * 3))
    r = d_k if dims is None else dims
    inter = attention(
        x, w_q, w_k, w_v, heads=heads, kv_heads=kv_heads,
        rope=Rope(style="interleaved", theta=50.0, dims=dims), causal=True,
    )  # fmt: skip
    w_q2, q_order = half_from_interleaved(w_q, heads, d_k, r)
    w_k2, k_order = half_from_interleaved(w_k, kv_heads, d_k, r)
    half = attention(
        x, w_q2, w_k2, w_v, heads=heads, kv_heads=kv_heads,
        rope=Rope(style="half", theta=50.0, dims=dims), causal=True,
    )  # fmt: skip
    # Each rotated pair is the same arithmetic, so the rotated columns agree exactly.
    np.testing.assert_array_equal(half.q_rot, inter.q_rot[:, q_order])
    np.testing.assert_array_equal(half.k_rot, inter.k_rot[:, k_order])
    np.testing.assert_allclose(half.scores, inter.scores, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(half.weights, inter.weights, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(half.context, inter.context, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("style", ["half", "interleaved"])
def test_rope_with_grouped_heads_and_positions_matches_a_naive_loop(style):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 4))
    w_q, w_k, w_v = (rng.standard_normal((4, c)) for c in (4 * 4, 2 * 4, 2 * 3))
    positions = (3, 4, 7, 8, 20)
    inv_freq = (0.9, 0.05)  # explicit frequencies override theta; dims 4 of d_k 4
    r = attention(
        x, w_q, w_k, w_v, heads=4, kv_heads=2, causal=True,
        rope=Rope(style=style, theta=123.0, inv_freq=inv_freq, positions=positions),
    )  # fmt: skip
    scores, weights, context = naive_modern(
        x, w_q, w_k, w_v, heads=4, kv_heads=2, causal=True,
        rope_style=style, inv_freq=list(inv_freq), positions=positions,
    )  # fmt: skip
    np.testing.assert_allclose(r.scores, scores, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.weights, weights, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r.context, context, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(r.positions, positions)
    np.testing.assert_array_equal(r.key_positions, positions)  # self-attention


def test_cross_attention_keys_use_the_source_positions():
    rng = np.random.default_rng(12)
    x, xs = rng.standard_normal((3, 4)), rng.standard_normal((4, 4))
    w_q, w_k, w_v = (rng.standard_normal((4, 4)) for _ in range(3))
    preset = Preset(
        inputs=x, w_query=w_q, w_key=w_k, w_value=w_v, source_inputs=xs,
        source_positions=(10, 11, 12, 13),
        options=Options(rope=Rope(style="interleaved", positions=(12, 13, 14))),
    )  # fmt: skip
    r = compute(preset)
    _, weights, _ = naive_modern(
        x, w_q, w_k, w_v, heads=1, source=xs, rope_style="interleaved",
        inv_freq=[1.0, 0.01], positions=(12, 13, 14), key_positions=(10, 11, 12, 13),
    )  # fmt: skip
    np.testing.assert_allclose(r.weights, weights, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(r.key_positions, [10, 11, 12, 13])
    default_keys = compute(preset.replace(source_positions=None))
    np.testing.assert_array_equal(default_keys.key_positions, [0, 1, 2, 3])


def test_float32_heads_are_rotated_in_float32():
    r = attention(np.eye(2), np.eye(2), np.eye(2), np.eye(2), rope=Rope(), dtype="float32")
    assert r.q_rot.dtype == np.float32 and r.k_rot.dtype == np.float32
    np.testing.assert_allclose(r.q_rot, [[1, 0], [-SIN1, COS1]], rtol=1e-7, atol=1e-7)


def test_rope_off_keeps_no_rotated_arrays():
    r = attention(np.eye(2), np.eye(2), np.eye(2), np.eye(2))
    assert r.q_rot is None and r.k_rot is None and not r.has_rope


@pytest.mark.parametrize(
    ("rope", "w_width", "message"),
    [
        (Rope(style="spiral"), 4, "style"),
        (Rope(dims=3), 4, "even"),
        (Rope(dims=6), 4, "exceed the head width d_k=4"),
        (Rope(), 3, r"even and at least 2, got 3 \(d_k\)"),
        (Rope(inv_freq=(1.0,)), 4, "inv_freq: has 1 numbers, expected 2"),
        (Rope(inv_freq=(1.0, -0.5)), 4, r"inv_freq\[1\]: must be a positive"),
        (Rope(theta=0.0), 4, "theta: must be a positive"),
        (Rope(positions=(0, 1)), 4, "positions has 2 entries, expected 3"),
        (Rope(positions=(0, -1, 2)), 4, r"positions\[1\]: position -1 is outside"),
        (Rope(positions=(0, 1.5, 2)), 4, r"positions\[1\]: expected a whole number"),
    ],
)
def test_bad_rope_settings_are_refused(rope, w_width, message):
    w = np.ones((2, w_width))
    with pytest.raises(AttentionError, match=message):
        attention(np.ones((3, 2)), w, w, w, rope=rope)


# Properties -----------------------------------------------------------------

FINITE = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 3).map(lambda h: 2 * h)),
               elements=FINITE),
    st.lists(st.integers(0, 10**6), min_size=4, max_size=4),
    st.sampled_from(["half", "interleaved"]),
    st.floats(1.0, 1e6),
)  # fmt: skip
def test_rotation_keeps_vector_norms(x, positions, style, theta):
    n, d = x.shape
    angles = rope_angles(np.array(positions[:n]), default_inv_freq(d, theta))
    out = apply_rope(x, angles, style)
    np.testing.assert_allclose(
        np.linalg.norm(out, axis=1), np.linalg.norm(x, axis=1), rtol=1e-12, atol=1e-9
    )


def small_layer(seed, n=4, d_model=3, d_k=4):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n, d_model)),
        *(rng.standard_normal((d_model, d_k)) for _ in range(3)),
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**16), st.integers(0, 10**5), st.sampled_from(["half", "interleaved"]))
def test_scores_depend_only_on_relative_positions(seed, shift, style):
    """Moving every token by the same number of positions changes no score (RoPE's point)."""
    x, w_q, w_k, w_v = small_layer(seed)
    base = attention(x, w_q, w_k, w_v, rope=Rope(style=style, positions=(0, 1, 2, 5)))
    moved = (shift, shift + 1, shift + 2, shift + 5)
    shifted = attention(x, w_q, w_k, w_v, rope=Rope(style=style, positions=moved))
    np.testing.assert_allclose(shifted.scores, base.scores, rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**16), st.sampled_from(["half", "interleaved"]))
def test_every_token_at_position_zero_gives_plain_attention_bit_for_bit(seed, style):
    x, w_q, w_k, w_v = small_layer(seed)
    plain = attention(x, w_q, w_k, w_v, causal=True)
    plain_weights = plain.weights.copy()
    rotated = attention(x, w_q, w_k, w_v, causal=True, rope=Rope(style=style, positions=(0,) * 4))
    np.testing.assert_array_equal(rotated.weights, plain_weights)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**16), st.sampled_from(["half", "interleaved"]))
def test_theta_to_infinity_leaves_only_the_first_pair_turning(seed, style):
    """inv_freq_i = theta^(-2i/r): as theta grows every pair but the first (i = 0, whose
    frequency is theta^0 = 1 for any theta) stops turning, so a huge theta gives the
    attention of rotating the first pair alone; and frequencies -> 0 give plain attention."""
    x, w_q, w_k, w_v = small_layer(seed, d_k=6)
    huge = attention(x, w_q, w_k, w_v, rope=Rope(style=style, theta=1e300))
    first_only = attention(x, w_q, w_k, w_v, rope=Rope(style=style, inv_freq=(1.0, 1e-300, 1e-300)))
    np.testing.assert_allclose(huge.weights, first_only.weights, rtol=1e-12, atol=1e-15)
    plain = attention(x, w_q, w_k, w_v)
    still = attention(x, w_q, w_k, w_v, rope=Rope(style=style, inv_freq=(1e-300,) * 3))
    np.testing.assert_allclose(still.weights, plain.weights, rtol=1e-12, atol=1e-15)
