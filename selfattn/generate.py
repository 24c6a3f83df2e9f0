"""Watching a decoder write: next-token probabilities and a continuation, step by step.

DESIGN.md, "Generation". The prompt is run through the model once (its keys and
values go into the cache); after that every step runs only the one new token.
Step t chooses the token at position ``n + t - 1`` (the prompt holds positions
0 .. n-1) from the logits of the position before it: greedy (argmax, ties to the
lowest id) or a seeded draw (``selfattn.sampling``). It stops at the model's
end-of-sequence token or after N new tokens.

Each step's record keeps the chosen token, its probability and the top-K
alternatives (softmax at T = 1 in float64, whatever T sampling used), and — when
asked — the attention of the new token over everything before it and itself:
the row the model computes when it runs that token (so one extra one-token pass
follows the last step). With the prompt's own attention matrix, the rows of all
steps make the full causal matrix over prompt + continuation.

The loop is written against a tiny protocol (``Stepper``): "run these new ids,
give me the logits after the last one and the attention rows of the new ids".
``DecoderStepper`` adapts the numpy decoder (``selfattn.models.decoder``) and its
key/value cache; ``open_model``, ``prompt_ids`` and ``model_eos_ids`` are the rest of
what the command line and the window need.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

import numpy as np

from .numbers import round_trip
from .sampling import Sampling, choose, softmax, top_ids

if TYPE_CHECKING:
    from .models.decoder import DecoderModel, KVCache

STEPS_COLUMNS = (
    "step",
    "position",
    "token_id",
    "token",
    "prob",
    "top_ids",
    "top_tokens",
    "top_probs",
)
DEFAULT_TOP = 5
DEFAULT_MAX_NEW_TOKENS = 20


class GenerationError(ValueError):
    """Generation settings or a prompt that cannot be used (the message names which)."""


@dataclass(frozen=True)
class StepOutput:
    """What one pass over new ids gives: the logits after the last new id, and the
    kept attention rows of the new ids, (layers, heads, new, keys so far) or None."""

    logits: np.ndarray
    attention: np.ndarray | None


class Stepper(Protocol):
    """Runs new token ids through a model that remembers the earlier ones (its cache)."""

    def __call__(self, new_ids: Sequence[int]) -> StepOutput: ...


@dataclass(frozen=True)
class Step:
    """One generated token: which, where, how likely, and the alternatives."""

    step: int  # from 1
    position: int  # of the new token in prompt + continuation, from 0
    token_id: int
    token: str  # the token's text, decoded alone
    prob: float  # softmax at T = 1, float64
    top_ids: tuple[int, ...]
    top_tokens: tuple[str, ...]
    top_probs: tuple[float, ...]
    # (layers, heads, position + 1): the new token's attention over keys 0 .. position
    attention: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Generation:
    """A whole run: the prompt, the steps, why it stopped and the decoded text."""

    prompt_ids: tuple[int, ...]
    steps: tuple[Step, ...]
    stopped_by: str  # "eos" or "limit"
    text: str  # prompt + continuation, decoded
    # (layers, heads, n, n): the prompt's own attention, for the kept layers/heads
    prompt_attention: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def new_ids(self) -> tuple[int, ...]:
        return tuple(s.token_id for s in self.steps)


def iter_generate(
    stepper: Stepper,
    prompt_ids: Sequence[int],
    *,
    decode: Callable[[Sequence[int]], str],
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    eos_ids: Sequence[int] = (),
    sampling: Sampling | None = None,
    top: int = DEFAULT_TOP,
    keep_attention: bool = False,
    on_prompt: Callable[[StepOutput], None] | None = None,
) -> Iterator[Step]:
    """Yield the steps one by one as they are made (a caller may stop early).

    ``on_prompt`` receives the prompt pass (its attention matrix, its logits).
    """
    _check_settings(prompt_ids, max_new_tokens, top)
    rng = None if sampling is None else np.random.default_rng(sampling.seed)
    out = stepper(list(prompt_ids))
    if on_prompt is not None:
        on_prompt(out)
    position = len(prompt_ids)
    eos = set(eos_ids)
    for number in range(1, max_new_tokens + 1):
        probs = softmax(out.logits)  # T = 1: what the records show
        token_id = choose(out.logits, sampling, rng)
        alternatives = [int(i) for i in top_ids(probs, top)]
        last = number == max_new_tokens or token_id in eos
        attention = None
        if keep_attention or not last:
            out = stepper([token_id])  # the new token's pass: next logits, its attention
            attention = None if out.attention is None else out.attention[:, :, -1, :]
        yield Step(
            step=number,
            position=position,
            token_id=token_id,
            token=decode([token_id]),
            prob=float(probs[token_id]),
            top_ids=tuple(alternatives),
            top_tokens=tuple(decode([i]) for i in alternatives),
            top_probs=tuple(float(probs[i]) for i in alternatives),
            attention=attention,
        )
        if last:
            return
        position += 1


def generate(
    stepper: Stepper,
    prompt_ids: Sequence[int],
    *,
    decode: Callable[[Sequence[int]], str],
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    eos_ids: Sequence[int] = (),
    sampling: Sampling | None = None,
    top: int = DEFAULT_TOP,
    keep_attention: bool = False,
) -> Generation:
    """The whole continuation (see ``iter_generate``)."""
    prompt_out: list[StepOutput] = []
    steps = iter_generate(
        stepper,
        prompt_ids,
        decode=decode,
        max_new_tokens=max_new_tokens,
        eos_ids=eos_ids,
        sampling=sampling,
        top=top,
        keep_attention=keep_attention,
        on_prompt=prompt_out.append,
    )
    return finish(
        prompt_ids,
        list(steps),
        decode=decode,
        eos_ids=eos_ids,
        prompt_attention=prompt_out[0].attention if keep_attention else None,
    )


def finish(
    prompt_ids: Sequence[int],
    steps: Sequence[Step],
    *,
    decode: Callable[[Sequence[int]], str],
    eos_ids: Sequence[int] = (),
    prompt_attention: np.ndarray | None = None,
) -> Generation:
    """A run's record from its steps (for callers that consumed ``iter_generate``)."""
    stopped_by = "eos" if steps and steps[-1].token_id in set(eos_ids) else "limit"
    ids = [*prompt_ids, *(s.token_id for s in steps)]
    return Generation(
        prompt_ids=tuple(int(i) for i in prompt_ids),
        steps=tuple(steps),
        stopped_by=stopped_by,
        text=decode(ids),
        prompt_attention=prompt_attention,
    )


