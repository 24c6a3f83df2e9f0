"""Token labels as the window shows them: byte-level BPE spelling made readable.

GPT-2-style tokenizers (SmolLM2, Llama 3, Qwen2, GPT-2) spell every byte of a token
with a printable character: a space is "Ġ", a newline "Ċ", "é" is "Ã©". Those
spellings are what ``transformers`` returns and what presets and CSV files keep
(DESIGN.md: tokens are the tokenizer's). On screen they read badly, so the window's
axis labels and table headers pass them through ``display_token``: the bytes are
decoded back to text and the invisible characters get visible stand-ins — "␣" for a
space, "↵" for a newline, "⇥" for a tab. SentencePiece's "▁" (a word's leading space)
and its byte tokens ("<0x0A>") are shown the same way.

Only labels that are byte-level spellings change: every character in the 256-symbol
byte alphabet, and either one of its shifted symbols (Ā..Ń, such as Ġ and Ċ) or
plain text that decodes differently as UTF-8. Hand-written labels ("cat", "x1",
"h2:q1", "[CLS]", "café") are shown as they are. ``display_tokens`` looks at a
whole sentence: when any label has a shifted symbol, every label spelled in the byte
alphabet is taken for bytes — so "Ã" (the first byte of "é", split off) shows as
``\xc3`` there, while a lone hand-written "Ã" stays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

SPACE = "␣"
NEWLINE = "↵"
TAB = "⇥"
RETURN = "␍"
SPM_SPACE = "▁"  # SentencePiece's word-start mark (U+2581)
_VISIBLE = {" ": SPACE, "\n": NEWLINE, "\t": TAB, "\r": RETURN}
_SPM_BYTE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def _byte_alphabet() -> dict[str, int]:
    """GPT-2's printable character for each byte value, inverted (character -> byte)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    spelling = {b: chr(b) for b in keep}
    shifted = 0
    for b in range(256):
        if b not in spelling:
            spelling[b] = chr(256 + shifted)
            shifted += 1
    return {c: b for b, c in spelling.items()}


_BYTE_OF = _byte_alphabet()
_SHIFTED = frozenset(c for c in _BYTE_OF if ord(c) >= 256)


def visible(text: str, spaces: bool = True) -> str:
    """Newlines, tabs, other control characters (and spaces) made visible."""
    out = []
    for c in text:
        if c == " " and not spaces:
            out.append(c)
        elif c in _VISIBLE:
            out.append(_VISIBLE[c])
        elif c.isprintable():
            out.append(c)
        else:
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
    return "".join(out)


def _from_byte_level(label: str, byte_level: bool) -> str | None:
    """The text a byte-level spelling stands for, or None when ``label`` is not one."""
    if not label or any(c not in _BYTE_OF for c in label):
        return None
    raw = bytes(_BYTE_OF[c] for c in label)
    if not byte_level and not any(c in _SHIFTED for c in label):
        try:  # plain Latin-1 letters: only a valid UTF-8 spelling ("Ã©") is one
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return text if text != label else None
    # part of a character split across tokens shows as its bytes' escapes
    return raw.decode("utf-8", errors="backslashreplace")


def _from_sentencepiece(label: str) -> str | None:
    """SentencePiece spelling: "▁" for a space, "<0x0A>" for a single byte."""
    match = _SPM_BYTE.fullmatch(label)
    if match:
        return bytes([int(match.group(1), 16)]).decode("utf-8", errors="backslashreplace")
    if SPM_SPACE in label:
        return label.replace(SPM_SPACE, " ")
    return None


@lru_cache(maxsize=65536)
def display_token(label: str, byte_level: bool = False) -> str:
    """How the window shows a token label; the label itself is never changed.

    ``byte_level`` says the label is known to come from a byte-level vocabulary
    (``display_tokens`` decides that for a sentence); False guesses from the label.
    """
    text = _from_byte_level(label, byte_level)
    if text is None:
        text = _from_sentencepiece(label)
    if text is None:  # a hand-written label: only what would break the line changes
        return label if label.isprintable() else visible(label, spaces=False)
    return visible(text)


def is_byte_level(labels: Sequence[str]) -> bool:
    """Whether a sentence's labels are byte-level spellings (one holds Ġ, Ċ, ...)."""
    return any(c in _SHIFTED for label in labels for c in str(label))


def display_tokens(labels: Sequence[str]) -> list[str]:
    """``display_token`` of each label, deciding "byte-level" once for the sentence."""
    byte_level = is_byte_level(labels)
    return [display_token(str(s), byte_level) for s in labels]
