"""selfattn.atlas: head metrics and rollout against hand-worked numbers and naive loops."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selfattn.atlas import (
    METRICS,
    atlas_from_attentions,
    head_metrics,
    heads_csv_text,
    induction_input,
    induction_targets,
    rollout,
    rollout_csv_text,
    top_heads,
)
from selfattn.models import ModelError
from selfattn.preset import Options, Preset, compute


def xlnx(*ws: float) -> float:
    """-sum w ln w, by hand."""
    return -sum(w * math.log(w) for w in ws)


# Hand-worked matrices -------------------------------------------------------

A3 = np.array(
    [
        [0.25, 0.5, 0.25],
        [0.2, 0.6, 0.2],
        [0.1, 0.3, 0.6],
    ]
)


def test_3x3_every_metric_by_hand() -> None:
    m = head_metrics(A3, [7, 8, 7])
    assert m["entropy"] == pytest.approx(
        (1.5 * math.log(2) + xlnx(0.2, 0.6, 0.2) + xlnx(0.1, 0.3, 0.6)) / 3, abs=1e-15
    )
    assert m["first_token"] == pytest.approx((0.25 + 0.2 + 0.1) / 3, abs=1e-15)
    assert m["previous_token"] == pytest.approx((0.2 + 0.3) / 2, abs=1e-15)
    assert m["self"] == pytest.approx((0.25 + 0.6 + 0.6) / 3, abs=1e-15)
    assert m["max_weight"] == pytest.approx((0.5 + 0.6 + 0.6) / 3, abs=1e-15)
    # id 7 at row 2 occurred at 0: the weight on position 1.
    assert m["induction"] == pytest.approx(0.3, abs=1e-15)
    assert set(m) == set(METRICS)


# Causal, key 2 masked (its column is 0 in every row), ids [5, 6, 5, 5].
A4 = np.array(
    [
        [1.0, 0.0, 0.0, 0.0],
        [0.4, 0.6, 0.0, 0.0],
        [0.5, 0.5, 0.0, 0.0],
        [0.1, 0.3, 0.0, 0.6],
    ]
)


def test_4x4_causal_with_masked_key_by_hand() -> None:
    m = head_metrics(A4, [5, 6, 5, 5])
    # The causal first row has one key: entropy 0; the masked cell is 0 ln 0 = 0.
    assert m["entropy"] == pytest.approx(
        (0 + xlnx(0.4, 0.6) + math.log(2) + xlnx(0.1, 0.3, 0.6)) / 4, abs=1e-15
    )
    assert m["first_token"] == pytest.approx((1 + 0.4 + 0.5 + 0.1) / 4, abs=1e-15)
    assert m["previous_token"] == pytest.approx((0.4 + 0.5 + 0.0) / 3, abs=1e-15)
    assert m["self"] == pytest.approx((1 + 0.6 + 0 + 0.6) / 4, abs=1e-15)
    assert m["max_weight"] == pytest.approx((1 + 0.6 + 0.5 + 0.6) / 4, abs=1e-15)
    # Row 2 (id 5, seen at 0) -> A[2, 1] = 0.5. Row 3 (id 5): the LATEST earlier 5 is
    # at 2, so A[3, 3] = 0.6 (p + 1 = i counts), not A[3, 1].
    assert m["induction"] == pytest.approx((0.5 + 0.6) / 2, abs=1e-15)


def test_fully_masked_row_and_no_repeats_by_hand() -> None:
    # Causal with key 0 masked: query 0 sees nothing, its row is all zeros.
    a = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.75, 0.25]])
    m = head_metrics(a, [1, 2, 3])
    assert m["entropy"] == pytest.approx(xlnx(0.75, 0.25) / 3, abs=1e-15)
    assert m["first_token"] == 0.0
    assert m["previous_token"] == pytest.approx((0.0 + 0.75) / 2, abs=1e-15)
    assert m["self"] == pytest.approx((0 + 1 + 0.25) / 3, abs=1e-15)
    assert m["max_weight"] == pytest.approx((0 + 1 + 0.75) / 3, abs=1e-15)
    assert math.isnan(m["induction"])  # no token id repeats: undefined


def test_metrics_of_weights_computed_by_selfattn_with_causal_and_key_mask() -> None:
    """The weights come from an ordinary preset (causal, key 1 masked), then by hand."""
    x = np.eye(3)
    preset = Preset(
        inputs=x,
        w_query=np.zeros((3, 2)),
        w_key=np.zeros((3, 2)),
        w_value=np.ones((3, 2)),
        options=Options(causal=True, key_mask=(True, False, True)),
    )
    w = compute(preset).weights[0]  # all scores 0: uniform over the visible keys
    assert w.tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.0, 0.5]]
    m = head_metrics(w, [4, 4, 9])
    assert m["entropy"] == pytest.approx(math.log(2) / 3, abs=1e-15)
    assert m["first_token"] == pytest.approx(2.5 / 3, abs=1e-15)
    assert m["previous_token"] == pytest.approx(0.5, abs=1e-15)
    assert m["self"] == pytest.approx(1.5 / 3, abs=1e-15)
    assert m["max_weight"] == pytest.approx(2.5 / 3, abs=1e-15)
    assert m["induction"] == 0.0  # row 1 repeats id 4 from 0: A[1, 1] = 0


def test_one_token_has_no_previous_token() -> None:
    m = head_metrics(np.ones((2, 1, 1)), [3])
    assert m["self"].tolist() == [1.0, 1.0] and m["entropy"].tolist() == [0.0, 0.0]
    assert np.isnan(m["previous_token"]).all() and np.isnan(m["induction"]).all()


def test_metrics_keep_leading_axes_layer_and_head() -> None:
    att = np.stack([np.stack([A3, A3.T / A3.T.sum(1, keepdims=True)]), np.stack([A3, A3])])
    m = head_metrics(att, [7, 8, 7])
    assert m["self"].shape == (2, 2)
    assert m["self"][1, 1] == pytest.approx((0.25 + 0.6 + 0.6) / 3, abs=1e-15)


def test_bad_shapes_refused() -> None:
    with pytest.raises(ValueError, match="n, n"):
        head_metrics(np.ones((2, 3)), [1, 2])
    with pytest.raises(ValueError, match="2 token ids for 3"):
        head_metrics(A3, [1, 2])
    with pytest.raises(ValueError, match="layers, heads"):
        rollout(np.ones((2, 2, 2)))


def test_induction_targets_latest_earlier_position() -> None:
    rows, targets = induction_targets([1, 2, 1, 2, 1, 1])
    assert rows.tolist() == [2, 3, 4, 5]
    assert targets.tolist() == [1, 2, 3, 5]


# Rollout -----------------------------------------------------------------------


def test_rollout_two_layer_toy_by_hand() -> None:
    layer1 = [[[1.0, 0.0], [0.5, 0.5]], [[1.0, 0.0], [0.25, 0.75]]]
    layer2 = [[[0.5, 0.5], [0.0, 1.0]], [[0.5, 0.5], [1.0, 0.0]]]
    # B1 = 0.5 [[1, 0], [0.375, 0.625]] + 0.5 I = [[1, 0], [0.1875, 0.8125]]
    # B2 = 0.5 [[0.5, 0.5], [0.5, 0.5]] + 0.5 I = [[0.75, 0.25], [0.25, 0.75]]
    # R2 = B2 B1
    expected = [[0.796875, 0.203125], [0.390625, 0.609375]]
    got = rollout(np.array([layer1, layer2]))
    assert np.allclose(got, expected, rtol=0, atol=1e-15)
    # One layer: R_1 = B_1.
    assert np.allclose(rollout(np.array([layer1])), [[1, 0], [0.1875, 0.8125]], atol=1e-15)


def test_rollout_renormalises_a_fully_masked_row() -> None:
    # Row 0 is all zeros: 0.5 * 0 + 0.5 * I has sum 0.5, divided by it -> [1, 0].
    got = rollout(np.array([[[[0.0, 0.0], [0.5, 0.5]]]]))
    assert np.allclose(got, [[1.0, 0.0], [0.25, 0.75]], atol=1e-15)


# Properties -------------------------------------------------------------------


@st.composite
def stochastic(draw: st.DrawFn, lead: tuple[int, ...] = ()) -> np.ndarray:
    n = draw(st.integers(1, 7))
    raw = draw(hnp.arrays(np.float64, (*lead, n, n), elements=st.floats(0, 10)))
    sums = raw.sum(axis=-1, keepdims=True)
    assume(bool((sums > 1e-3).all()))
    out: np.ndarray = raw / sums
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9), st.data())
def test_uniform_over_k_keys_has_entropy_ln_k(k: int, data: st.DataObject) -> None:
    n = data.draw(st.integers(k, 12))
    rows = []
    for _ in range(n):
        keys = data.draw(st.permutations(range(n)))[:k]
        row = np.zeros(n)
        row[list(keys)] = 1.0 / k
        rows.append(row)
    m = head_metrics(np.array(rows), list(range(n)))
    assert m["entropy"] == pytest.approx(math.log(k), rel=1e-12, abs=1e-15)
    assert m["max_weight"] == pytest.approx(1.0 / k, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.data())
def test_rollout_rows_sum_to_one(layers: int, heads: int, data: st.DataObject) -> None:
    att = data.draw(stochastic((layers, heads)))
    r = rollout(att)
    assert np.allclose(r.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (r >= 0).all()


def naive_metrics(a: list[list[float]], ids: list[int]) -> dict[str, float]:
    """The definitions of DESIGN.md, one loop each."""
    n = len(a)
    out = {
        "entropy": sum(-sum(w * math.log(w) for w in row if w > 0) for row in a) / n,
        "first_token": sum(row[0] for row in a) / n,
        "previous_token": (sum(a[i][i - 1] for i in range(1, n)) / (n - 1) if n > 1 else math.nan),
        "self": sum(a[i][i] for i in range(n)) / n,
        "max_weight": sum(max(row) for row in a) / n,
    }
    values = []
    for i in range(n):
        p = max((j for j in range(i) if ids[j] == ids[i]), default=None)
        if p is not None:
            values.append(a[i][p + 1])
    out["induction"] = sum(values) / len(values) if values else math.nan
    return out


@settings(max_examples=100, deadline=None)
@given(stochastic(), st.data())
def test_metrics_match_naive_loops(a: np.ndarray, data: st.DataObject) -> None:
    n = a.shape[0]
    ids = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    got = head_metrics(a, ids)
    want = naive_metrics(a.tolist(), ids)
    for name in METRICS:
        if math.isnan(want[name]):
            assert math.isnan(got[name]), name
        else:
            assert got[name] == pytest.approx(want[name], rel=1e-12, abs=1e-14), name
    assert 0 <= got["entropy"] <= math.log(n) + 1e-12
    assert got["max_weight"] >= max(got["first_token"], got["self"]) - 1e-12


# The induction test input ---------------------------------------------------


def test_induction_input_is_bos_then_k_then_the_same_k() -> None:
    made = induction_input(np.arange(100, 200), 5, seed=3, bos=1)
    assert made.ids[0] == 1 and len(made.ids) == 11
    first, second = made.ids[1:6], made.ids[6:]
    assert first == second
    assert len(set(first)) == 5 and all(100 <= i < 200 for i in first)
    assert induction_input(np.arange(100, 200), 5, seed=3, bos=1) == made  # seeded
    assert induction_input(np.arange(100, 200), 5, seed=4, bos=1).ids != made.ids
    assert "5 random token ids" in made.describe("<s>") and "default_rng(3)" in made.describe("<s>")
    no_bos = induction_input(np.arange(10), 3, seed=0, bos=None)
    assert len(no_bos.ids) == 6 and no_bos.ids[:3] == no_bos.ids[3:]
    # Induction is defined on exactly the second copy: row i repeats position i - K,
    # whose successor i - K + 1 is where an induction head looks.
    rows, targets = induction_targets(made.ids)
    assert rows.tolist() == list(range(6, 11)) and targets.tolist() == list(range(2, 7))


def test_induction_input_refusals() -> None:
    with pytest.raises(ModelError, match="K = 11 is too large"):
        induction_input(np.arange(10), 11, seed=0, bos=None)
    with pytest.raises(ModelError, match=">= 1"):
        induction_input(np.arange(10), 0, seed=0, bos=None)


# Files --------------------------------------------------------------------------


def test_heads_csv_and_rollout_csv() -> None:
    att = np.stack([np.stack([A3, A3]), np.stack([np.eye(3), A3])])
    atlas = atlas_from_attentions(att, [1, 2, 3], ["a", "b,c", "d"])
    rows = list(csv.reader(io.StringIO(heads_csv_text(atlas))))
    assert rows[0] == [
        "layer",
        "head",
        "entropy",
        "first_token",
        "previous_token",
        "self",
        "max_weight",
        "induction",
    ]
    assert [r[:2] for r in rows[1:]] == [["1", "1"], ["1", "2"], ["2", "1"], ["2", "2"]]
    layer2_head1 = rows[3]
    assert layer2_head1[2:] == ["0.0", "0.3333333333333333", "0.0", "1.0", "1.0", ""]
    assert float(rows[1][5]) == (0.25 + 0.6 + 0.6) / 3  # shortest round-trip reads back
    roll = list(csv.reader(io.StringIO(rollout_csv_text(atlas))))
    assert roll[0] == ["query\\key", "a", "b,c", "d"]
    assert [r[0] for r in roll[1:]] == ["a", "b,c", "d"]
    back = np.array([[float(x) for x in r[1:]] for r in roll[1:]])
    assert np.array_equal(back, atlas.rollout)


def test_top_heads_order_ties_and_undefined() -> None:
    att = np.stack([np.stack([A3, np.eye(3)]), np.stack([np.eye(3), A3])])
    atlas = atlas_from_attentions(att, [1, 2, 3], ["a", "b", "c"])
    assert [(lh[0], lh[1]) for lh in top_heads(atlas, "self", 2)] == [(1, 2), (2, 1)]
    assert top_heads(atlas, "induction", 5) == []  # undefined everywhere