def _check_settings(prompt_ids: Sequence[int], max_new_tokens: int, top: int) -> None:
    if len(prompt_ids) == 0:
        raise GenerationError("the prompt has no tokens: give some text")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
        raise GenerationError(f"max-new-tokens must be a whole number, got {max_new_tokens!r}")
    if max_new_tokens < 1:
        raise GenerationError(f"max-new-tokens must be at least 1, got {max_new_tokens}")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise GenerationError(f"top must be a whole number >= 1, got {top!r}")


# ---------------------------------------------------------------- the numpy decoder


@dataclass(frozen=True)
class AttentionPick:
    """Which attention a run keeps per step: a layer and a head (from 1), None = all."""

    layer: int | None = None
    head: int | None = None


class DecoderStepper:
    """A ``Stepper`` over the numpy decoder: each call extends its key/value cache."""

    def __init__(
        self,
        model: DecoderModel,
        pick: AttentionPick | None = None,
        on_layer: Callable[[int, int], None] | None = None,
    ) -> None:
        """``on_layer(done, total)`` runs after each layer of a pass (raise to stop a run)."""
        from .models.decoder import KVCache  # noqa: PLC0415 - the reader loads on use

        if pick is not None:
            if pick.layer is not None:
                model.check_layer(pick.layer)
            if pick.head is not None:
                model.check_head(pick.head)
        self.model = model
        self.pick = pick
        self.on_layer = on_layer
        self.cache: KVCache = KVCache()

    @property
    def length(self) -> int:
        """Tokens run so far (the cache's length)."""
        return self.cache.length

    def __call__(self, new_ids: Sequence[int]) -> StepOutput:
        result = self.model.forward(
            list(new_ids),
            keep_attentions=self.pick is not None,
            cache=self.cache,
            logits="last",
            on_layer=self.on_layer,
        )
        assert result.logits is not None  # a full pass with logits="last" has them
        attention = None
        if self.pick is not None and result.attentions is not None:
            layers = result.attentions
            if self.pick.layer is not None:
                layers = (layers[self.pick.layer - 1],)
            attention = np.stack(layers)  # (layers, heads, new, keys)
            if self.pick.head is not None:
                attention = attention[:, self.pick.head - 1 : self.pick.head]
        return StepOutput(logits=result.logits[-1], attention=attention)


