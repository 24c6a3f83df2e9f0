"""Properties attention must have for any input (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selfattn import Biases, attention, masked_softmax
from selfattn.attention import build_mask


def matrices(rows: int, cols: int, bound: float = 2.0) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(
        np.float64, (rows, cols), elements=st.floats(-bound, bound, allow_nan=False, width=64)
    )


@st.composite
def layers(draw, bound: float = 2.0, allow_causal: bool = True):
    """A random self-attention layer as attention() keyword arguments."""
    n = draw(st.integers(1, 6))
    d_model = draw(st.integers(1, 4))
    heads = draw(st.integers(1, 3))
    d_k = draw(st.integers(1, 3))
    d_v = draw(st.integers(1, 3))
    with_wo = draw(st.booleans())
    return {
        "x": draw(matrices(n, d_model, bound)),
        "w_q": draw(matrices(d_model, heads * d_k, bound)),
        "w_k": draw(matrices(d_model, heads * d_k, bound)),
        "w_v": draw(matrices(d_model, heads * d_v, bound)),
        "w_o": draw(matrices(heads * d_v, draw(st.integers(1, 3)), bound)) if with_wo else None,
        "heads": heads,
        "scale": draw(st.sampled_from(["sqrt_dk", "none", 0.5, 3.0])),
        "temperature": draw(st.sampled_from([1.0, 0.5, 2.0])),
        "causal": draw(st.booleans()) if allow_causal else False,
        "key_mask": draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n))),
    }


def _call(spec: dict, **overrides):
    args = {**spec, **overrides}
    return attention(args.pop("x"), args.pop("w_q"), args.pop("w_k"), args.pop("w_v"), **args)


@given(layers(bound=30.0))
def test_weight_rows_sum_to_one_or_zero_when_fully_masked(spec):
    r = _call(spec)
    sums = r.weights.sum(axis=-1)  # (H, n)
    expected = np.where(r.fully_masked, 0.0, 1.0)
    np.testing.assert_allclose(sums, np.broadcast_to(expected, sums.shape), rtol=0, atol=1e-12)
    assert (r.weights >= 0).all()
    assert np.isfinite(r.weights).all() and np.isfinite(r.output).all()
    # Masked cells carry exactly zero weight and -inf logits; visible ones finite logits.
    hidden = ~r.mask
    assert (r.weights[:, hidden] == 0).all()
    assert np.isneginf(r.scaled_scores[:, hidden]).all()
    assert np.isfinite(r.scaled_scores[:, r.mask]).all()
    np.testing.assert_array_equal(r.fully_masked, ~r.mask.any(axis=1))


@given(layers(allow_causal=False), st.randoms(use_true_random=False))
def test_permuting_tokens_permutes_output_rows(spec, rnd):
    n = spec["x"].shape[0]
    perm = list(range(n))
    rnd.shuffle(perm)
    base = _call(spec)
    key_mask = spec["key_mask"]
    moved = _call(
        spec,
        x=spec["x"][perm],
        key_mask=None if key_mask is None else [key_mask[p] for p in perm],
    )
    np.testing.assert_allclose(moved.output, base.output[perm], rtol=1e-12, atol=1e-12)
    # Weights move on both axes: queries and keys are the same tokens.
    np.testing.assert_allclose(
        moved.weights, base.weights[:, perm][:, :, perm], rtol=1e-12, atol=1e-14
    )


def softmax_through_attention(logits, shift=None, key_mask=None, causal=False):
    """Row softmax of `logits` (n, m) (+ a per-row `shift`, (n,)) as production computes it.

    X = [L | c] with W_Q = I gives q_i = (L_i, c_i); m source tokens [e_j | 1] with W_K = I
    give k_j = (e_j, 1): with scale "none" the logits are exactly L_ij + c_i.
    """
    n, m = logits.shape
    c = np.zeros(n) if shift is None else shift
    x = np.hstack([logits, c[:, None]])
    source = np.hstack([np.eye(m), np.ones((m, 1))])
    eye = np.eye(m + 1)
    r = attention(
        x, eye, eye, np.eye(m + 1, 1), source=source, scale="none", key_mask=key_mask,
        causal=causal,
    )  # fmt: skip
    return r


@given(
    hnp.arrays(np.float64, (3, 5), elements=st.floats(-50, 50, width=64)),
    hnp.arrays(np.float64, (3,), elements=st.floats(-1e3, 1e3, width=64)),
    st.lists(st.booleans(), min_size=5, max_size=5),
    st.booleans(),
)
def test_adding_a_constant_to_a_row_of_logits_changes_nothing(logits, shift, key_mask, causal):
    base = softmax_through_attention(logits, key_mask=key_mask, causal=causal)
    np.testing.assert_array_equal(base.scaled_scores[0][base.mask], logits[base.mask])
    shifted = softmax_through_attention(logits, shift, key_mask=key_mask, causal=causal)
    np.testing.assert_allclose(shifted.weights, base.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(shifted.weights[0][~base.mask], 0.0)


@given(layers(), st.data())
def test_a_key_bias_shifts_each_query_row_by_a_constant_and_changes_nothing(spec, data):
    # k_j + b adds q_i . b to every logit of query i: a per-row constant.
    width = spec["w_k"].shape[1]
    b_k = data.draw(hnp.arrays(np.float64, (width,), elements=st.floats(-5, 5, width=64)))
    base = _call(spec)
    shifted = _call(spec, biases=Biases(key=b_k))
    np.testing.assert_allclose(shifted.weights, base.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(shifted.output, base.output, rtol=1e-9, atol=1e-9)


@given(layers())
def test_float32_and_float64_agree_to_float32_precision(spec):
    r64 = _call(spec, dtype="float64")
    r32 = _call(spec, dtype="float32")
    eps32 = float(np.finfo(np.float32).eps)
    d_model = spec["x"].shape[1]
    # Error budget: each logit is a sum of d_k products of Q and K entries, each of those a
    # sum of d_model products; float32 rounds each step by eps32 relative to the sizes summed.
    q_size = np.abs(spec["x"]) @ np.abs(spec["w_q"])
    k_size = np.abs(spec["x"]) @ np.abs(spec["w_k"])
    logit_size = float((q_size.max() + 1) * (k_size.max() + 1) * r64.d_k / r64.divisor)
    tol_w = 8 * (d_model + r64.d_k + 4) * eps32 * (logit_size + 1)
    np.testing.assert_allclose(r32.weights, r64.weights, rtol=0, atol=tol_w)
    v_size = float((np.abs(spec["x"]) @ np.abs(spec["w_v"])).max()) + 1
    gain = 1.0 if spec["w_o"] is None else 1.0 + float(np.abs(spec["w_o"]).sum(axis=0).max())
    n = spec["x"].shape[0]
    tol_out = (tol_w * n * v_size + 16 * eps32 * v_size) * gain
    np.testing.assert_allclose(r32.output, r64.output, rtol=0, atol=tol_out)
    # And not merely close: identical masking decisions.
    np.testing.assert_array_equal(r32.fully_masked, r64.fully_masked)


@given(st.integers(1, 6), st.integers(1, 6), st.booleans(), st.data())
def test_build_mask_follows_causal_and_key_mask_rules(n, m, causal, data):
    key_mask = data.draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=m, max_size=m)))
    mask = build_mask(n, m, causal, key_mask)
    for i in range(n):
        for j in range(m):
            want = (not causal or j <= i) and (key_mask is None or key_mask[j])
            assert mask[i, j] == want


@given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4))
def test_two_key_softmax_matches_the_logistic_function(a, b):
    # softmax((a, b))[0] = 1 / (1 + exp(b - a)), computed stably by hand.
    w = softmax_through_attention(np.array([[a, b]])).weights[0]
    d = b - a
    want = 1.0 / (1.0 + math.exp(d)) if d < 700 else 0.0
    assert math.isclose(w[0, 0], want, rel_tol=1e-12, abs_tol=1e-300)
    assert math.isclose(w[0, 0] + w[0, 1], 1.0, rel_tol=1e-15)


@given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4))
def test_the_reference_masked_softmax_agrees_with_production(a, b):
    """masked_softmax is the textbook formula the fast path must equal (public reference)."""
    reference = masked_softmax(np.array([[a, b]]), np.ones((1, 2), dtype=bool))
    production = softmax_through_attention(np.array([[a, b]])).weights[0]
    np.testing.assert_array_equal(production, reference)
