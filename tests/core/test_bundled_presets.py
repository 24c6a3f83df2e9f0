"""Every bundled preset loads, computes, and shows what its description teaches.

Expected numbers are worked out independently here (plain math.exp over
hand-derived scores, naive loops), never copied from the program's output.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import selfattn
from selfattn.bundled import bundled_names, load_bundled

ROOT = Path(__file__).resolve().parents[2]

TEACHING_PRESETS = [
    "seed-example-unscaled",
    "causal-the-cat-sat",
    "two-heads-self-and-previous",
    "cross-attention-translation",
    "padding-mask",
    "temperature",
    "uniform-attention",
]


def softmax(row: list[float]) -> list[float]:
    """Reference softmax over plain floats."""
    top = max(row)
    e = [math.exp(v - top) for v in row]
    total = math.fsum(e)
    return [v / total for v in e]


def test_at_least_six_bundled_presets():
    names = bundled_names()
    assert len(names) >= 6
    for name in TEACHING_PRESETS:
        assert name in names


@pytest.mark.parametrize("name", bundled_names())
def test_bundled_preset_loads_and_computes_finite(name):
    preset = load_bundled(name)
    assert preset.name.strip()
    assert preset.description.strip()
    result = selfattn.compute(preset)
    for array in (result.q, result.k, result.v, result.scores, result.weights, result.output):
        assert np.all(np.isfinite(array))
    visible_logits = result.scaled_scores[:, result.mask]
    assert np.all(np.isfinite(visible_logits))
    row_sums = result.weights.sum(axis=2)  # (H, n)
    for i in range(result.n_queries):
        expected = 0.0 if result.fully_masked[i] else 1.0
        np.testing.assert_allclose(row_sums[:, i], expected, atol=1e-12)


@pytest.mark.parametrize("name", TEACHING_PRESETS)
def test_teaching_preset_is_small_and_well_described(name):
    preset = load_bundled(name)
    assert preset.n_tokens <= 8 and preset.n_keys <= 8
    # A sentence ends at . ! or ? before a capital, a quote or a bracket ("q_i . k_j" is no end).
    sentences = re.split(r"[.!?]\s+(?=[A-Z'\[])", preset.description.strip())
    assert 2 <= len(sentences) <= 5
    assert len(preset.description) >= 150


# Words of the file format or of the arrays, not of the window a person reads the text in.
JARGON = re.compile(
    r"options\.|key_mask|sqrt_dk|\w\[\d|\brows? 0\b|\bcolumns? 0|q_i|k_j", re.IGNORECASE
)


@pytest.mark.parametrize("name", [*TEACHING_PRESETS, "seed-example"])
def test_description_speaks_the_window_language(name):
    """Options, tabs and labels as the window shows them; rows and columns counted from 1."""
    description = load_bundled(name).description
    assert not JARGON.search(description), JARGON.search(description)


def test_jargon_pattern_catches_the_old_wording():
    for old in (
        "options.key_mask is false for the [PAD] columns",
        "Row 0's scores are still 2, 4, 4",
        "(inputs columns 0-1)",
        "so q_i . k_j = 8 only when j = i - 1",
        "(weights[0] = 0.136, 0.432, 0.432)",
    ):
        assert JARGON.search(old), old
    assert not JARGON.search("Set W_O's rows h2:v1 and h2:v2 to 0 (X columns x1-x2).")


def test_generator_and_files_agree():
    """tools/make_presets.py --check: the JSON files are what the script builds."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_presets.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


# seed-example-unscaled ------------------------------------------------------


def test_unscaled_seed_uses_seed_numbers_without_divisor():
    seed = load_bundled("seed-example")
    unscaled = load_bundled("seed-example-unscaled")
    for field in ("inputs", "w_query", "w_key", "w_value"):
        np.testing.assert_array_equal(getattr(unscaled, field), getattr(seed, field))
    assert unscaled.options.scale == "none"
    result = selfattn.compute(unscaled)
    # Row 0's raw scores are 2, 4, 4 (hand-worked in test_explain.py); no division.
    np.testing.assert_allclose(result.weights[0, 0], softmax([2.0, 4.0, 4.0]), rtol=1e-14)


def test_unscaled_rows_are_peakier_than_scaled_seed():
    scaled = selfattn.compute(load_bundled("seed-example")).weights[0]
    unscaled = selfattn.compute(load_bundled("seed-example-unscaled")).weights[0]
    assert np.all(unscaled.max(axis=1) > scaled.max(axis=1))
    assert unscaled[1].max() > 0.98  # "the 'input_2' row is almost one-hot"


# causal-the-cat-sat ---------------------------------------------------------


def test_causal_toy_zeroes_every_future_key():
    preset = load_bundled("causal-the-cat-sat")
    assert preset.options.causal
    assert preset.tokens == ("the", "cat", "sat", "on", "the", "mat")
    assert 4 <= preset.d_model <= 8
    w = selfattn.compute(preset).weights[0]
    n = preset.n_tokens
    for i in range(n):
        for j in range(i + 1, n):
            assert w[i, j] == 0.0


def test_causal_toy_attends_to_previous_word():
    preset = load_bundled("causal-the-cat-sat")
    w = selfattn.compute(preset).weights[0]
    np.testing.assert_array_equal(w[0], [1, 0, 0, 0, 0, 0])
    big = math.exp(8 / math.sqrt(6))  # q_i . k_(i-1) = 8, every other visible score 0
    for i in range(1, preset.n_tokens):
        assert int(np.argmax(w[i])) == i - 1
        assert w[i, i - 1] == pytest.approx(big / (big + i), rel=1e-13)
    assert round(w[1, 0], 2) == 0.96 and round(w[5, 4], 2) == 0.84  # as the text says