def open_model(path: str | os.PathLike[str] | None) -> DecoderModel:
    """The decoder at ``path`` (a GGUF file or a folder); None: the bundled SmolLM2."""
    from .models.decoder import load_decoder  # noqa: PLC0415
    from .models.discover import SMOLLM2_INSTALL_HINT, smollm2_path  # noqa: PLC0415

    if path is None:
        found = smollm2_path()
        if found is None:
            raise GenerationError(
                "the bundled SmolLM2-135M-Instruct is not installed; install it with: "
                f"{SMOLLM2_INSTALL_HINT} (or pass --model PATH)"
            )
        return load_decoder(found)
    return load_decoder(Path(path))


def model_eos_ids(model: DecoderModel) -> tuple[int, ...]:
    """The ids that end a continuation: the model's EOS, plus generation_config.json's."""
    ids = set() if model.config.eos_id is None else {model.config.eos_id}
    if model.path.is_dir():
        ids |= _generation_config_eos(model.path / "generation_config.json")
    return tuple(sorted(ids))


def _generation_config_eos(path: Path) -> set[int]:
    import json  # noqa: PLC0415

    if not path.is_file():
        return set()
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise GenerationError(f"{path}: not a JSON object ({exc})") from None
    values = value if isinstance(value, list) else [value]
    return {v for v in values if isinstance(v, int) and not isinstance(v, bool) and v >= 0}


def chat_template_of(model: DecoderModel) -> tuple[str | None, dict[str, str]]:
    """The model's chat template (None without one) and the special tokens it may use."""
    from .chat import special_tokens_from_folder, template_from_folder, template_from_gguf  # noqa: PLC0415

    if model.path.is_dir():
        return template_from_folder(model.path), special_tokens_from_folder(model.path)
    tokens: dict[str, str] = {}
    for name, token_id in (("bos_token", model.config.bos_id), ("eos_token", model.config.eos_id)):
        text = None if token_id is None else model.tokenizer.id_to_token(token_id)
        if text is not None:
            tokens[name] = text
    return template_from_gguf(model.path), tokens


def prompt_ids(model: DecoderModel, text: str, *, chat: bool = False) -> tuple[int, ...]:
    """The prompt's token ids: the text itself, or wrapped by the chat template first."""
    if chat:
        from .chat import render_chat, user_messages  # noqa: PLC0415

        template, special = chat_template_of(model)
        if template is None:
            raise GenerationError(f"{model.display_name} has no chat template: drop --chat")
        rendered = render_chat(template, user_messages(text), special_tokens=special)
        return _encode_without_special_tokens(model, rendered)
    return tuple(model.encode(text).ids)


def _encode_without_special_tokens(model: DecoderModel, text: str) -> tuple[int, ...]:
    """A rendered chat prompt's ids: the template already wrote BOS and the turn markers,
    so the tokenizer must not add its own (as transformers' apply_chat_template does)."""
    ids = model.tokenizer.encode(text, add_special_tokens=False).ids
    if not ids:
        raise GenerationError("the chat prompt gives no tokens")
    limit = model.config.max_positions
    if len(ids) > limit:
        raise GenerationError(
            f"the chat prompt is {len(ids)} tokens long; {model.display_name} takes at most {limit}"
        )
    bad = [i for i in ids if not 0 <= i < model.config.vocab_size]
    if bad:
        raise GenerationError(f"the tokenizer gave id {bad[0]} outside the vocabulary")
    return tuple(int(i) for i in ids)


