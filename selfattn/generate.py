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
``DecoderStepper`` (in ``selfattn.generate_model``) adapts the numpy decoder.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import numpy as np

from .sampling import Sampling, choose, softmax, top_ids

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
    steps = tuple(
        iter_generate(
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
    )
    stopped_by = "eos" if steps and steps[-1].token_id in set(eos_ids) else "limit"
    ids = [*prompt_ids, *(s.token_id for s in steps)]
    return Generation(
        prompt_ids=tuple(int(i) for i in prompt_ids),
        steps=steps,
        stopped_by=stopped_by,
        text=decode(ids),
        prompt_attention=prompt_out[0].attention if keep_attention else None,
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


def format_prob(p: float) -> str:
    """Shortest text that reads back to the same double."""
    return repr(float(p))


def steps_rows(steps: Sequence[Step]) -> Iterator[list[str]]:
    """``steps.csv`` as rows of cells, header first."""
    yield list(STEPS_COLUMNS)
    for s in steps:
        yield [
            str(s.step),
            str(s.position),
            str(s.token_id),
            token_cell(s.token),
            format_prob(s.prob),
            "|".join(str(i) for i in s.top_ids),
            "|".join(token_cell(t) for t in s.top_tokens),
            "|".join(format_prob(p) for p in s.top_probs),
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
