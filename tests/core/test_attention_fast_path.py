"""The fast path of `attention` (row blocks, two threads, in-place passes) against a naive loop.

Sizes are chosen to cross the row-block boundaries and the ~1M-cell threshold
above which softmax rows are split over two threads.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from selfattn.attention import attention

core = importlib.import_module("selfattn.attention")


def naive(x, w_q, w_k, w_v, heads, causal, key_mask, divisor):
    """Row by row with Python loops over rows: the textbook formula, float64."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    n, m = q.shape[0], k.shape[0]
    d_k, d_v = q.shape[1] // heads, v.shape[1] // heads
    weights = np.zeros((heads, n, m))
    context = np.zeros((heads, n, d_v))
    for h in range(heads):
        qh, kh = q[:, h * d_k : (h + 1) * d_k], k[:, h * d_k : (h + 1) * d_k]
        vh = v[:, h * d_v : (h + 1) * d_v]
        for i in range(n):
            visible = [
                j for j in range(m) if (not causal or j <= i) and (key_mask is None or key_mask[j])
            ]
            if not visible:
                continue
            logits = np.array([qh[i] @ kh[j] / divisor for j in visible])
            e = np.exp(logits - logits.max())
            weights[h, i, visible] = e / e.sum()
            context[h, i] = weights[h, i] @ vh
    return weights, context


def layer(n, d, seed=0, spread=2.0):
    rng = np.random.default_rng(seed)
    w = spread / math.sqrt(d)
    return (
        rng.standard_normal((n, d)),
        rng.standard_normal((d, d)) * w,
        rng.standard_normal((d, d)) * w,
        rng.standard_normal((d, d)) * w,
    )


@pytest.mark.parametrize(
    ("n", "heads", "causal", "masked"),
    [
        (1100, 1, False, False),  # 1.2M cells: threaded, several row blocks
        (1100, 2, True, True),  # heads, causal, key mask, a fully masked first row
        (37, 2, True, False),  # one block, single thread
    ],
)
def test_float64_fast_path_equals_naive_loop(n, heads, causal, masked):
    x, w_q, w_k, w_v = layer(n, 8)
    key_mask = [j % 7 != 0 for j in range(n)] if masked else None  # key 0 masked
    r = attention(x, w_q, w_k, w_v, heads=heads, causal=causal, key_mask=key_mask)
    weights, context = naive(x, w_q, w_k, w_v, heads, causal, key_mask, math.sqrt(8 // heads))
    np.testing.assert_allclose(r.weights, weights, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(r.context, context, rtol=1e-12, atol=1e-13)
    assert r.fully_masked[0] == (causal and masked)
    assert np.isneginf(r.scaled_scores[:, ~r.mask]).all()


def test_threaded_and_single_threaded_results_are_identical(monkeypatch):
    x, w_q, w_k, w_v = layer(1100, 8, seed=3)
    threaded = attention(x, w_q, w_k, w_v, causal=True)
    monkeypatch.setattr(core, "_THREADS", 1)
    single = attention(x, w_q, w_k, w_v, causal=True)
    for name in ("scores", "scaled_scores", "weights", "context", "output"):
        np.testing.assert_array_equal(getattr(threaded, name), getattr(single, name))


def test_float32_weights_are_never_subnormal_and_track_float64():
    # A wide logit spread puts many weights below float32's normal range.
    x, w_q, w_k, w_v = layer(1100, 8, seed=1, spread=6.0)
    r32 = attention(x, w_q, w_k, w_v, dtype="float32")
    r64 = attention(x, w_q, w_k, w_v)
    w = r32.weights
    tiny = np.finfo(np.float32).tiny
    assert ((w == 0) | (w >= tiny)).all()
    assert (r64.weights < tiny).any()  # the case really arises
    np.testing.assert_allclose(w, r64.weights, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-5)


def test_unmasked_mask_is_all_true_and_read_only():
    x, w_q, w_k, w_v = layer(5, 4)
    r = attention(x, w_q, w_k, w_v, key_mask=[True] * 5)
    assert r.mask.shape == (5, 5) and r.mask.all()
    assert not r.mask.flags.writeable
    assert not r.fully_masked.any()


def test_results_of_earlier_calls_are_not_overwritten():
    x, w_q, w_k, w_v = layer(1100, 8)
    first = attention(x, w_q, w_k, w_v)
    kept = first.weights.copy()
    for seed in range(3):
        attention(*layer(1100, 8, seed=seed + 10))
    np.testing.assert_array_equal(first.weights, kept)


def test_float64_is_bit_identical_to_the_straightforward_formula():
    """The fast path reorders no arithmetic: same bits as the original implementation."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "_baseline_attention.py"
    spec = importlib.util.spec_from_file_location("_baseline_attention", path)
    baseline = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = baseline  # dataclasses look their module up here
    spec.loader.exec_module(baseline)
    x, w_q, w_k, w_v = layer(1100, 8, seed=5)
    key_mask = [j % 5 != 0 for j in range(1100)]
    for kwargs in ({}, {"heads": 2, "causal": True, "key_mask": key_mask}):
        fast = attention(x, w_q, w_k, w_v, w_o=w_v, **kwargs)
        slow = baseline.attention(x, w_q, w_k, w_v, w_o=w_v, **kwargs)
        for name in ("scores", "scaled_scores", "weights", "context", "output", "mask"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)


@pytest.mark.parametrize(
    ("w_v", "w_o", "refusal"),
    [
        # row 1 of X: 1e308 + 1e308
        (
            [[1e308, 1.0], [1e308, 1.0]],
            None,
            "the values (inputs × W_V + b_V) overflow float64 in row 1 (key 1)",
        ),
        # rows 2, 3 of X: +-2e308
        (
            [[1e308, 1.0], [-1e308, 1.0]],
            None,
            "the values (inputs × W_V + b_V) overflow float64 in row 2 (key 2)",
        ),
        # 2 * 1e308 per row
        (
            [[1.0, 0.0], [0.0, 1.0]],
            [[1e308], [1e308]],
            "the output (context × W_O + b_O) overflows float64 in row 1 (query 1)",
        ),
        # V = [[0, 2], [1e308, 2], [-1e308, 2]] is finite; the context mixes its rows with
        # weights that sum to 1, so it stays within +-1e308: computed, not refused.
        ([[0.5e308, 1.0], [-0.5e308, 1.0]], None, None),
    ],
)
def test_overflow_in_values_or_output_is_refused_not_nan(w_v, w_o, refusal):
    x = [[1.0, 1.0], [2.0, 0.0], [0.0, 2.0]]
    if refusal is not None:
        with pytest.raises(core.AttentionError, match=re.escape(refusal)):
            attention(x, np.eye(2), np.eye(2), w_v, w_o=w_o)
        return
    r = attention(x, np.eye(2), np.eye(2), w_v, w_o=w_o)
    for name in ("v", "context", "output"):
        assert np.isfinite(getattr(r, name)).all(), name
    assert np.abs(r.context).max() <= 1e308
    # Every value row has 2 in its second column, so every context row does too.
    np.testing.assert_allclose(r.context[0][:, 1], 2.0, rtol=1e-12)
