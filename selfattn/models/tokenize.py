"""Turning text into a BERT model's word pieces, exactly as the model was trained.

The `tokenizers` package reads `tokenizer.json` (padding and truncation switched
off: the shipped file pads every sentence to 128). Without that file, or without
the package, `WordPieceTokenizer` rebuilds BERT's tokenizer from `vocab.txt`:
the steps below mirror `tokenizers`' BertNormalizer, BertPreTokenizer, WordPiece
model and `[CLS] ... [SEP]` template, so both give the same pieces — except
for characters whose Unicode category changed between the Unicode tables of
`tokenizers` (older) and of this Python (`unicodedata`): marks and punctuation
added in recent Unicode versions.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import ModelError

MAX_VOCAB_BYTES = 64 * 1024 * 1024
MAX_CONFIG_BYTES = 4 * 1024 * 1024
SPECIAL_DEFAULTS = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}


@dataclass(frozen=True)
class Encoding:
    """One tokenized sentence: ids, word pieces and segment (token type) ids."""

    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    type_ids: tuple[int, ...]


class Tokenizer(Protocol):
    kind: str

    def encode(self, text: str) -> Encoding: ...


class HFTokenizer:
    """`tokenizer.json` through the `tokenizers` package, no padding, no truncation."""

    kind = "tokenizer.json"

    def __init__(self, path: Path) -> None:
        try:
            from tokenizers import Tokenizer as _Tok
        except ImportError as exc:  # pragma: no cover - tokenizers is a dependency
            raise ModelError(f"{path.name}: the 'tokenizers' package is not installed") from exc
        try:
            tok = _Tok.from_file(str(path))
        except Exception as exc:  # the Rust side raises plain Exception
            raise ModelError(f"{path.name}: cannot read tokenizer: {exc}") from None
        tok.no_padding()
        tok.no_truncation()
        self._tok = tok

    def encode(self, text: str) -> Encoding:
        enc = self._tok.encode(text)
        return Encoding(tuple(enc.ids), tuple(enc.tokens), tuple(enc.type_ids))


# BERT's basic tokenizer ------------------------------------------------------

# tokenizers' ranges: its fifth range starts at 0x2B920 where Google's BERT says
# 0x2B820; we follow tokenizers, since that is what the shipped tokenizer.json does.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _is_cjk(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _is_whitespace(c: str) -> bool:
    return c in "\t\n\r " or c.isspace()


def _is_control(c: str) -> bool:
    """Cc, Cf, Co, Cs except tab, newline, return; unassigned (Cn) ones stay, as in tokenizers."""
    if c in "\t\n\r":
        return False
    return unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")


def _is_punctuation(c: str) -> bool:
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True  # ASCII symbols such as $ + ^ count too, as in BERT
    return unicodedata.category(c).startswith("P")


def normalize(text: str, lowercase: bool, strip_accents: bool, chinese_chars: bool) -> str:
    """BertNormalizer: clean text, space out CJK, strip accents, lowercase (in that order)."""
    out = []
    for c in text:
        if c == "\0" or c == "\ufffd" or _is_control(c):
            continue
        if _is_whitespace(c):
            out.append(" ")
        elif chinese_chars and _is_cjk(ord(c)):
            out.append(f" {c} ")
        else:
            out.append(c)
    s = "".join(out)
    if strip_accents:
        s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
    if lowercase:
        s = s.lower()
    return s


def pre_tokenize(text: str) -> list[str]:
    """BertPreTokenizer: split on whitespace, every punctuation character is its own word."""
    words: list[str] = []
    current: list[str] = []
    for c in text:
        if _is_whitespace(c):
            if current:
                words.append("".join(current))
                current = []
        elif _is_punctuation(c):
            if current:
                words.append("".join(current))
                current = []
            words.append(c)
        else:
            current.append(c)
    if current:
        words.append("".join(current))
    return words


class WordPieceTokenizer:
    """BERT's tokenizer rebuilt from `vocab.txt` (the fallback without tokenizer.json)."""

    kind = "vocab.txt"

    def __init__(
        self,
        vocab: dict[str, int],
        *,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        chinese_chars: bool = True,
        specials: dict[str, str] | None = None,
        max_chars_per_word: int = 100,
    ) -> None:
        self.vocab = vocab
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.chinese_chars = chinese_chars
        sp = dict(SPECIAL_DEFAULTS, **(specials or {}))
        for key in ("unk_token", "cls_token", "sep_token"):
            if sp[key] not in vocab:
                raise ModelError(f"vocab.txt: has no {sp[key]!r} token")
        self.unk, self.cls, self.sep = sp["unk_token"], sp["cls_token"], sp["sep_token"]
        # Special tokens in the text are matched verbatim before normalization.
        present = sorted({t for t in sp.values() if t in vocab}, key=len, reverse=True)
        self._special_re = re.compile("|".join(map(re.escape, present))) if present else None
        self.max_chars_per_word = max_chars_per_word

    @classmethod
    def from_folder(cls, folder: Path) -> WordPieceTokenizer:
        vocab = read_vocab(folder / "vocab.txt")
        cfg = _read_json_if_present(folder / "tokenizer_config.json")
        specials = {k: v for k, v in cfg.items() if k in SPECIAL_DEFAULTS and isinstance(v, str)}
        for k, v in _read_json_if_present(folder / "special_tokens_map.json").items():
            if k in SPECIAL_DEFAULTS:
                if isinstance(v, dict) and isinstance(v.get("content"), str):
                    specials[k] = v["content"]
                elif isinstance(v, str):
                    specials[k] = v
        strip = cfg.get("strip_accents")
        return cls(
            vocab,
            lowercase=bool(cfg.get("do_lower_case", True)),
            strip_accents=None if strip is None else bool(strip),
            chinese_chars=bool(cfg.get("tokenize_chinese_chars", True)),
            specials=specials,
        )

    def word_pieces(self, word: str) -> list[str]:
        """Greedy longest-match-first WordPiece; a word that cannot be covered is [UNK]."""
        if len(word) > self.max_chars_per_word:
            return [self.unk]
        pieces = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = piece
                    break
                end -= 1
            if found is None:
                return [self.unk]
            pieces.append(found)
            start = end
        return pieces

    def _split_plain(self, text: str) -> list[str]:
        norm = normalize(text, self.lowercase, self.strip_accents, self.chinese_chars)
        return [p for w in pre_tokenize(norm) for p in self.word_pieces(w)]

    def encode(self, text: str) -> Encoding:
        tokens = [self.cls]
        pos = 0
        if self._special_re is not None:
            for m in self._special_re.finditer(text):
                tokens += self._split_plain(text[pos : m.start()])
                tokens.append(m.group(0))
                pos = m.end()
        tokens += self._split_plain(text[pos:])
        tokens.append(self.sep)
        ids = tuple(self.vocab[t] for t in tokens)
        return Encoding(ids, tuple(tokens), (0,) * len(tokens))


