"""Choosing the next token: greedy, temperature, top-k, top-p and seeded draws.

Expected numbers are worked out by hand (dyadic probabilities, so the sums are
exact) or by a naive loop written here; nothing is copied from the code's output.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfattn.sampling import (
    Sampling,
    SamplingError,
    candidate_order,
    choose,
    filtered,
    greedy,
    sample,
    softmax,
    top_ids,
)

REPO = Path(__file__).resolve().parents[2]

# order by probability: id 1 (0.5), id 3 (0.25), id 0 (0.125), id 2 (0.125; tie -> after 0)
DYADIC = np.array([0.125, 0.5, 0.125, 0.25])


class FixedDraw:
    """Stands in for numpy's Generator: ``random()`` returns the given numbers in turn."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


# ---------------------------------------------------------------- greedy and softmax


def test_greedy_takes_the_largest_logit():
    assert greedy(np.array([0.1, -2.0, 7.5, 3.0])) == 2


def test_greedy_ties_go_to_the_lowest_id():
    assert greedy(np.array([1.0, 3.0, 2.0, 3.0, 3.0])) == 1
    assert greedy(np.zeros(10)) == 0


def test_greedy_ignores_minus_infinity_and_reads_float32():
    logits = np.array([-np.inf, -5.0, -np.inf, -4.5], dtype=np.float32)
    assert greedy(logits) == 3


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.array([0.0, np.nan]), "NaN"),
        (np.array([0.0, np.inf]), "+inf"),
        (np.array([-np.inf, -np.inf]), "every logit is -inf"),
        (np.zeros((2, 2)), "one non-empty row"),
        (np.zeros(0), "one non-empty row"),
    ],
)
def test_unusable_logits_are_refused_with_a_reason(bad, words):
    with pytest.raises(SamplingError, match=words.replace("+", r"\+")):
        greedy(bad)
    with pytest.raises(SamplingError):
        softmax(bad)


def test_softmax_of_log_ratios_gives_those_ratios():
    probs = softmax(np.log(np.array([1.0, 2.0, 3.0])))
    assert probs.dtype == np.float64
    np.testing.assert_allclose(probs, [1 / 6, 2 / 6, 3 / 6], rtol=1e-15)


def test_temperature_divides_the_logits():
    # T = 2 on logits log(1), log(4), log(9): exp(l / 2) = 1, 2, 3
    probs = softmax(np.log(np.array([1.0, 4.0, 9.0])), temperature=2.0)
    np.testing.assert_allclose(probs, [1 / 6, 2 / 6, 3 / 6], rtol=1e-15)
    # T = 0.5 squares the odds: 1, 4, 9 from 1, 2, 3
    probs = softmax(np.log(np.array([1.0, 2.0, 3.0])), temperature=0.5)
    np.testing.assert_allclose(probs, [1 / 14, 4 / 14, 9 / 14], rtol=1e-14)


def test_softmax_of_float32_logits_is_computed_in_float64():
    logits = np.array([0.0, 1e-7], dtype=np.float32)
    probs = softmax(logits)
    expected = 1 / (1 + math.exp(-float(np.float32(1e-7))))
    assert probs[1] == pytest.approx(expected, rel=1e-15)


def test_huge_logits_do_not_overflow():
    probs = softmax(np.array([1e308, -1e308, 1e308]), temperature=0.01)
    np.testing.assert_array_equal(probs, [0.5, 0.0, 0.5])


@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=50),
    st.floats(min_value=0.01, max_value=100.0),
)
def test_probabilities_are_non_negative_and_sum_to_one(values, temperature):
    probs = softmax(np.array(values), temperature)
    assert (probs >= 0).all()
    assert math.fsum(probs) == pytest.approx(1.0, abs=1e-12)
    # the greedy token is a most probable one (logits 1e-92 apart give equal probabilities)
    assert probs[greedy(np.array(values))] == probs.max()


# ---------------------------------------------------------------- top-k and top-p


def test_candidates_are_ordered_by_probability_then_lowest_id():
    assert candidate_order(DYADIC).tolist() == [1, 3, 0, 2]
    assert top_ids(np.full(4, 0.25), 2).tolist() == [0, 1]


def test_top_k_keeps_exactly_k_even_among_ties():
    assert filtered(DYADIC, top_k=2, top_p=None).tolist() == [1, 3]
    assert filtered(DYADIC, top_k=3, top_p=None).tolist() == [1, 3, 0]
    assert filtered(DYADIC, top_k=10, top_p=None).tolist() == [1, 3, 0, 2]


@pytest.mark.parametrize(
    "p, kept",
    [
        (0.4, [1]),  # 0.5 >= 0.4 already
        (0.5, [1]),  # exactly reached
        (0.6, [1, 3]),
        (0.75, [1, 3]),  # 0.5 + 0.25 reaches it exactly
        (0.76, [1, 3, 0]),
        (0.875, [1, 3, 0]),
        (0.9, [1, 3, 0, 2]),
        (1.0, [1, 3, 0, 2]),
    ],
)
def test_top_p_keeps_the_shortest_prefix_reaching_p(p, kept):
    assert filtered(DYADIC, top_k=None, top_p=p).tolist() == kept


def test_top_k_comes_before_top_p():
    # top-3 leaves 0.5, 0.25, 0.125 -> renormalised 4/7, 2/7, 1/7: 6/7 >= 0.8 after two
    assert filtered(DYADIC, top_k=3, top_p=0.8).tolist() == [1, 3]
    # top-p alone needs three tokens for 0.8 (0.75 < 0.8)
    assert filtered(DYADIC, top_k=None, top_p=0.8).tolist() == [1, 3, 0]


