"""Explain of a masked cell: the mask rule is the answer, said before any arithmetic.

The masks below are read off the presets by hand: the bundled real-attention-sink is a
causal RoPE decoder over 9 tokens (query 4 'Ġon' cannot see key 6 'Ġmat'); padding-mask
unticks the [PAD] keys 5 and 6; a causal window of 2 over 4 tokens hides key 1 from
query 4 (positions 0 and 3)."""

from __future__ import annotations

import numpy as np

import selfattn
from selfattn.bundled import load_bundled
from selfattn.explain import explain_scaled_score, explain_score, explain_weight
from selfattn.preset import Options, Preset


def flat(text: str) -> str:
    return " ".join(text.split())


def before_steps(text: str) -> str:
    """The text before step 1 (the explanation's lead), on one line."""
    head, _, _ = text.partition("\n1. ")
    return flat(head)


def test_causal_masked_rope_weight_answers_first_and_leaves_the_rotation_out():
    preset = load_bundled("real-attention-sink")
    result = selfattn.compute(preset)
    text = explain_weight(preset, result, 0, 3, 5).render()
    assert text.startswith("Masked: key 6 'Ġmat' comes after query 4 'Ġon' (causal mask)")
    assert (
        "Masked: key 6 'Ġmat' comes after query 4 'Ġon' (causal mask), so its weight is "
        "exactly 0 — the score below is computed but never used." in before_steps(text)
    )
    assert "'causal' ticked in Options" in before_steps(text)
    # The 64 pairs of rotation arithmetic are left out: the score is never used.
    assert "Rotate Q row" not in text and "Rotate K row" not in text
    assert "Explain the Raw scores cell to see it pair by pair" in flat(text)
    assert len(text.splitlines()) < 100  # was about 570 lines, the answer on line 562
    # The raw score's own explanation still rotates, after the same answer.
    score_text = explain_score(preset, result, 0, 3, 5).render()
    assert before_steps(score_text).startswith(
        "Masked: key 6 'Ġmat' comes after query 4 'Ġon' (causal mask), so this raw score is "
        "computed but never used"
    )
    assert "1. Rotate Q row 4 (query 4 'Ġon', head 1) by its position p = 3" in score_text


def test_a_visible_weight_has_no_masked_answer():
    preset = load_bundled("real-attention-sink")
    result = selfattn.compute(preset)
    text = explain_weight(preset, result, 0, 5, 3).render()  # query 6 sees key 4
    assert text.startswith("1. Rotate Q row 6")
    assert "Masked:" not in text and "never used" not in text


def test_padding_key_mask_answer_comes_first():
    preset = load_bundled("padding-mask")
    result = selfattn.compute(preset)
    lead = before_steps(explain_weight(preset, result, 0, 1, 4).render())
    assert lead.startswith(
        "Masked: key 5 '[PAD]' is switched off for every query (key mask), so its weight is "
        "exactly 0"
    )
    assert "'attend' box of key 5 '[PAD]' is unticked in the Inputs panel's Tokens tab" in lead


def test_scaled_score_of_a_masked_cell_says_minus_infinity_first():
    preset = load_bundled("causal-the-cat-sat")
    result = selfattn.compute(preset)
    lead = before_steps(explain_scaled_score(preset, result, 0, 1, 3).render())
    assert lead.startswith(
        "Masked: key 4 'on' comes after query 2 'cat' (causal mask), so its scaled score is "
        "-inf and its weight exactly 0"
    )


def test_window_masked_weight_names_the_window_first():
    eye = np.eye(4)
    preset = Preset(
        inputs=eye, w_query=eye, w_key=eye, w_value=eye,
        options=Options(causal=True, window=2),
    )  # fmt: skip
    lead = before_steps(explain_weight(preset, selfattn.compute(preset), 0, 3, 0).render())
    assert lead.startswith(
        "Masked: key 1 't1' is outside the sliding window of query 4 't4' (window of 2), so "
        "its weight is exactly 0"
    )
    assert "causal mask" not in lead


def test_two_rules_are_both_named():
    """Causal and the key mask both hide key 3 from query 1 of the seed example."""
    preset = load_bundled("seed-example").with_options(causal=True, key_mask=(True, True, False))
    lead = before_steps(explain_weight(preset, selfattn.compute(preset), 0, 0, 2).render())
    assert lead.startswith(
        "Masked: key 3 'input_3' comes after query 1 'input_1' (causal mask); key 3 'input_3' "
        "is switched off for every query (key mask), so its weight is exactly 0"
    )


def test_fully_masked_row_says_so_before_the_arithmetic():
    preset = load_bundled("seed-example").with_options(causal=True, key_mask=(False, True, True))
    lead = before_steps(explain_weight(preset, selfattn.compute(preset), 0, 0, 0).render())
    assert lead.startswith("Masked: key 1 'input_1' is switched off for every query (key mask)")
    assert "Row 1 (query 1 'input_1') is fully masked" in lead and "convention" in lead