def test_causal_toy_context_reports_previous_word_features():
    preset = load_bundled("causal-the-cat-sat")
    context = selfattn.compute(preset).context[0]
    # After 'the' (a determiner), the [determiner, noun] context is mostly determiner.
    assert context[1, 0] > 0.9 and context[5, 0] > 0.8


# two-heads-self-and-previous ------------------------------------------------


def test_two_heads_do_different_things():
    preset = load_bundled("two-heads-self-and-previous")
    assert preset.options.heads == 2 and preset.d_k == 2 and preset.d_v == 2
    assert preset.w_output is not None
    w = selfattn.compute(preset).weights
    for i in range(preset.n_tokens):
        assert int(np.argmax(w[0, i])) == i  # head 1: itself
        assert w[0, i, i] > 0.85
    assert w[1, 0, 0] == 1.0  # head 2: nothing before the first token
    for i in range(1, preset.n_tokens):
        assert int(np.argmax(w[1, i])) == i - 1  # head 2: previous token
        assert w[1, i, i - 1] > 0.85


def test_two_heads_output_is_concat_times_w_o():
    preset = load_bundled("two-heads-self-and-previous")
    result = selfattn.compute(preset)
    n, d_out = result.output.shape
    for i in range(n):
        for c in range(d_out):
            total = 0.0
            for h in range(2):
                for t in range(2):
                    total += result.context[h, i, t] * preset.w_output[h * 2 + t, c]
            assert result.output[i, c] == pytest.approx(total, rel=1e-14, abs=1e-15)
    # "output = own features + 0.5 x the previous word's": W_O = [I; 0.5 I].
    np.testing.assert_array_equal(preset.w_output, [[1, 0], [0, 1], [0.5, 0], [0, 0.5]])


# cross-attention-translation ------------------------------------------------


def test_cross_attention_aligns_words():
    preset = load_bundled("cross-attention-translation")
    assert preset.source_inputs is not None
    assert preset.tokens == ("the", "black", "cat")
    assert preset.key_tokens == ("le", "chat", "noir")
    w = selfattn.compute(preset).weights[0]
    aligned = {"the": "le", "black": "noir", "cat": "chat"}
    big = math.exp(4 / math.sqrt(3))
    for i, word in enumerate(preset.tokens):
        j = int(np.argmax(w[i]))
        assert preset.key_tokens[j] == aligned[word]
        assert w[i, j] == pytest.approx(big / (big + 2), rel=1e-13)


# padding-mask ---------------------------------------------------------------


def test_padding_columns_get_exactly_zero_weight():
    preset = load_bundled("padding-mask")
    mask = preset.options.key_mask
    assert mask is not None
    pads = [j for j, tok in enumerate(preset.tokens) if tok == "[PAD]"]
    assert pads and [j for j, keep in enumerate(mask) if not keep] == pads
    w = selfattn.compute(preset).weights[0]
    assert np.all(w[:, pads] == 0.0)


def test_padding_mask_makes_real_rows_equal_unpadded_sentence():
    preset = load_bundled("padding-mask")
    real = [j for j, tok in enumerate(preset.tokens) if tok != "[PAD]"]
    unpadded = preset.replace(inputs=preset.inputs[real], tokens=()).with_options(key_mask=None)
    padded_result = selfattn.compute(preset)
    plain_result = selfattn.compute(unpadded)
    np.testing.assert_allclose(
        padded_result.weights[0][np.ix_(real, real)], plain_result.weights[0], rtol=1e-14
    )
    np.testing.assert_allclose(padded_result.output[real], plain_result.output, rtol=1e-14)


def test_without_the_mask_padding_takes_weight_and_changes_the_result():
    preset = load_bundled("padding-mask")
    pads = [j for j, tok in enumerate(preset.tokens) if tok == "[PAD]"]
    real = [j for j, tok in enumerate(preset.tokens) if tok != "[PAD]"]
    masked = selfattn.compute(preset)
    unmasked = selfattn.compute(preset.with_options(key_mask=None))
    assert np.all(unmasked.weights[0][np.ix_(real, pads)] > 0)
    assert not np.allclose(unmasked.output[real], masked.output[real])


# temperature ----------------------------------------------------------------


def test_temperature_preset_divides_logits_by_t():
    preset = load_bundled("temperature")
    assert preset.options.scale == "none" and preset.options.temperature == 0.5
    w = selfattn.compute(preset).weights[0]
    expected = softmax([0 / 0.5, 1 / 0.5, 2 / 0.5])  # scores 0, 1, 2 in every row
    for row in w:
        np.testing.assert_allclose(row, expected, rtol=1e-14)
    assert [round(v, 3) for v in expected] == [0.016, 0.117, 0.867]


def test_lower_temperature_is_peakier():
    preset = load_bundled("temperature")
    cold = selfattn.compute(preset).weights[0]
    t1 = selfattn.compute(preset.with_options(temperature=1.0)).weights[0]
    hot = selfattn.compute(preset.with_options(temperature=10.0)).weights[0]
    assert np.all(cold.max(axis=1) > t1.max(axis=1))
    assert np.all(t1.max(axis=1) > hot.max(axis=1))


# uniform-attention ----------------------------------------------------------


def test_uniform_attention_averages_values():
    preset = load_bundled("uniform-attention")
    result = selfattn.compute(preset)
    n = preset.n_tokens
    assert np.all(result.weights == 1 / n)
    values = [
        [
            sum(preset.inputs[j, r] * preset.w_value[r, c] for r in range(preset.d_model))
            for c in (0, 1)
        ]
        for j in range(n)
    ]
    mean = [sum(v[c] for v in values) / n for c in (0, 1)]
    for i in range(n):
        np.testing.assert_allclose(result.context[0, i], mean, rtol=1e-14)
