"""A SentencePiece vocabulary from a GGUF file (`tokenizer.ggml.model` = "llama").

Llama 2, TinyLlama, Mistral 7B v0.1 and their GGUF files keep SentencePiece BPE
tokens as the token list, one score per token (higher merges first), the token
types (2 unknown, 3 control, 4 user-defined, 6 byte) and `add_space_prefix`.
Tokenizing follows llama.cpp's SPM tokenizer (llama-vocab.cpp):

1. Special tokens written in the text (control, user-defined, and the bos/eos/unk
   tokens) are cut out first, leftmost and longest first.
2. In the text between them every space becomes "▁"; the text at the very start
   gets a leading "▁" (add_space_prefix) unless it already starts with one.
3. The text is split into characters; the adjacent pair whose joined text is a
   token with the highest score is merged (ties: the leftmost pair), again and
   again until no pair is a token.
4. A piece that is not a token (a character the vocabulary lacks) becomes its
   UTF-8 bytes as the byte tokens "<0xNN>" (byte fallback).

Step 2 is `transformers`' reading of such a file (its Metaspace "first" scheme):
llama.cpp and SentencePiece itself also prefix text that starts with a space, and
text right after a special token. `transformers` is the project's truth for tokens
(tests/fixtures/spm, made by tools/make_spm_reference.py, on many strings).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence

import numpy as np

from .decoder_tokenizer import DecoderTokenizer
from .errors import ModelError
from .gguf_file import GGUFFile
from .tokenize import Encoding

SPACE = "▁"
UNKNOWN, CONTROL, USER_DEFINED, BYTE = 2, 3, 4, 6
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


class SentencePieceTokenizer(DecoderTokenizer):
    """Text <-> ids for a SentencePiece BPE vocabulary (no `tokenizers` object)."""

    def __init__(
        self,
        tokens: Sequence[str],
        scores: Sequence[float],
        types: Sequence[int],
        *,
        special_ids: Sequence[int] = (),
        bos_id: int | None = None,
        eos_id: int | None = None,
        unk_id: int | None = None,
        pad_id: int | None = None,
        add_bos: bool = False,
        add_eos: bool = False,
        add_space_prefix: bool = True,
    ) -> None:
        self.kind = "GGUF metadata (SentencePiece)"
        self.tokens = tuple(tokens)
        self.scores = tuple(float(s) for s in scores)
        self.ids: dict[str, int] = {}
        for index, token in enumerate(self.tokens):
            self.ids.setdefault(token, index)
        self.bos_id, self.eos_id, self.unk_id = bos_id, eos_id, unk_id
        self.add_bos = add_bos and bos_id is not None
        self.add_eos = add_eos and eos_id is not None
        self.add_space_prefix = add_space_prefix
        marked = {i for i, t in enumerate(types) if t in (CONTROL, USER_DEFINED)}
        marked |= {i for i in (bos_id, eos_id, unk_id, pad_id) if i is not None}
        self.special_ids = frozenset(special_ids) | {i for i in marked if types[i] != USER_DEFINED}
        added = sorted({self.tokens[i] for i in marked if self.tokens[i]}, key=len, reverse=True)
        self._added = re.compile("|".join(re.escape(t) for t in added)) if added else None
        self._byte_ids: dict[int, int] = {}
        for index, token in enumerate(self.tokens):
            match = _BYTE_PIECE.fullmatch(token)
            if match and (not types or types[index] == BYTE):
                self._byte_ids.setdefault(int(match.group(1), 16), index)

    # Encoding ---------------------------------------------------------------------
    def encode(self, text: str, add_special_tokens: bool = True) -> Encoding:
        ids: list[int] = []
        if add_special_tokens and self.add_bos:
            assert self.bos_id is not None
            ids.append(self.bos_id)
        for start, piece, is_special in self._sections(text):
            if is_special:
                ids.append(self.ids[piece])
                continue
            piece = piece.replace(" ", SPACE)
            if start == 0 and self.add_space_prefix and not piece.startswith(SPACE):
                piece = SPACE + piece
            ids.extend(self._merge(piece))
        if add_special_tokens and self.add_eos:
            assert self.eos_id is not None
            ids.append(self.eos_id)
        return Encoding(tuple(ids), tuple(self.tokens[i] for i in ids), (0,) * len(ids))

    def _sections(self, text: str) -> list[tuple[int, str, bool]]:
        """(offset, text, is a special token) in order; empty plain text left out."""
        out: list[tuple[int, str, bool]] = []
        at = 0
        if self._added is not None:
            for match in self._added.finditer(text):
                if match.start() > at:
                    out.append((at, text[at : match.start()], False))
                out.append((match.start(), match.group(0), True))
                at = match.end()
        if at < len(text):
            out.append((at, text[at:], False))
        return out

    def _merge(self, text: str) -> list[int]:
        """llama.cpp's llm_tokenizer_spm_session: best-scoring adjacent pairs first."""
        starts = list(range(len(text)))  # symbol i covers text[starts[i]:ends[i]]
        ends = [i + 1 for i in range(len(text))]
        prev = [i - 1 for i in range(len(text))]
        nxt = [i + 1 if i + 1 < len(text) else -1 for i in range(len(text))]
        queue: list[tuple[float, int, int, int]] = []  # (-score, left, right, length)

        def add_pair(left: int, right: int) -> None:
            if left < 0 or right < 0:
                return
            token = self.ids.get(text[starts[left] : ends[right]])
            if token is not None:
                heapq.heappush(
                    queue, (-self.scores[token], left, right, ends[right] - starts[left])
                )

        for i in range(1, len(text)):
            add_pair(i - 1, i)
        while queue:
            _score, left, right, length = heapq.heappop(queue)
            if starts[left] < 0 or starts[right] < 0 or ends[right] - starts[left] != length:
                continue  # one side was merged into something else since
            if nxt[left] != right:
                continue
            ends[left] = ends[right]
            starts[right] = -1
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prev[nxt[right]] = left
            add_pair(prev[left], left)
            add_pair(left, nxt[left])
        out: list[int] = []
        i = 0 if text else -1
        while i != -1:
            out.extend(self._piece_ids(text[starts[i] : ends[i]]))
            i = nxt[i]
        return out

    def _piece_ids(self, piece: str) -> list[int]:
        token = self.ids.get(piece)
        if token is not None:
            return [token]
        out: list[int] = []
        for byte in piece.encode("utf-8"):
            byte_id = self._byte_ids.get(byte)
            if byte_id is None:  # neither the piece nor its bytes: unknown (fused)
                if self.unk_id is None:
                    raise ModelError(f"the vocabulary has no token for {piece!r} nor its bytes")
                if not out or out[-1] != self.unk_id:
                    out.append(self.unk_id)
            else:
                out.append(byte_id)
        return out

    # Decoding -----------------------------------------------------------------------
    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """As transformers decodes: "▁" -> space, byte tokens -> UTF-8 (each undecodable
        byte -> U+FFFD), one leading space dropped (the prefix the encoder added)."""
        parts: list[str] = []
        pending = bytearray()

        def flush() -> None:
            if pending:
                try:
                    parts.append(pending.decode("utf-8"))
                except UnicodeDecodeError:
                    parts.append("\ufffd" * len(pending))
                pending.clear()

        for i in ids:
            i = int(i)
            if skip_special_tokens and i in self.special_ids:
                continue
            piece = self.tokens[i] if 0 <= i < len(self.tokens) else ""
            match = _BYTE_PIECE.fullmatch(piece)
            if match:
                pending.append(int(match.group(1), 16))
                continue
            flush()
            parts.append(piece.replace(SPACE, " "))
        flush()
        text = "".join(parts)
        if self.add_space_prefix and text.startswith(" "):
            text = text[1:]
        return text

    def id_to_token(self, token_id: int) -> str | None:
        return self.tokens[token_id] if 0 <= token_id < len(self.tokens) else None

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)