def read_vocab(path: Path) -> dict[str, int]:
    """vocab.txt: one token per line, the id is the line number."""
    try:
        if path.stat().st_size > MAX_VOCAB_BYTES:
            raise ModelError(f"{path.name}: larger than {MAX_VOCAB_BYTES // 2**20} MiB")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{path.name}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ModelError(f"{path.name}: not UTF-8 text") from None
    vocab: dict[str, int] = {}
    for i, line in enumerate(text.split("\n")):
        token = line.rstrip("\r")
        if token and token not in vocab:
            vocab[token] = i
    if not vocab:
        raise ModelError(f"{path.name}: empty vocabulary")
    return vocab


def _read_json_if_present(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ModelError(f"{path.name}: larger than {MAX_CONFIG_BYTES // 2**20} MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"{path.name}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelError(f"{path.name}: not valid JSON") from None
    return data if isinstance(data, dict) else {}


def load_tokenizer(folder: Path, prefer: str = "auto") -> Tokenizer:
    """tokenizer.json when present (prefer="auto"/"json"), else the vocab.txt fallback."""
    tj = folder / "tokenizer.json"
    if prefer in ("auto", "json") and tj.is_file():
        try:
            return HFTokenizer(tj)
        except ModelError:
            if prefer == "json" or not (folder / "vocab.txt").is_file():
                raise
    if prefer == "json":
        raise ModelError(f"{folder}: no tokenizer.json")
    if (folder / "vocab.txt").is_file():
        return WordPieceTokenizer.from_folder(folder)
    raise ModelError(f"{folder}: no tokenizer.json or vocab.txt (the tokenizer is missing)")
