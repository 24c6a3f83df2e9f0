"""Readable token labels for the window (selfattn.token_display); presets keep the raw ones.

Independent truth: the `tokenizers` package's own byte-level decoder (decoding each
token id alone) for every token transformers gave in the decoder fixtures, and
hand-worked spellings (GPT-2's byte alphabet: space = Ġ, newline = Ċ, é = Ã©).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import selfattn
from selfattn.bundled import load_bundled
from selfattn.export import result_tables
from selfattn.models.decoder_tokenizer import DecoderTokenizer
from selfattn.token_display import display_token, display_tokens

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "decoders"
STAND_INS = {"␣": " ", "↵": "\n", "⇥": "\t"}


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("ĠThe", "␣The"),
        ("Ċ", "↵"),
        ("ĊĊ", "↵↵"),
        ("ĉ", "⇥"),
        ("ĠĠĠ", "␣␣␣"),
        ("Ã©", "é"),
        ("caf", "caf"),
        ("ĠcafÃ©", "␣café"),
        ("ðŁĻĤ", "🙂"),  # F0 9F 99 82
        ("âĢĻ", "\u2019"),  # E2 80 99: the right single quote
        ("ðŁ", "\\xf0\\x9f"),  # the first half of an emoji split across tokens
        ("ĠåĮĹ", "␣\u5317"),  # E5 8C 97: 北
        ("▁word", "␣word"),  # SentencePiece
        ("<0x0A>", "↵"),
        ("<0x20>", "␣"),
    ],
)
def test_hand_worked_spellings(label: str, shown: str) -> None:
    assert display_token(label) == shown


@pytest.mark.parametrize(
    "label",
    [
        "cat",
        "x1",
        "h2:q1",
        "kv2:k1",
        "[CLS]",
        "##ing",
        "<s>",
        "</s>",
        "<|im_start|>",
        "café",
        "Ä",
        "naïve",
        "the cat",
        "",
        "▸ ␣the",
        "q0",
    ],
)
def test_hand_written_labels_are_shown_as_they_are(label: str) -> None:
    assert display_token(label) == label


def _decoded_pairs() -> list[tuple[str, str, str]]:
    """(transformers' token, its display in its sentence, tokenizers' decoding of its id
    alone) from every fixture."""
    pairs = []
    for name in ("tiny-llama", "tiny-qwen2", "tiny-gpt2"):
        tok = DecoderTokenizer.from_file(FIXTURES / name / "tokenizer.json")
        with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as ref:
            for key in ref.files:
                if key.startswith("ids_"):
                    tokens = [str(t) for t in ref["tokens_" + key[4:]].tolist()]
                    shown = display_tokens(tokens)
                    for i, token, s in zip(ref[key].tolist(), tokens, shown, strict=True):
                        pairs.append((token, s, tok.decode([i])))
    return pairs


def test_every_fixture_token_shows_what_the_tokenizer_decodes() -> None:
    pairs = [(t, s, d) for t, s, d in _decoded_pairs() if d]
    assert len(pairs) > 200
    checked = 0
    for token, shown, decoded in pairs:
        if "\ufffd" in decoded:  # part of a character: shown as byte escapes
            assert "\\x" in shown, token
            continue
        back = "".join(STAND_INS.get(c, c) for c in shown)
        assert back == decoded, (token, shown, decoded)
        assert not any(c in shown for c in " \n\t")  # nothing invisible on screen
        checked += 1
    assert checked > 200


def test_smollm2_fixture_tokens_lose_their_byte_spelling() -> None:
    with np.load(FIXTURES / "smollm2.npz", allow_pickle=False) as ref:
        sentences = [[str(t) for t in ref[key].tolist()] for key in ref.files if "tokens_" in key]
    shown = [s for tokens in sentences for s in display_tokens(tokens)]
    assert sum("␣" in s for s in shown) > 10
    assert {"␣cat", "é", "␣façade", "↵", "<|im_start|>", "␣🙂"} <= set(shown)
    assert not any(c in s for s in shown for c in "ĠĊÃ")


def test_a_split_character_shows_its_bytes_in_a_byte_level_sentence() -> None:
    assert display_tokens(["ĠCaf", "Ã", "©"]) == ["␣Caf", "\\xc3", "\\xa9"]
    assert display_tokens(["Ã"]) == ["Ã"]  # alone: a hand-written label


def test_the_preset_and_its_csv_keep_the_raw_tokens() -> None:
    preset = load_bundled("seed-example")
    preset = preset.replace(tokens=("ĠThe", "Ċ", "Ã©", *preset.tokens[3:]))
    result = selfattn.compute(preset)
    tables = result_tables(result, tokens=preset.tokens, key_tokens=preset.key_tokens)
    weights = next(t for t in tables if t.matrix == "weights")
    assert weights.row_labels[:3] == ("ĠThe", "Ċ", "Ã©")
    assert display_tokens(weights.row_labels[:3]) == ["␣The", "↵", "é"]


@given(st.text(max_size=12))
def test_any_label_gives_one_line_of_visible_text(label: str) -> None:
    shown = display_token(label)
    assert isinstance(shown, str)
    assert "\n" not in shown and "\t" not in shown
    if all(c.isascii() and c.isprintable() and c != " " for c in label):
        assert shown == label  # plain ASCII labels never change


@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8))
def test_byte_level_spelling_of_any_text_reads_back(text: str) -> None:
    """Spell a text in GPT-2's byte alphabet (the way a tokenizer would): shown as the text."""
    from selfattn.models.decoder_tokenizer import _bytes_to_unicode

    spelling = _bytes_to_unicode()
    label = "".join(spelling[b] for b in text.encode("utf-8"))
    shown = display_token(label)
    expected = "".join(
        {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}.get(c, c)
        if c in " \n\t\r" or c.isprintable()
        else f"\\x{ord(c):02x}"
        if ord(c) < 0x100
        else f"\\u{ord(c):04x}"
        for c in text
    )
    assert shown == expected
