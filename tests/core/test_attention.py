"""attention() against a naive triple-loop reference and hand-worked cases.

The reference below is written from DESIGN.md "Semantics" alone: pure Python
loops and math.exp, no numpy and no call into selfattn.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfattn import AttentionError, Biases, attention

# --- the naive reference ------------------------------------------------------------


def _matmul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    return [
        [sum(a[i][t] * b[t][j] for t in range(len(b))) for j in range(len(b[0]))]
        for i in range(len(a))
    ]


def _plus(a: list[list[float]], bias: list[float] | None) -> list[list[float]]:
    if bias is None:
        return a
    return [[v + b for v, b in zip(row, bias, strict=True)] for row in a]


def naive_attention(
    x,
    wq,
    wk,
    wv,
    *,
    heads=1,
    wo=None,
    bq=None,
    bk=None,
    bv=None,
    bo=None,
    source=None,
    scale="sqrt_dk",
    temperature=1.0,
    causal=False,
    key_mask=None,
):
    """Return dict of weights[h][i][j], logits[h][i][j], context[h][i][c], output[i][o]."""
    xs = x if source is None else source
    q = _plus(_matmul(x, wq), bq)
    k = _plus(_matmul(xs, wk), bk)
    v = _plus(_matmul(xs, wv), bv)
    n, m = len(x), len(xs)
    d_k = len(wq[0]) // heads
    d_v = len(wv[0]) // heads
    if scale == "sqrt_dk":
        divisor = math.sqrt(d_k)
    elif scale == "none":
        divisor = 1.0
    else:
        divisor = float(scale)
    divisor *= temperature
    weights, logits, context = [], [], []
    for h in range(heads):
        w_h, l_h, c_h = [], [], []
        for i in range(n):
            row = []
            for j in range(m):
                visible = (not causal or j <= i) and (key_mask is None or key_mask[j])
                if visible:
                    s = sum(q[i][h * d_k + t] * k[j][h * d_k + t] for t in range(d_k))
                    row.append(s / divisor)
                else:
                    row.append(-math.inf)
            finite = [val for val in row if val != -math.inf]
            if finite:
                top = max(finite)
                e = [math.exp(val - top) if val != -math.inf else 0.0 for val in row]
                total = sum(e)
                w_row = [val / total for val in e]
            else:
                w_row = [0.0] * m
            c_row = [sum(w_row[j] * v[j][h * d_v + c] for j in range(m)) for c in range(d_v)]
            l_h.append(row)
            w_h.append(w_row)
            c_h.append(c_row)
        weights.append(w_h)
        logits.append(l_h)
        context.append(c_h)
    concat = [[context[h][i][c] for h in range(heads) for c in range(d_v)] for i in range(n)]
    output = _plus(_matmul(concat, wo), bo) if wo is not None else _plus(concat, bo)
    return {
        "q": q,
        "k": k,
        "v": v,
        "weights": weights,
        "logits": logits,
        "context": context,
        "output": output,
    }


# --- random layers ------------------------------------------------------------------

VALUES = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def layers(draw):
    """Keyword arguments for both attention() and naive_attention() (shared names mapped)."""
    n = draw(st.integers(1, 4))
    d_model = draw(st.integers(1, 4))
    heads = draw(st.integers(1, 3))
    d_k = draw(st.integers(1, 3))
    d_v = draw(st.integers(1, 3))
    cross = draw(st.booleans())
    m = draw(st.integers(1, 4)) if cross else n

    def mat(r, c):
        return draw(st.lists(st.lists(VALUES, min_size=c, max_size=c), min_size=r, max_size=r))

    def vec(size):
        return draw(st.one_of(st.none(), st.lists(VALUES, min_size=size, max_size=size)))

    spec = {
        "x": mat(n, d_model),
        "wq": mat(d_model, heads * d_k),
        "wk": mat(d_model, heads * d_k),
        "wv": mat(d_model, heads * d_v),
        "heads": heads,
        "source": mat(m, d_model) if cross else None,
        "bq": vec(heads * d_k),
        "bk": vec(heads * d_k),
        "bv": vec(heads * d_v),
        "scale": draw(st.sampled_from(["sqrt_dk", "none", 0.5, 3.0])),
        "temperature": draw(st.sampled_from([1.0, 0.25, 2.0, 7.5])),
        "causal": draw(st.booleans()),
        "key_mask": draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=m, max_size=m))),
    }
    if draw(st.booleans()):
        d_out = draw(st.integers(1, 3))
        spec["wo"] = mat(heads * d_v, d_out)
    else:
        d_out = heads * d_v
        spec["wo"] = None
    spec["bo"] = vec(d_out)
    return spec


def run_selfattn(spec: dict, dtype: str = "float64"):
    return attention(
        spec["x"],
        spec["wq"],
        spec["wk"],
        spec["wv"],
        heads=spec["heads"],
        w_o=spec["wo"],
        biases=Biases(spec["bq"], spec["bk"], spec["bv"], spec["bo"]),
        source=spec["source"],
        scale=spec["scale"],
        temperature=spec["temperature"],
        causal=spec["causal"],
        key_mask=spec["key_mask"],
        dtype=dtype,
    )


def float32_tolerances(spec: dict, want: dict) -> tuple[float, float]:
    """Absolute error bounds (weights, output) for float32 against the exact reference.

    Rounding to float32 costs about eps32 per operation relative to the magnitudes
    summed: a logit of size L is off by ~(d_model + d_k) * eps32 * L, a softmax weight
    by about twice the logit error, the output by that times the value sizes it mixes.
    Factors of 8 leave room; the bound is still far below any real mistake (>= 1e-3).
    """
    eps32 = float(np.finfo(np.float32).eps)
    d_model = len(spec["x"][0])
    d_k = len(spec["wq"][0]) // spec["heads"]
    m = len(want["k"])
    q_max = max(abs(c) for row in want["q"] for c in row)
    k_max = max(abs(c) for row in want["k"] for c in row)
    v_max = max(abs(c) for row in want["v"] for c in row)
    logit_size = d_k * (q_max + 1) * (k_max + 1) * 8.0  # divisor >= 0.5 * 0.25 in layers()
    tol_w = 8 * (d_model + d_k + 4) * eps32 * (logit_size + 1)
    wo_gain = 1.0
    if spec["wo"] is not None:
        wo_gain += max(sum(abs(c) for c in col) for col in zip(*spec["wo"], strict=True))
    out_max = max(abs(c) for row in want["output"] for c in row)
    tol_out = tol_w * m * (v_max + 1) * wo_gain + 16 * eps32 * (out_max + 1) * wo_gain
    return tol_w, tol_out


@given(layers())
def test_matches_naive_reference_float64(spec):
    got = run_selfattn(spec)
    want = naive_attention(**spec)
    np.testing.assert_allclose(got.weights, want["weights"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.context, want["context"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got.output, want["output"], rtol=1e-9, atol=1e-9)
    # Logits: same finite values and -inf exactly where the reference masks.
    np.testing.assert_array_equal(np.isneginf(got.scaled_scores), np.isneginf(want["logits"]))
    finite = np.isfinite(got.scaled_scores)
    np.testing.assert_allclose(
        got.scaled_scores[finite], np.asarray(want["logits"])[finite], rtol=1e-9, atol=1e-9
    )


@given(layers())
def test_matches_naive_reference_float32(spec):
    got = run_selfattn(spec, dtype="float32")
    assert got.weights.dtype == np.float32
    assert got.output.dtype == np.float32
    want = naive_attention(**spec)
    tol_w, tol_out = float32_tolerances(spec, want)
    np.testing.assert_allclose(got.weights, want["weights"], rtol=0, atol=tol_w)
    np.testing.assert_allclose(got.output, want["output"], rtol=0, atol=tol_out)


# --- hand-worked cases --------------------------------------------------------------

LN3 = math.log(3.0)
X3 = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]  # three tokens of width 2
I2 = [[1.0, 0.0], [0.0, 1.0]]
Z2 = [[0.0, 0.0], [0.0, 0.0]]


def test_causal_mask_zeroes_future_keys():
    # W_Q = 0 makes every logit 0, so each query spreads evenly over the keys it sees:
    # query 1 sees key 1, query 2 keys 1-2, query 3 keys 1-3. V = X.
    r = attention(X3, Z2, I2, I2, causal=True)
    third = 1.0 / 3.0
    np.testing.assert_allclose(
        r.weights[0], [[1, 0, 0], [0.5, 0.5, 0], [third, third, third]], rtol=1e-15
    )
    # contexts: x1; (x1 + x2)/2; (x1 + x2 + x3)/3 = (2/3, 2/3)
    np.testing.assert_allclose(r.output, [[1, 0], [0.5, 0.5], [2 / 3, 2 / 3]], rtol=1e-15)
    assert np.isneginf(r.scaled_scores[0][0, 1]) and np.isneginf(r.scaled_scores[0][1, 2])
    assert r.scaled_scores[0][2, 0] == 0.0
    assert not r.fully_masked.any()


def test_key_mask_removes_a_column_for_every_query():
    # Key 2 masked, logits all 0: every query weighs keys 1 and 3 by 1/2 each,
    # context = (x1 + x3)/2 = (1, 0.5).
    r = attention(X3, Z2, I2, I2, key_mask=[True, False, True])
    np.testing.assert_array_equal(r.weights[0], [[0.5, 0, 0.5]] * 3)
    np.testing.assert_array_equal(r.output, [[1.0, 0.5]] * 3)
    assert np.isneginf(r.scaled_scores[0][:, 1]).all()


def test_fully_masked_row_is_zero_and_reported():
    # Causal + key 1 masked: query 1 sees nothing -> zeros (not NaN), reported;
    # query 2 sees key 2 only -> context x2 = (0, 1); query 3 sees keys 2, 3 -> (0.5, 1).
    # With W_O = I and b_O = (7, -7) the masked query's output is exactly b_O.
    r = attention(
        X3,
        Z2,
        I2,
        I2,
        causal=True,
        key_mask=[False, True, True],
        w_o=I2,
        biases=Biases(output=[7.0, -7.0]),
    )
    np.testing.assert_array_equal(r.weights[0], [[0, 0, 0], [0, 1, 0], [0, 0.5, 0.5]])
    np.testing.assert_array_equal(r.context[0], [[0, 0], [0, 1], [0.5, 1]])
    np.testing.assert_array_equal(r.output, [[7, -7], [7, -6], [7.5, -6]])
    np.testing.assert_array_equal(r.fully_masked, [True, False, False])
    assert np.isneginf(r.scaled_scores[0][0]).all()
    assert not np.isnan(r.weights).any()


def test_every_key_masked_gives_all_zero_weights():
    r = attention(X3, I2, I2, I2, key_mask=[False, False, False])
    np.testing.assert_array_equal(r.weights, np.zeros((1, 3, 3)))
    np.testing.assert_array_equal(r.output, np.zeros((3, 2)))
    assert r.fully_masked.all()


# One-dimensional tokens x = (1, 0) with W_Q = ln 3 and W_K = 1: the first query's raw
# scores are (ln 3 * 1, ln 3 * 0) = (ln 3, 0), the second's (0, 0).
X2 = [[1.0], [0.0]]


@pytest.mark.parametrize(
    ("temperature", "first_weight"),
    [
        (1.0, 3 / 4),  # logits (ln 3, 0): e^ln3 / (e^ln3 + 1) = 3 / 4
        (0.5, 9 / 10),  # logits (2 ln 3, 0): 9 / (9 + 1)
        (2.0, math.sqrt(3) / (math.sqrt(3) + 1)),  # logits (ln 3 / 2, 0): sqrt 3 / (sqrt 3 + 1)
    ],
)
def test_temperature_divides_the_logits(temperature, first_weight):
    r = attention(X2, [[LN3]], [[1.0]], [[1.0]], scale="none", temperature=temperature)
    np.testing.assert_allclose(r.weights[0][0], [first_weight, 1 - first_weight], rtol=1e-14)
    np.testing.assert_allclose(r.weights[0][1], [0.5, 0.5], rtol=1e-15)
    # context of query 1 = first_weight * v1 + (1 - first_weight) * v2 with v = (1, 0)
    np.testing.assert_allclose(r.output[0], [first_weight], rtol=1e-14)
    assert r.divisor == temperature


@pytest.mark.parametrize(
    ("scale", "first_weight", "divisor"),
    [
        ("sqrt_dk", 3 / 4, 2.0),  # d_k = 4, raw score 2 ln 3 / 2 = ln 3 -> 3/4
        ("none", 9 / 10, 1.0),  # 2 ln 3 -> 9/10
        (4.0, math.sqrt(3) / (math.sqrt(3) + 1), 4.0),  # 2 ln 3 / 4 = ln 3 / 2
    ],
)
def test_scale_sqrt_dk_none_and_custom_divisor(scale, first_weight, divisor):
    # q1 = (ln3/2,) * 4 and k1 = (1,) * 4, so the raw score q1.k1 = 4 * ln3/2 = 2 ln 3.
    wq = [[LN3 / 2] * 4]
    wk = [[1.0] * 4]
    r = attention(X2, wq, wk, [[1.0]], scale=scale)
    assert r.d_k == 4
    assert r.divisor == divisor
    np.testing.assert_allclose(r.scores[0][0], [2 * LN3, 0.0], rtol=1e-15)
    np.testing.assert_allclose(r.weights[0][0], [first_weight, 1 - first_weight], rtol=1e-14)


def test_cross_attention_uses_source_for_keys_and_values():
    # One query (ln 2, 0) over three source tokens (1,0), (0,1), (0,0), identity weights,
    # no scaling: scores (ln 2, 0, 0) -> weights (2, 1, 1)/4; context = 0.5*(1,0)+0.25*(0,1).
    r = attention([[math.log(2.0), 0.0]], I2, I2, I2, source=[[1, 0], [0, 1], [0, 0]], scale="none")
    assert r.weights.shape == (1, 1, 3)
    np.testing.assert_allclose(r.weights[0], [[0.5, 0.25, 0.25]], rtol=1e-15)
    np.testing.assert_allclose(r.output, [[0.5, 0.25]], rtol=1e-15)
    np.testing.assert_array_equal(r.k, [[1, 0], [0, 1], [0, 0]])


def test_cross_attention_key_mask_has_one_entry_per_source_token():
    r = attention(
        [[0.0, 0.0]], I2, I2, I2, source=[[1, 0], [0, 1], [0, 0]], key_mask=[True, True, False]
    )
    np.testing.assert_array_equal(r.weights[0], [[0.5, 0.5, 0.0]])
    with pytest.raises(AttentionError, match="key_mask has 1 entries, expected 3"):
        attention([[0.0, 0.0]], I2, I2, I2, source=[[1, 0], [0, 1], [0, 0]], key_mask=[True])


def test_biases_enter_q_k_v_and_output():
    # W_Q = 0 with b_Q = ln 3 gives every query q = ln 3; k = x W_K = (1, 0):
    # logits (ln 3, 0) for both queries -> weights (3/4, 1/4).
    # v = x * 2 + 10 = (12, 10): context = 3/4 * 12 + 1/4 * 10 = 11.5.
    # W_O = (2, -1), b_O = (1, 0): output = (23 + 1, -11.5).
    r = attention(
        X2,
        [[0.0]],
        [[1.0]],
        [[2.0]],
        scale="none",
        w_o=[[2.0, -1.0]],
        biases=Biases(query=[LN3], value=[10.0], output=[1.0, 0.0]),
    )
    np.testing.assert_allclose(r.weights[0], [[0.75, 0.25]] * 2, rtol=1e-14)
    np.testing.assert_allclose(r.v, [[12.0], [10.0]], rtol=0)
    np.testing.assert_allclose(r.context[0], [[11.5]] * 2, rtol=1e-14)
    np.testing.assert_allclose(r.output, [[24.0, -11.5]] * 2, rtol=1e-14)


def test_key_bias_shifts_a_row_equally_and_changes_nothing():
    # b_K = 5 adds q * 5 to every logit of a query's row: the weights stay (3/4, 1/4).
    r = attention(
        X2, [[0.0]], [[1.0]], [[2.0]], scale="none", biases=Biases(query=[LN3], key=[5.0])
    )
    np.testing.assert_allclose(r.weights[0], [[0.75, 0.25]] * 2, rtol=1e-13)


def test_output_projection_without_bias():
    # With W_O the output is concat(C) W_O; context (11.5 as above without b_O) * (2, -1).
    r = attention(
        X2,
        [[0.0]],
        [[1.0]],
        [[2.0]],
        scale="none",
        w_o=[[2.0, -1.0]],
        biases={"query": [LN3], "value": [10.0]},
    )
    np.testing.assert_allclose(r.output, [[23.0, -11.5]] * 2, rtol=1e-14)


def test_heads_take_contiguous_column_blocks_like_torch():
    """torch.nn.MultiheadAttention splits Q/K/V columns into contiguous blocks per head.

    Tokens are the identity, so Q, K, V are the weight rows. Two heads with d_k = d_v = 2:
      q1 = (0, ln3 | 0, 0), k1 = (0, 1 | 0, 0), everything else in Q, K is 0;
      v1 = (4, 0 | 8, 0), v2 = 0.
    Contiguous split: head 1 (columns 1-2) sees q1.k1 = ln 3 -> query 1 weights (3/4, 1/4),
    query 2 (1/2, 1/2); head 2 (columns 3-4) has zero scores -> (1/2, 1/2) everywhere.
    Contexts: head 1 query 1 = 3/4 * (4, 0) = (3, 0), query 2 = (2, 0);
              head 2 = 1/2 * (8, 0) = (4, 0).  Output = concat: (3, 0, 4, 0), (2, 0, 4, 0).
    An interleaved split (head 1 = columns 1 and 3) would put ln 3 in head 2 instead,
    giving head 1 uniform weights and output (2, 4, 0, 0) / ... — a different answer.
    """
    wq = [[0.0, LN3, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    wk = [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    wv = [[4.0, 0.0, 8.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    r = attention(I2, wq, wk, wv, heads=2, scale="none")
    np.testing.assert_allclose(r.weights[0], [[0.75, 0.25], [0.5, 0.5]], rtol=1e-14)
    np.testing.assert_array_equal(r.weights[1], [[0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_allclose(r.output, [[3, 0, 4, 0], [2, 0, 4, 0]], rtol=1e-14)

    # The interleaved split really differs: columns (1, 3) as head 1 see no ln 3 at all.
    interleaved = [0, 2, 1, 3]
    wrong = attention(
        I2,
        np.asarray(wq)[:, interleaved],
        np.asarray(wk)[:, interleaved],
        np.asarray(wv)[:, interleaved],
        heads=2,
        scale="none",
    )
    assert not np.allclose(wrong.weights[0], r.weights[0])
    assert not np.allclose(wrong.output[:, interleaved], r.output)


def test_heads_scale_by_their_own_d_k():
    # H = 2 blocks of width 2: each head divides by sqrt(2), not sqrt(4).
    r = attention([[1.0, 1.0]], [[1.0] * 4] * 2, [[1.0] * 4] * 2, I2, heads=2)
    assert r.d_k == 2 and r.d_v == 1
    assert r.divisor == math.sqrt(2)
    # q.k per head = 2 * (2 * 2) = 8 (x = (1,1), every weight 1): logit 8 / sqrt 2
    np.testing.assert_allclose(r.scaled_scores, [[[8 / math.sqrt(2)]]] * 2, rtol=1e-15)


# --- extreme logits -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logits_of_1e4_give_exact_one_hot_rows(dtype):
    # One query x = 1 with W_Q = 1 over keys (1, 0, -1) scaled by W_K = 1e4:
    # logits (1e4, 0, -1e4) -> exp(0), exp(-1e4), exp(-2e4) = 1, 0, 0 exactly.
    r = attention(
        [[1.0]], [[1.0]], [[1e4]], [[1.0]], source=[[1.0], [0.0], [-1.0]], scale="none", dtype=dtype
    )
    assert r.weights[0].tolist() == [[1.0, 0.0, 0.0]]
    assert r.output.tolist() == [[1.0]]
    assert np.isfinite(r.scaled_scores).all() and np.isfinite(r.weights).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_two_tied_huge_logits_split_exactly_in_half(dtype):
    r = attention(
        [[1.0]], [[1.0]], [[1e4]], [[2.0]], source=[[1.0], [1.0], [-1.0]], scale="none", dtype=dtype
    )
    assert r.weights[0].tolist() == [[0.5, 0.5, 0.0]]
    assert r.output.tolist() == [[2.0]]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_all_logits_minus_1e4_stay_uniform(dtype):
    # Max subtraction: exp(-1e4) would underflow to 0 and give 0/0 without it.
    r = attention(
        [[-1.0]],
        [[1.0]],
        [[1e4]],
        [[3.0]],
        source=[[1.0], [1.0], [1.0], [1.0]],
        scale="none",
        dtype=dtype,
    )
    assert r.weights[0].tolist() == [[0.25] * 4]
    assert r.output.tolist() == [[3.0]]


@pytest.mark.parametrize(
    ("kwargs", "x", "refusal"),
    [
        # Logits that do not fit the dtype: refused with a message saying which step.
        ({"temperature": 1e-310}, [[1.0], [0.5]], "scaled scores of query 1 overflow float64"),
        (  # 1e-50 is 0 in float32: the divisor itself is gone
            {"temperature": 1e-50, "dtype": "float32"},
            [[1.0], [0.5]],
            "scaled scores of query 1 overflow float32",
        ),
        ({"dtype": "float32"}, [[3e19], [1.0]], "raw scores of query 1 overflow float32"),
        ({}, [[1e200], [1.0]], "raw scores of query 1 overflow float64"),
        # Huge but representable logits: computed. Scores are x_i * x_j, so for every
        # query the key with x = the larger value wins outright: weights [1, 0].
        ({"temperature": 1e-300}, [[1.0], [0.5]], None),  # logits 1e300, 5e299
        ({"temperature": 1e-30, "dtype": "float32"}, [[1.0], [0.5]], None),  # 1e30
        ({"dtype": "float32"}, [[1e19], [1.0]], None),  # 1e38 < float32 max 3.4e38
        ({}, [[1e150], [1.0]], None),  # 1e300
    ],
)
def test_overflowing_logits_never_give_nan(kwargs, x, refusal):
    """DESIGN: weights are never NaN. Logits beyond the dtype are refused (AttentionError
    naming the step); logits that fit give finite rows even when they are enormous."""
    if refusal is not None:
        with pytest.raises(AttentionError, match=re.escape(refusal)):
            attention(x, [[1.0]], [[1.0]], [[1.0]], **kwargs)
        return
    r = attention(x, [[1.0]], [[1.0]], [[1.0]], **kwargs)
    assert np.isfinite(r.scaled_scores).all()
    assert r.weights.tolist() == [[[1.0, 0.0], [1.0, 0.0]]]
    assert np.isfinite(r.output).all()


# --- result invariants and refusals -------------------------------------------------


def test_result_arrays_are_read_only_and_in_the_requested_dtype():
    r = attention(X3, I2, I2, I2, dtype="float32")
    for name in ("q", "k", "v", "scores", "scaled_scores", "weights", "context", "output"):
        arr = getattr(r, name)
        assert arr.dtype == np.float32, name
        with pytest.raises(ValueError):
            arr[(0,) * arr.ndim] = 1.0
    assert r.concat_context.shape == (3, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"heads": 2, "w_q": [[1.0] * 3] * 2, "w_k": [[1.0] * 3] * 2}, "must divide"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"scale": 0.0}, "scale"),
        ({"scale": "sqrt"}, "scale"),
        ({"dtype": "float16"}, "dtype"),
        ({"key_mask": [True, True]}, "key_mask"),
        ({"x": [[1.0, math.nan], [0, 0], [0, 0]]}, "non-finite"),
        ({"w_o": [[1.0]]}, "W_O"),
        ({"biases": Biases(query=[1.0])}, "b_Q"),
    ],
)
def test_invalid_arguments_raise_attention_error(kwargs, match):
    args = {"x": X3, "w_q": I2, "w_k": I2, "w_v": I2}
    for key in ("x", "w_q", "w_k"):
        if key in kwargs:
            args[key] = kwargs.pop(key)
    with pytest.raises(AttentionError, match=match):
        attention(args["x"], args["w_q"], args["w_k"], args["w_v"], **kwargs)


def test_raw_scores_overflowing_to_minus_inf_are_refused_not_masked():
    """q.k = -1e400 overflows float64 to -inf; it must not pass for a masked key."""
    x = [[1.0, 0.0], [0.0, 1e200]]
    with pytest.raises(AttentionError, match="raw scores of query 2 overflow float64"):
        attention(x, [[1.0, 0.0], [0.0, -1.0]], np.eye(2), np.eye(2))
