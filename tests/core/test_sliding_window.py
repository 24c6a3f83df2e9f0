"""Sliding-window masks: key j is visible to query i only if p_i - w < p_j, and
p_j <= p_i with causal or |p_i - p_j| < w without (DESIGN.md, "Semantics")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from modern_reference import naive_modern

from selfattn import AttentionError, attention
from selfattn.preset import Options, Preset, Rope, compute


def layer(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), *(rng.standard_normal((3, 2)) for _ in range(3))


def test_causal_window_of_two_sees_itself_and_the_previous_token():
    r = attention(*layer(5), causal=True, window=2)
    expected = [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [0, 1, 1, 0, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 0, 1, 1],
    ]
    np.testing.assert_array_equal(r.mask, np.array(expected, dtype=bool))
    np.testing.assert_array_equal(r.weights[0] > 0, r.mask)
    np.testing.assert_allclose(r.weights.sum(axis=2), 1.0, rtol=1e-15)


def test_window_without_causal_is_symmetric():
    r = attention(*layer(5), window=2)
    expected = [
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 1, 1],
        [0, 0, 0, 1, 1],
    ]
    np.testing.assert_array_equal(r.mask, np.array(expected, dtype=bool))


def test_window_counts_positions_not_rows():
    """Positions 0, 1, 5, 6, 7 and w = 3 with causal: p_i - 3 < p_j <= p_i.

    Query at 5 sees keys in (2, 5]: only itself; at 6 sees 5 and 6; at 7 sees 5, 6, 7.
    """
    r = attention(*layer(5), causal=True, window=3, positions=(0, 1, 5, 6, 7))
    expected = [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 1, 1, 1],
    ]
    np.testing.assert_array_equal(r.mask, np.array(expected, dtype=bool))


def test_window_reads_rope_positions_from_a_preset():
    x, w_q, w_k, w_v = layer(5)
    preset = Preset(
        inputs=x, w_query=w_q, w_key=w_k, w_value=w_v,
        options=Options(causal=True, window=3, rope=Rope(positions=(0, 1, 5, 6, 7))),
    )  # fmt: skip
    assert compute(preset).mask[2].tolist() == [False, False, True, False, False]


def test_window_wider_than_the_sequence_changes_nothing():
    x, w_q, w_k, w_v = layer(4)
    plain = attention(x, w_q, w_k, w_v, causal=True)
    plain_weights = plain.weights.copy()
    wide = attention(x, w_q, w_k, w_v, causal=True, window=4)
    np.testing.assert_array_equal(wide.weights, plain_weights)


def test_cross_attention_query_outside_every_window_is_fully_masked():
    """Keys at 0..3, queries at 0 and 10, w = 2, no causal: query 2 sees nothing."""
    rng = np.random.default_rng(1)
    x, xs = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    w = rng.standard_normal((3, 2))
    r = attention(x, w, w, w, source=xs, window=2, positions=(0, 10))
    assert r.mask[0].tolist() == [True, True, False, False]
    assert r.fully_masked.tolist() == [False, True]
    np.testing.assert_array_equal(r.weights[0, 1], 0.0)
    np.testing.assert_array_equal(r.context[0, 1], 0.0)


@pytest.mark.parametrize("window", [0, -1, True, 2.5])
def test_bad_window_is_refused(window):
    with pytest.raises(AttentionError, match="window must be a positive integer"):
        attention(*layer(3), window=window)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 7),
    st.booleans(),
    st.lists(st.booleans(), min_size=6, max_size=6),
    st.integers(0, 2**16),
)
def test_window_matches_the_loop_reference(n, window, causal, key_mask, seed):
    x, w_q, w_k, w_v = layer(n, seed)
    mask = key_mask[:n]
    r = attention(x, w_q, w_k, w_v, window=window, causal=causal, key_mask=mask)
    _, weights, context = naive_modern(
        x, w_q, w_k, w_v, heads=1, window=window, causal=causal, key_mask=mask
    )
    np.testing.assert_allclose(r.weights, weights, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(r.context, context, rtol=1e-12, atol=1e-12)
