"""SentencePiece GGUF vocabularies (Llama 2 / TinyLlama style) tokenize as transformers does.

tests/fixtures/spm/ was made by tools/make_spm_reference.py: a SentencePiece BPE model
(byte fallback) trained with the `sentencepiece` package, written into a GGUF with
gguf's GGUFWriter as llama.cpp lays such a vocabulary out, then read back by
transformers' GGUF conversion, which tokenized 140 strings with and without special
tokens and decoded them; `sentencepiece` encoded them too. Nothing there comes from
this project's code. The small vocabularies below are worked by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn.models.decoder_tokenizer import tokenizer_from_gguf
from selfattn.models.errors import ModelError
from selfattn.models.gguf_file import GGUFFile
from selfattn.models.spm_tokenizer import SentencePieceTokenizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spm"
GGUF = FIXTURES / "tiny-spm.gguf"
SPECIALS = ("<s>", "</s>", "<unk>", "<think>")


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    with np.load(FIXTURES / "tiny-spm.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def tok() -> Any:
    return tokenizer_from_gguf(GGUFFile(GGUF))


def test_every_string_equals_transformers_with_and_without_special_tokens(tok, ref) -> None:
    strings = [str(s) for s in ref["strings"]]
    assert len(strings) == 140 and isinstance(tok, SentencePieceTokenizer)
    for i, text in enumerate(strings):
        enc = tok.encode(text)
        assert list(enc.ids) == ref[f"with_{i}"].tolist(), text
        assert list(enc.tokens) == ref[f"tokens_{i}"].tolist(), text
        assert list(tok.encode(text, add_special_tokens=False).ids) == ref[f"without_{i}"].tolist()
        assert tok.decode(enc.ids, skip_special_tokens=True) == str(ref[f"decoded_{i}"]), text
        assert tok.decode(enc.ids) == str(ref[f"decoded_all_{i}"]), text


def test_sentencepiece_itself_agrees_where_transformers_does(tok, ref) -> None:
    """transformers prefixes "▁" only when the text does not start with a space or "▁",
    and not after a special token; sentencepiece (and llama.cpp) always do. Elsewhere
    all three give the same ids."""
    compared = 0
    for i, text in enumerate(str(s) for s in ref["strings"]):
        if text.startswith((" ", "▁")) or any(s in text for s in SPECIALS):
            continue
        assert list(tok.encode(text, add_special_tokens=False).ids) == ref[f"sp_{i}"].tolist()
        compared += 1
    assert compared > 80


def test_fixture_exercises_merges_bytes_and_specials(ref) -> None:
    tokens = [t for key in ref if key.startswith("tokens_") for t in ref[key].tolist()]
    assert any(t.startswith("<0x") for t in tokens)  # byte fallback
    assert {"<s>", "</s>", "<unk>", "<think>"} <= set(tokens)
    assert any(len(t) > 3 and t.startswith("▁") for t in tokens)  # merged pieces


def small(add_space_prefix: bool = True) -> SentencePieceTokenizer:
    """By hand: ▁ab scores above nothing; ab above ▁a; c is not a token (byte 0x63)."""
    tokens = ["<unk>", "<s>", "</s>", "▁", "a", "b", "ab", "▁a", "▁ab", "aa", "<0x63>"]
    scores = [0, 0, 0, -9, -9, -9, -1, -2, -3, -1, 0]
    types = [2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6]
    return SentencePieceTokenizer(
        tokens, scores, types, bos_id=1, eos_id=2, unk_id=0, add_bos=True,
        add_space_prefix=add_space_prefix,
    )  # fmt: skip


def test_hand_worked_merges_prefix_and_byte_fallback() -> None:
    tok = small()
    # "▁abc": ab (-1) before ▁a (-2); then ▁ + ab = ▁ab (-3); c -> <0x63>
    assert tok.encode("abc").tokens == ("<s>", "▁ab", "<0x63>")
    assert tok.encode("abc", add_special_tokens=False).ids == (8, 10)
    # "aaa": the two pairs aa tie; the leftmost merges first
    assert tok.encode("aaa", add_special_tokens=False).tokens == ("▁", "aa", "a")
    # no prefix space without add_space_prefix
    assert small(False).encode("abc", add_special_tokens=False).tokens == ("ab", "<0x63>")
    # "é" is neither a token nor has byte tokens: one fused <unk>
    assert tok.encode("é", add_special_tokens=False).tokens == ("▁", "<unk>")
    # a special token in the text is kept whole; no prefix after it
    assert tok.encode("a</s>ab", add_special_tokens=False).tokens == ("▁a", "</s>", "ab")
    assert tok.decode(tok.encode("abc").ids) == "<s> abc"  # only a leading space goes
    assert tok.decode(tok.encode("abc").ids, skip_special_tokens=True) == "abc"


@settings(max_examples=80, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("the cat sat mat.,!Éé北京🙂\t\n▁0123456789<>/")),
        min_size=1,
        max_size=30,
    )
)
def test_any_text_decodes_back(tok, text: str) -> None:
    """Byte fallback loses nothing: a text that does not start with a space (whose
    prefix the decoder cannot tell from the added one) and holds no special token
    comes back exactly."""
    if text.startswith((" ", "▁")) or any(s in text for s in SPECIALS):
        return
    ids = tok.encode(text, add_special_tokens=False).ids
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text.replace("▁", " ")


def _write(path: Path, **changes: Any) -> Path:
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    tokens = changes.get("tokens", ["<unk>", "<s>", "</s>", "▁", "a"])
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    if changes.get("scores", True) is not None:
        w.add_token_scores(changes.get("scores_list", [0.0] * len(tokens)))
    w.add_token_types([2, 3, 3, 1, 1][: len(tokens)])
    w.add_bos_token_id(1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_refusals_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="tokenizer.ggml.scores must hold one number per token"):
        tokenizer_from_gguf(GGUFFile(_write(tmp_path / "no-scores.gguf", scores=None)))
    with pytest.raises(ModelError, match="tokenizer.ggml.scores must hold one number per token"):
        tokenizer_from_gguf(GGUFFile(_write(tmp_path / "short.gguf", scores_list=[0.0, 1.0])))
    bad = [0.0, 0.0, 0.0, float("nan"), 0.0]
    with pytest.raises(ModelError, match="not finite"):
        tokenizer_from_gguf(GGUFFile(_write(tmp_path / "nan.gguf", scores_list=bad)))
    ok = tokenizer_from_gguf(GGUFFile(_write(tmp_path / "ok.gguf")))
    assert ok.encode("a a").tokens == ("<s>", "▁", "a", "▁", "a")


def test_a_sentencepiece_gguf_model_loads_and_makes_a_preset(tmp_path: Path, ref) -> None:
    """A whole (tiny, random) llama GGUF with this vocabulary: once refused, now its
    tokens are transformers' and a head becomes a preset."""
    import gguf

    from selfattn.models import load_decoder, preset_from_model

    source = GGUFFile(GGUF)
    tokens = source.get("tokenizer.ggml.tokens")
    assert isinstance(tokens, list)
    vocab, hidden, heads, ffn = len(tokens), 8, 2, 16
    rng = np.random.default_rng(5)
    path = tmp_path / "tiny-spm-model.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(hidden // heads)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([float(s) for s in source.get("tokenizer.ggml.scores")])
    w.add_token_types([int(t) for t in source.get("tokenizer.ggml.token_type")])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    shapes = {
        "token_embd.weight": (vocab, hidden),
        "output_norm.weight": (hidden,),
        "blk.0.attn_norm.weight": (hidden,),
        "blk.0.attn_q.weight": (hidden, hidden),
        "blk.0.attn_k.weight": (hidden, hidden),
        "blk.0.attn_v.weight": (hidden, hidden),
        "blk.0.attn_output.weight": (hidden, hidden),
        "blk.0.ffn_norm.weight": (hidden,),
        "blk.0.ffn_gate.weight": (ffn, hidden),
        "blk.0.ffn_up.weight": (ffn, hidden),
        "blk.0.ffn_down.weight": (hidden, ffn),
    }
    for name, shape in shapes.items():
        w.add_tensor(name, rng.normal(size=shape).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    model = load_decoder(path)
    text = str(ref["strings"][0])  # "The cat sat on the mat."
    enc = model.encode(text)
    assert list(enc.ids) == ref["with_0"].tolist()
    out = model.forward(list(enc.ids), keep_attentions=True, logits="none")
    assert out.attentions is not None
    np.testing.assert_allclose(out.attentions[0].sum(axis=-1), 1.0, atol=1e-5)
    preset = preset_from_model(str(path), 1, 2, text)
    assert preset.tokens == tuple(ref["tokens_0"].tolist())
    assert preset.tokens[:2] == ("<s>", "▁The")