def generate_from_model(
    model: DecoderModel,
    ids: Sequence[int],
    *,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    sampling: Sampling | None = None,
    top: int = DEFAULT_TOP,
    pick: AttentionPick | None = None,
) -> Generation:
    """Greedy or sampled continuation of ``ids`` with the key/value cache."""
    check_room(model, len(ids), max_new_tokens, keep_attention=pick is not None)
    return generate(
        DecoderStepper(model, pick),
        ids,
        decode=model.tokenizer.decode,
        max_new_tokens=max_new_tokens,
        eos_ids=model_eos_ids(model),
        sampling=sampling,
        top=top,
        keep_attention=pick is not None,
    )


def check_room(
    model: DecoderModel, n_prompt: int, max_new_tokens: int, keep_attention: bool
) -> None:
    """Refuse a run that would pass the model's last position (before any work)."""
    limit = model.config.max_positions
    # the last new token is run too when its attention is kept
    needed = n_prompt + max_new_tokens - (0 if keep_attention else 1)
    if needed > limit:
        raise GenerationError(
            f"{n_prompt} prompt tokens + {max_new_tokens} new tokens need {needed} positions; "
            f"{model.display_name} takes at most {limit}"
        )


# ---------------------------------------------------------------- writing the files

_ESCAPES = {"\\": "\\\\", "|": "\\x7c", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def token_cell(text: str) -> str:
    """A token's text for a CSV cell and a ``|``-separated list: one line, no bare ``|``.

    Backslash, ``|`` and characters that are not printable become Python-style
    escapes (``\\\\``, ``\\x7c``, ``\\n``, ``\\u200b``); spaces stay as they are.
    ``read_token_cell`` undoes it.
    """
    out = []
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif c.isprintable() or c == " ":
            out.append(c)
        else:
            code = ord(c)
            out.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
    return "".join(out)


def read_token_cell(cell: str) -> str:
    """The token text a ``token_cell`` stands for."""
    simple = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
    widths = {"x": 2, "u": 4, "U": 8}
    out, i = [], 0
    while i < len(cell):
        c = cell[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        kind = cell[i + 1] if i + 1 < len(cell) else ""
        if kind in simple:
            out.append(simple[kind])
            i += 2
        elif kind in widths:
            digits = cell[i + 2 : i + 2 + widths[kind]]
            if len(digits) != widths[kind]:
                raise ValueError(f"truncated escape in token cell {cell!r}")
            out.append(chr(int(digits, 16)))
            i += 2 + widths[kind]
        else:
            raise ValueError(f"unknown escape in token cell {cell!r}")
    return "".join(out)


def steps_rows(steps: Sequence[Step]) -> Iterator[list[str]]:
    """``steps.csv`` as rows of cells, header first."""
    yield list(STEPS_COLUMNS)
    for s in steps:
        yield [
            str(s.step),
            str(s.position),
            str(s.token_id),
            token_cell(s.token),
            round_trip(s.prob),
            "|".join(str(i) for i in s.top_ids),
            "|".join(token_cell(t) for t in s.top_tokens),
            "|".join(round_trip(p) for p in s.top_probs),
        ]


def write_outputs(generation: Generation, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``text.txt`` and ``steps.csv`` into ``out_dir`` (created if missing).

    Each file is written to a temporary name beside it, then moved into place, so
    a failure never leaves a half-written file.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    text_path, steps_path = folder / "text.txt", folder / "steps.csv"

    def write_text(fh: IO[str]) -> None:
        fh.write(generation.text)

    def write_steps(fh: IO[str]) -> None:
        csv.writer(fh).writerows(steps_rows(generation.steps))

    _atomic_write(steps_path, write_steps)
    _atomic_write(text_path, write_text)
    return [text_path, steps_path]


def _atomic_write(path: Path, fill: Callable[[IO[str]], None]) -> None:
    with tempfile.NamedTemporaryFile(
        "w",
        encoding="utf-8",
        newline="",
        dir=path.parent,
        prefix=f".{path.name}.",
        suffix=".tmp",
        delete=False,
    ) as fh:
        tmp = Path(fh.name)
        try:
            fill(fh)
        except BaseException:
            fh.close()
            tmp.unlink(missing_ok=True)
            raise
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
