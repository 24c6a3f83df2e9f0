"""A decoder's tokenizer: `tokenizer.json`, or rebuilt from a GGUF file's metadata.

Both are `tokenizers.Tokenizer` objects with padding and truncation off. A GGUF
file stores a byte-level BPE vocabulary (`tokenizer.ggml.model` = "gpt2") as
its token list, its merges, token types (3 = control, 4 = user-defined), the
special token ids, `add_bos_token`/`add_eos_token` and the name of the text
splitter (`tokenizer.ggml.pre`). The splitter regexes are llama.cpp's for those
names (llama-vocab.cpp); an unnamed or unknown one gets GPT-2's, as in
`transformers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError
from .gguf_file import GGUFFile
from .tokenize import Encoding

_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# llama.cpp: these split every digit off first, then apply GPT-2's regex.
_DIGITS_THEN_GPT2 = ("smollm", "starcoder", "refact", "command-r", "codeshell", "exaone")
_SPLITS = {
    "llama3": _LLAMA3_SPLIT,
    "llama-v3": _LLAMA3_SPLIT,
    "llama-bpe": _LLAMA3_SPLIT,
    "falcon3": _LLAMA3_SPLIT,
    "smaug-bpe": _LLAMA3_SPLIT,
    "dbrx": _LLAMA3_SPLIT,
    "qwen2": _QWEN2_SPLIT,
    "deepseek-r1-qwen": _QWEN2_SPLIT,
}
CONTROL = 3
USER_DEFINED = 4


class DecoderTokenizer:
    """Text <-> token ids for one decoder, exactly as its tokenizer was trained."""

    def __init__(self, tok: Any, kind: str) -> None:
        tok.no_padding()
        tok.no_truncation()
        self._tok = tok
        self.kind = kind

    @classmethod
    def from_file(cls, path: Path) -> DecoderTokenizer:
        from tokenizers import Tokenizer

        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust side raises plain Exception
            raise ModelError(f"{path.name}: cannot read tokenizer: {exc}") from None
        return cls(tok, "tokenizer.json")

    def encode(self, text: str, add_special_tokens: bool = True) -> Encoding:
        """The text's tokens; ``add_special_tokens`` as in ``transformers``' tokenizer call.

        True (the default) adds what the tokenizer's template adds around a text: BOS
        for Llama-family tokenizers that are made to (tokenizer.json's post-processor,
        or the GGUF's ``add_bos_token``/``add_eos_token``), nothing for GPT-2, Qwen2 or
        SmolLM2. False adds nothing — for text that already holds its markers, such as a
        rendered chat prompt (``apply_chat_template`` tokenizes that way). Special
        tokens written in the text itself are recognised either way.
        """
        enc = self._tok.encode(text, add_special_tokens=add_special_tokens)
        return Encoding(tuple(enc.ids), tuple(enc.tokens), tuple(enc.type_ids))

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return str(self._tok.decode(list(ids), skip_special_tokens=skip_special_tokens))

    def token_text(self, token_id: int) -> str:
        """One token as the text it stands for (byte-level pieces decoded)."""
        return self.decode([token_id])

    def id_to_token(self, token_id: int) -> str | None:
        out = self._tok.id_to_token(token_id)
        return None if out is None else str(out)

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size(with_added_tokens=True))


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable spelling of the 256 byte values (the byte-level alphabet)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    out: dict[int, str] = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def tokenizer_from_gguf(g: GGUFFile) -> DecoderTokenizer:
    """The tokenizer the GGUF metadata describes: byte-level BPE here, SentencePiece in
    spm_tokenizer (ModelError for other kinds)."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
    )

    origin = g.path.name
    kind = g.get("tokenizer.ggml.model")
    if kind == "llama":  # SentencePiece (Llama 2, TinyLlama, Mistral v0.1)
        from .spm_tokenizer import spm_from_gguf  # noqa: PLC0415 - it builds on this module

        return spm_from_gguf(g)
    if kind != "gpt2":
        raise ModelError(
            f"{origin}: tokenizer.ggml.model {kind!r:.40} is not supported "
            "(only byte-level BPE, 'gpt2', and SentencePiece, 'llama')"
        )
    tokens = g.get("tokenizer.ggml.tokens")
    merges = g.get("tokenizer.ggml.merges")
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
        raise ModelError(f"{origin}: tokenizer.ggml.tokens is missing or not a list of strings")
    if not isinstance(merges, list) or not all(isinstance(m, str) for m in merges):
        raise ModelError(f"{origin}: tokenizer.ggml.merges is missing or not a list of strings")

    spelling = _bytes_to_unicode()
    alphabet = set(spelling.values())
    vocab: dict[str, int] = {}
    for index, token in enumerate(tokens):
        assert isinstance(token, str)
        if not set(token) <= alphabet:  # a few files store raw text: spell it in bytes
            token = "".join(spelling[b] for b in token.encode("utf-8"))
        vocab.setdefault(token, index)
    pairs: list[tuple[str, str]] = []
    for merge in merges:
        assert isinstance(merge, str)
        left, sep, right = merge.partition(" ")
        if not sep:
            raise ModelError(f"{origin}: tokenizer merge {merge!r:.40} is not two tokens")
        pairs.append((left, right))
    try:
        bpe = models.BPE(vocab=vocab, merges=pairs, fuse_unk=False)
    except Exception as exc:
        raise ModelError(f"{origin}: cannot build the tokenizer: {exc}") from None
    tok = Tokenizer(bpe)

    pre = g.get("tokenizer.ggml.pre")
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in _DIGITS_THEN_GPT2:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"), byte_level]
        )
    elif isinstance(pre, str) and pre in _SPLITS:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(_SPLITS[pre]), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        tok.pre_tokenizer = byte_level
    tok.decoder = decoders.ByteLevel()

    raw_types = g.get("tokenizer.ggml.token_type")
    types = [int(t) for t in raw_types] if isinstance(raw_types, np.ndarray) else []
    if len(types) == len(tokens):
        control = [
            AddedToken(t, special=True, normalized=False)
            for t, ty in zip(tokens, types, strict=True)
            if ty == CONTROL and isinstance(t, str) and set(t) <= alphabet
        ]
        user = [
            AddedToken(t, special=False, normalized=False)
            for t, ty in zip(tokens, types, strict=True)
            if ty == USER_DEFINED and isinstance(t, str) and t in vocab
        ]
        if control:
            tok.add_special_tokens(control)
        if user:
            tok.add_tokens(user)

    def special(key: str) -> tuple[str, int] | None:
        i = g.get(f"tokenizer.ggml.{key}")
        if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(tokens):
            name = tokens[i]
            assert isinstance(name, str)
            return name, i
        return None

    bos, eos = special("bos_token_id"), special("eos_token_id")
    add_bos = g.get("tokenizer.ggml.add_bos_token", False) is True and bos is not None
    add_eos = g.get("tokenizer.ggml.add_eos_token", False) is True and eos is not None
    if add_bos or add_eos:
        marks = [p for p, on in ((bos, add_bos), (eos, add_eos)) if on and p is not None]
        single = ([f"{bos[0]}:0"] if add_bos and bos else []) + ["$A:0"]
        single += [f"{eos[0]}:0"] if add_eos and eos else []
        tok.post_processor = processors.TemplateProcessing(
            single=" ".join(single), pair=" ".join(single + ["$B:1"]), special_tokens=marks
        )
    return DecoderTokenizer(tok, "GGUF metadata")
