"""Grouped-query attention (kv_heads): query head h reads key/value head h // (H / G)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from modern_reference import naive_modern

from selfattn import AttentionError, Biases, attention

FIELDS = ("q", "k", "v", "scores", "scaled_scores", "weights", "context", "output", "mask")


def grouped_layer(n, d_model, heads, kv_heads, d_k, d_v, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n, d_model)),
        rng.standard_normal((d_model, heads * d_k)),
        rng.standard_normal((d_model, kv_heads * d_k)),
        rng.standard_normal((d_model, kv_heads * d_v)),
    )


@pytest.mark.parametrize(
    ("heads", "kv_heads", "causal"),
    [(4, 2, False), (6, 3, True), (4, 1, False), (3, 1, True), (2, 2, False)],
)
def test_grouped_heads_match_a_naive_loop(heads, kv_heads, causal):
    x, w_q, w_k, w_v = grouped_layer(5, 4, heads, kv_heads, 3, 2, seed=heads + kv_heads)
    r = attention(x, w_q, w_k, w_v, heads=heads, kv_heads=kv_heads, causal=causal)
    scores, weights, context = naive_modern(
        x, w_q, w_k, w_v, heads=heads, kv_heads=kv_heads, causal=causal
    )
    np.testing.assert_allclose(r.scores, scores, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r.weights, weights, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r.context, context, rtol=1e-12, atol=1e-12)
    assert r.kv_heads == kv_heads
    assert r.k.shape == (5, kv_heads * 3) and r.v.shape == (5, kv_heads * 2)
    assert r.context.shape == (heads, 5, 2)


def test_query_heads_of_one_group_share_keys_and_values_by_hand():
    """H=2, G=1, d_k=d_v=1: both heads read the only key/value column.

    X = I (2 tokens), W_Q = [[1, 0], [0, 2]] (head 1 reads x1, head 2 reads 2*x2),
    W_K = [[1], [1]] so k = (1, 1), W_V = [[3], [5]] so v = (3, 5).
    Head 1: q = (1, 0), scores [[1, 1], [0, 0]]; head 2: q = (0, 2), scores [[0, 0], [2, 2]].
    Every key has the same score within a row, so every weight is 1/2 and every context
    is (3 + 5) / 2 = 4.
    """
    r = attention(
        np.eye(2), [[1, 0], [0, 2]], [[1], [1]], [[3], [5]], heads=2, kv_heads=1, scale="none"
    )
    np.testing.assert_array_equal(r.scores, [[[1, 1], [0, 0]], [[0, 0], [2, 2]]])
    np.testing.assert_array_equal(r.weights, np.full((2, 2, 2), 0.5))
    np.testing.assert_array_equal(r.context, np.full((2, 2, 1), 4.0))
    assert [r.kv_head(h) for h in range(2)] == [0, 0]
    assert r.group_size == 2


def test_kv_head_of_each_query_head_follows_repeat_kv():
    x, w_q, w_k, w_v = grouped_layer(2, 2, 6, 2, 1, 1)
    r = attention(x, w_q, w_k, w_v, heads=6, kv_heads=2)
    assert [r.kv_head(h) for h in range(6)] == [0, 0, 0, 1, 1, 1]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 3),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["float64", "float32"]),
    st.integers(0, 2**16),
)
def test_kv_heads_equal_to_heads_is_bit_identical_to_plain_heads(
    n, heads, causal, biases, dtype, seed
):
    x, w_q, w_k, w_v = grouped_layer(n, 3, heads, heads, 2, 2, seed=seed)
    rng = np.random.default_rng(seed + 1)
    b = (
        Biases(*(rng.standard_normal(heads * 2) for _ in range(3)), rng.standard_normal(3))
        if biases
        else None
    )
    w_o = rng.standard_normal((heads * 2, 3))
    kwargs = {"heads": heads, "causal": causal, "biases": b, "w_o": w_o, "dtype": dtype}
    plain = attention(x, w_q, w_k, w_v, **kwargs)
    plain_fields = {f: getattr(plain, f).copy() for f in FIELDS}
    grouped = attention(x, w_q, w_k, w_v, kv_heads=heads, **kwargs)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(grouped, f), plain_fields[f], err_msg=f)


def test_grouped_biases_have_kv_heads_widths():
    x, w_q, w_k, w_v = grouped_layer(3, 2, 4, 2, 1, 1)
    b = Biases(query=np.ones(4), key=np.ones(2), value=np.ones(2))
    r = attention(x, w_q, w_k, w_v, heads=4, kv_heads=2, biases=b)
    np.testing.assert_allclose(r.k, x @ w_k + 1)
    with pytest.raises(AttentionError, match="b_K must have length 2"):
        attention(x, w_q, w_k, w_v, heads=4, kv_heads=2, biases=Biases(key=np.ones(4)))


@pytest.mark.parametrize(
    ("heads", "kv_heads", "k_cols", "v_cols", "message"),
    [
        (4, 3, 3, 3, "kv_heads=3 must divide heads=4"),
        (4, 0, 2, 2, "kv_heads must be a positive integer"),
        (4, 2, 4, 2, "W_K has 4 columns, expected kv_heads*d_k=2*1=2"),
        (4, 2, 2, 3, "kv_heads=2 must divide the value width 3"),
    ],
)
def test_bad_grouping_is_refused(heads, kv_heads, k_cols, v_cols, message):
    rng = np.random.default_rng(0)
    with pytest.raises(AttentionError, match=re.escape(message)):
        attention(
            rng.standard_normal((2, 2)),
            rng.standard_normal((2, 4)),
            rng.standard_normal((2, k_cols)),
            rng.standard_normal((2, v_cols)),
            heads=heads,
            kv_heads=kv_heads,
        )


def test_output_projection_takes_all_query_heads_contexts():
    x, w_q, w_k, w_v = grouped_layer(3, 4, 4, 2, 2, 3, seed=9)
    w_o = np.random.default_rng(10).standard_normal((4 * 3, 5))
    r = attention(x, w_q, w_k, w_v, heads=4, kv_heads=2, w_o=w_o)
    _, _, context = naive_modern(x, w_q, w_k, w_v, heads=4, kv_heads=2)
    concat = np.concatenate([np.array(c) for c in context], axis=1)
    np.testing.assert_allclose(r.output, concat @ w_o, rtol=1e-12, atol=1e-12)