def spm_from_gguf(g: GGUFFile) -> SentencePieceTokenizer:
    """The SentencePiece tokenizer a GGUF file describes (ModelError names a bad field)."""
    origin = g.path.name
    tokens = g.get("tokenizer.ggml.tokens")
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
        raise ModelError(f"{origin}: tokenizer.ggml.tokens is missing or not a list of strings")
    n = len(tokens)
    scores = g.get("tokenizer.ggml.scores")
    if not isinstance(scores, np.ndarray) or scores.shape != (n,):
        raise ModelError(
            f"{origin}: tokenizer.ggml.scores must hold one number per token ({n}) "
            "for a SentencePiece vocabulary"
        )
    if not np.isfinite(scores).all():
        raise ModelError(f"{origin}: tokenizer.ggml.scores holds a value that is not finite")
    raw_types = g.get("tokenizer.ggml.token_type")
    types = [int(t) for t in raw_types] if isinstance(raw_types, np.ndarray) else []
    if types and len(types) != n:
        raise ModelError(f"{origin}: tokenizer.ggml.token_type has {len(types)} entries for {n}")

    def token_id(key: str) -> int | None:
        value = g.get(f"tokenizer.ggml.{key}")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n:
            return value
        return None

    def flag(key: str, default: bool) -> bool:
        value = g.get(f"tokenizer.ggml.{key}")
        return value if isinstance(value, bool) else default

    str_tokens = [str(t) for t in tokens]
    return SentencePieceTokenizer(
        str_tokens,
        [float(s) for s in scores],
        types or [1] * n,
        bos_id=token_id("bos_token_id"),
        eos_id=token_id("eos_token_id"),
        unk_id=token_id("unknown_token_id"),
        pad_id=token_id("padding_token_id"),
        add_bos=flag("add_bos_token", True),  # llama.cpp's default for this vocabulary
        add_eos=flag("add_eos_token", False),
        add_space_prefix=flag("add_space_prefix", True),
    )
