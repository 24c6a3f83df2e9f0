"""Choosing the next token from a row of logits (DESIGN.md, "Generation").

Greedy: the argmax of the logits, ties going to the lowest token id.
Sampling: softmax(logits / T) in float64, then top-k, then top-p, then one draw
from a seeded ``numpy.random.Generator`` (``numpy.random.default_rng(S)``).

The order of the candidates is fixed so that a draw is reproducible and can be
worked out by hand: probability descending, equal probabilities by lowest id.
Top-k keeps the first k of that order (exactly k, even among ties); top-p keeps
the shortest prefix of what is left whose mass reaches p. The draw is one
uniform number u = ``rng.random()`` in [0, 1): the chosen token is the first
candidate whose cumulative (renormalised) probability exceeds u.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class SamplingError(ValueError):
    """Sampling settings or logits that cannot be used (one message that names the field)."""


@dataclass(frozen=True)
class Sampling:
    """Settings of a sampled continuation; ``top_k``/``top_p`` None means that filter is off."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t <= 0:
            raise SamplingError(
                f"temperature must be a finite number > 0 (greedy needs none), got {t!r}"
            )
        k = self.top_k
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise SamplingError(f"top-k must be a whole number >= 1, got {k!r}")
        p = self.top_p
        if p is not None and (
            isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p <= 1
        ):
            raise SamplingError(f"top-p must be a number in (0, 1], got {p!r}")
        s = self.seed
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise SamplingError(f"seed must be a whole number >= 0, got {s!r}")


def _checked_logits(logits: np.ndarray) -> np.ndarray:
    """The logits as a 1-D float64 array; refuses NaN, +inf and an all -inf row."""
    row = np.asarray(logits, dtype=np.float64)
    if row.ndim != 1 or row.size == 0:
        raise SamplingError(f"logits must be one non-empty row, got shape {row.shape}")
    if np.isnan(row).any() or np.isposinf(row).any():
        raise SamplingError("logits contain NaN or +inf")
    if np.isneginf(row).all():
        raise SamplingError("every logit is -inf: no token can be chosen")
    return row


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T) in float64 (max subtracted first, so nothing overflows)."""
    row = _checked_logits(logits)
    # shift first, then divide: (l - max) / T never overflows where l / T could
    with np.errstate(over="ignore"):  # a difference beyond float range is -inf: weight 0
        shifted = np.exp((row - row.max()) / float(temperature))
    out: np.ndarray = shifted / shifted.sum()
    return out


def greedy(logits: np.ndarray) -> int:
    """The id of the largest logit; among equal largest logits, the lowest id."""
    return int(np.argmax(_checked_logits(logits)))  # argmax returns the first maximum


def candidate_order(probs: np.ndarray) -> np.ndarray:
    """Token ids by probability descending, equal probabilities by lowest id first."""
    return np.argsort(-np.asarray(probs, dtype=np.float64), kind="stable")


def top_ids(probs: np.ndarray, k: int) -> np.ndarray:
    """The k most probable ids in candidate order (fewer if the vocabulary is smaller)."""
    return candidate_order(probs)[:k]


def filtered(probs: np.ndarray, top_k: int | None, top_p: float | None) -> np.ndarray:
    """The candidates left after top-k then top-p, in candidate order (zero-probability
    tokens never survive: they cannot be drawn)."""
    order: np.ndarray = candidate_order(probs)
    p_sorted = np.asarray(probs, dtype=np.float64)[order]
    order = order[p_sorted > 0]
    p_sorted = p_sorted[p_sorted > 0]
    if top_k is not None:
        order, p_sorted = order[:top_k], p_sorted[:top_k]
    if top_p is not None:
        mass = np.cumsum(p_sorted / p_sorted.sum())
        # the shortest prefix whose mass reaches p; rounding may leave the total a hair
        # under 1, so p = 1 keeps everything by definition
        keep = len(order) if top_p >= 1 else int(np.searchsorted(mass, top_p, side="left")) + 1
        order = order[: min(keep, len(order))]
    return order


def sample(probs: np.ndarray, sampling: Sampling, rng: np.random.Generator) -> int:
    """One draw from ``probs`` (already softmax(logits / T)) after top-k and top-p."""
    ids = filtered(probs, sampling.top_k, sampling.top_p)
    kept = np.asarray(probs, dtype=np.float64)[ids]
    cumulative = np.cumsum(kept / kept.sum())
    u = float(rng.random())
    index = int(np.searchsorted(cumulative, u, side="right"))
    return int(ids[min(index, len(ids) - 1)])  # u below 1 but cumulative[-1] may round under u


def choose(logits: np.ndarray, sampling: Sampling | None, rng: np.random.Generator | None) -> int:
    """Greedy when ``sampling`` is None, otherwise a seeded draw from softmax(logits / T)."""
    if sampling is None:
        return greedy(logits)
    if rng is None:
        raise SamplingError("sampling needs a random generator (numpy.random.default_rng(seed))")
    return sample(softmax(logits, sampling.temperature), sampling, rng)