def test_zero_probability_tokens_are_never_candidates():
    probs = np.array([0.0, 0.5, 0.0, 0.5])
    assert filtered(probs, top_k=4, top_p=1.0).tolist() == [1, 3]


@pytest.mark.parametrize(
    "u, chosen",
    [(0.0, 1), (0.49, 1), (0.5, 3), (0.74, 3), (0.75, 0), (0.875, 2), (0.9999, 2)],
)
def test_a_draw_walks_the_cumulative_probabilities_in_candidate_order(u, chosen):
    # cumulative: id 1 -> 0.5, id 3 -> 0.75, id 0 -> 0.875, id 2 -> 1
    assert sample(DYADIC, Sampling(), FixedDraw(u)) == chosen


@pytest.mark.parametrize("u, chosen", [(0.0, 1), (0.6, 1), (0.67, 3), (0.99, 3)])
def test_a_draw_after_top_k_uses_the_renormalised_probabilities(u, chosen):
    # top-2: 0.5 and 0.25 -> 2/3 and 1/3
    assert sample(DYADIC, Sampling(top_k=2), FixedDraw(u)) == chosen


def test_choose_applies_the_temperature_before_drawing():
    # logits log(1), log(4), log(9) at T = 2 -> 1/6, 2/6, 3/6; order 2, 1, 0
    logits = np.log(np.array([1.0, 4.0, 9.0]))
    sampling = Sampling(temperature=2.0)
    assert choose(logits, sampling, FixedDraw(0.49)) == 2
    assert choose(logits, sampling, FixedDraw(0.51)) == 1
    assert choose(logits, sampling, FixedDraw(0.83)) == 1  # 1/2 + 1/3 = 0.8333...
    assert choose(logits, sampling, FixedDraw(0.84)) == 0
    assert choose(logits, None, None) == 2  # greedy needs no generator


def test_draw_frequencies_follow_the_filtered_distribution():
    rng = np.random.default_rng(2024)
    sampling = Sampling(top_k=3)
    draws = [sample(DYADIC, sampling, rng) for _ in range(20000)]
    counts = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(counts, [1 / 7, 4 / 7, 0.0, 2 / 7], atol=0.015)


@given(
    st.lists(st.floats(min_value=-30, max_value=30), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=50),
)
def test_top_k_keeps_the_k_most_probable(values, k):
    probs = softmax(np.array(values))
    kept = filtered(probs, top_k=k, top_p=None)
    positive = int((probs > 0).sum())
    assert len(kept) == min(k, positive)
    dropped = np.setdiff1d(np.arange(len(probs)), kept)
    if len(dropped) and len(kept):
        assert probs[kept].min() >= probs[dropped].max()


@given(
    st.lists(st.floats(min_value=-30, max_value=30), min_size=1, max_size=40),
    st.floats(min_value=1e-6, max_value=1.0),
)
def test_top_p_keeps_the_smallest_prefix_with_mass_at_least_p(values, p):
    probs = softmax(np.array(values))
    kept = filtered(probs, top_k=None, top_p=p).tolist()
    # naive truth: walk the tokens from most to least probable (ties: lowest id first)
    order = sorted(range(len(probs)), key=lambda i: (-probs[i], i))
    order = [i for i in order if probs[i] > 0]
    assert kept == order[: len(kept)]
    total = math.fsum(probs[i] for i in order)
    mass = math.fsum(probs[i] for i in kept) / total
    before = math.fsum(probs[i] for i in kept[:-1]) / total
    assert mass >= p - 1e-12 or len(kept) == len(order)
    assert before < p + 1e-12


# ---------------------------------------------------------------- reproducibility


DRAWS_CODE = """
import numpy as np
from selfattn.sampling import Sampling, choose
logits = np.log(np.arange(1, 33, dtype=np.float64))
s = Sampling(temperature=1.3, top_k=20, top_p=0.9, seed=1234)
rng = np.random.default_rng(s.seed)
print(",".join(str(choose(logits, s, rng)) for _ in range(200)))
"""


def _draws_here(seed: int) -> list[int]:
    logits = np.log(np.arange(1, 33, dtype=np.float64))
    s = Sampling(temperature=1.3, top_k=20, top_p=0.9, seed=seed)
    rng = np.random.default_rng(s.seed)
    return [choose(logits, s, rng) for _ in range(200)]


def test_the_same_seed_gives_the_same_draws_in_another_process():
    proc = subprocess.run(
        [sys.executable, "-c", DRAWS_CODE],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    there = [int(x) for x in proc.stdout.strip().split(",")]
    assert there == _draws_here(1234)
    assert _draws_here(1234) == _draws_here(1234)
    assert _draws_here(1235) != _draws_here(1234)
    assert len(set(there)) > 5  # really sampled, not constant


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"top_k": 0}, "top-k"),
        ({"top_k": 2.5}, "top-k"),
        ({"top_p": 0.0}, "top-p"),
        ({"top_p": 1.5}, "top-p"),
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
    ],
)
def test_bad_sampling_settings_are_refused_naming_the_setting(kwargs, words):
    with pytest.raises(SamplingError, match=words):
        Sampling(**kwargs)


def test_sampling_without_a_generator_is_refused():
    with pytest.raises(SamplingError, match="random generator"):
        choose(np.zeros(3), Sampling(), None)
