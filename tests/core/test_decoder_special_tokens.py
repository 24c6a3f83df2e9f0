"""Encoding with and without the special tokens, as transformers' tokenizer call does.

tests/fixtures/decoders/special_tokens.npz was made by
`tools/make_decoder_reference.py --only special` with transformers
(`tok(text, add_special_tokens=True/False)`): the tiny checkpoints (only tiny-llama's
tokenizer adds BOS), SmolLM2 from its GGUF (adds nothing), and two tiny-llama copies
whose tokenizer_config.json says add_bos_token/add_eos_token explicitly (transformers
5 keeps tokenizer.json's template for them: so do we).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn.generate import GenerationError, prompt_ids
from selfattn.models.decoder import load_decoder
from selfattn.models.decoder_tokenizer import DecoderTokenizer, tokenizer_from_gguf
from selfattn.models.discover import smollm2_path
from selfattn.models.gguf_file import GGUFFile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "decoders"
TINY = ("tiny-llama", "tiny-qwen2", "tiny-gpt2", "tiny-mistral")
# the same entries as tools/make_decoder_reference.py's SPECIAL_VARIANTS
VARIANTS = {
    "tiny-llama-nobos-eos": {"add_bos_token": False, "add_eos_token": True},
    "tiny-llama-bos-eos": {"add_bos_token": True, "add_eos_token": True},
}
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "special_tokens.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def check(tok: DecoderTokenizer, name: str, ref: dict[str, np.ndarray]) -> None:
    for i, text in enumerate(str(s) for s in ref["sentences"]):
        for flag, word in ((True, "with"), (False, "without")):
            got = list(tok.encode(text, add_special_tokens=flag).ids)
            assert got == ref[f"{name}_{word}_{i}"].tolist(), (name, flag, text)


@pytest.mark.parametrize("name", TINY)
def test_checkpoint_tokenizers_equal_transformers_both_ways(
    name: str, ref: dict[str, np.ndarray]
) -> None:
    check(DecoderTokenizer.from_file(FIXTURES / name / "tokenizer.json"), name, ref)


def test_only_the_llama_tokenizer_adds_bos(ref: dict[str, np.ndarray]) -> None:
    # the fixture itself says which adds what: a guard that the test above can fail
    assert ref["tiny-llama_with_0"][0] == 0 and ref["tiny-llama_without_0"][0] != 0
    for name in ("tiny-qwen2", "tiny-gpt2", "tiny-mistral"):
        assert ref[f"{name}_with_0"].tolist() == ref[f"{name}_without_0"].tolist()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_explicit_tokenizer_config_flags_like_transformers(
    variant: str, ref: dict[str, np.ndarray], tmp_path: Path
) -> None:
    folder = tmp_path / variant
    shutil.copytree(FIXTURES / "tiny-llama", folder)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.update(VARIANTS[variant])
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    check(load_decoder(folder).tokenizer, variant, ref)


@pytest.mark.skipif(
    smollm2_path() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the bundled SmolLM2 GGUF is not installed",
)
def test_gguf_tokenizer_equals_transformers_both_ways(ref: dict[str, np.ndarray]) -> None:
    path = smollm2_path()
    assert path is not None, "SELFATTN_REQUIRE_MODEL=1 but SmolLM2 is not installed"
    check(tokenizer_from_gguf(GGUFFile(path)), "smollm2", ref)


def test_chat_prompt_gets_no_second_bos(ref: dict[str, np.ndarray], tmp_path: Path) -> None:
    """A template that writes the markers itself: its text is encoded without BOS."""
    folder = tmp_path / "tiny-llama-chat"
    shutil.copytree(FIXTURES / "tiny-llama", folder)
    (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")
    model = load_decoder(folder)
    assert str(ref["sentences"][2]) == "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
    assert list(prompt_ids(model, "Hello", chat=True)) == ref["tiny-llama_without_2"].tolist()
    assert list(prompt_ids(model, "Hello")) == list(model.encode("Hello").ids)
    assert prompt_ids(model, "Hello")[0] == model.config.bos_id


def test_a_chat_prompt_of_nothing_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "tiny-llama-empty-chat"
    shutil.copytree(FIXTURES / "tiny-llama", folder)
    (folder / "chat_template.jinja").write_text("{{ '' }}", encoding="utf-8")
    with pytest.raises(GenerationError, match="chat prompt gives no tokens"):
        prompt_ids(load_decoder(folder), "Hello", chat=True)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=40))
def test_with_is_without_plus_the_template(text: str) -> None:
    """tiny-llama's template is "<s> $A": with = BOS + without, for any text."""
    tok = DecoderTokenizer.from_file(FIXTURES / "tiny-llama" / "tokenizer.json")
    bos = tok.encode("").ids
    assert len(bos) == 1
    assert tok.encode(text).ids == bos + tok.encode(text, add_special_tokens=False).ids
