"""`selfattn generate`: a decoder continues a text, and shows each choice it made.

    selfattn generate [--model PATH] --text TEXT [--max-new-tokens N] [--top K]
                      [--temperature T --seed S] [--top-k K] [--top-p P] [--chat]
                      [--out DIR]

Greedy by default (DESIGN.md "Generation"); --temperature switches to sampling,
drawn with numpy.random.default_rng(S). Prints one line per step as it is made
(the chosen token, its probability and the top-K alternatives, softmax at T = 1),
then the whole text. --out DIR writes text.txt and steps.csv once the run is
complete; bad input gives exit status 2, one `selfattn: error:` line and no files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .generate import (
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_TOP,
    DecoderStepper,
    GenerationError,
    Step,
    check_room,
    finish,
    iter_generate,
    model_eos_ids,
    open_model,
    prompt_ids,
    write_outputs,
)
from .numbers import significant
from .sampling import Sampling

TOKEN_WIDTH = 16
PROB_DIGITS = 4  # enough to rank the alternatives; steps.csv has every digit


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `generate` subcommand (the model reader is imported only when it runs)."""
    p = subparsers.add_parser(
        "generate",
        help="continue a text with a decoder, token by token, with the alternatives",
        description="Run a decoder (default: the bundled SmolLM2-135M-Instruct) on TEXT and "
        "continue it: greedy (the most probable token, ties to the lowest id) unless "
        "--temperature asks for sampling. Prints each step's token, its probability and the "
        "top-K alternatives (softmax at T = 1), then the text. Stops at the model's "
        "end-of-sequence token or after N new tokens.",
    )
    p.add_argument(
        "--model",
        metavar="PATH",
        default=None,
        help="a GGUF file or a checkpoint folder (default: the bundled SmolLM2-135M-Instruct)",
    )
    p.add_argument("--text", metavar="TEXT", required=True, help="the prompt")
    p.add_argument(
        "--max-new-tokens",
        metavar="N",
        type=_whole(1),
        default=DEFAULT_MAX_NEW_TOKENS,
        help=f"at most N new tokens (default {DEFAULT_MAX_NEW_TOKENS})",
    )
    p.add_argument(
        "--top",
        metavar="K",
        type=_whole(1),
        default=DEFAULT_TOP,
        help=f"alternatives shown and written per step (default {DEFAULT_TOP})",
    )
    p.add_argument(
        "--temperature",
        metavar="T",
        type=_number,
        default=None,
        help="sample from softmax(logits / T) instead of taking the most probable token",
    )
    p.add_argument(
        "--seed",
        metavar="S",
        type=_whole(0),
        default=None,
        help="seed of numpy.random.default_rng for sampling (default: a fresh one, printed)",
    )
    p.add_argument(
        "--top-k",
        metavar="K",
        type=_whole(1),
        default=None,
        help="sampling: draw only among the K most probable tokens",
    )
    p.add_argument(
        "--top-p",
        metavar="P",
        type=_number,
        default=None,
        help="sampling: draw only among the most probable tokens whose mass reaches P "
        "(after --top-k)",
    )
    p.add_argument(
        "--chat",
        action="store_true",
        help="wrap TEXT as a user message with the model's chat template first",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="write text.txt and steps.csv into DIR (created if missing)",
    )
    p.set_defaults(handler=run)


def sampling_from_args(args: argparse.Namespace) -> Sampling | None:
    """None for greedy; refuses sampling options given without --temperature."""
    if args.temperature is None:
        given = [
            name
            for name, value in (
                ("--seed", args.seed),
                ("--top-k", args.top_k),
                ("--top-p", args.top_p),
            )
            if value is not None
        ]
        if given:
            raise GenerationError(
                f"{', '.join(given)} only applies to sampling: add --temperature T"
            )
        return None
    seed = args.seed if args.seed is not None else int(np.random.default_rng().integers(2**31))
    return Sampling(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=seed)


def shown(text: str) -> str:
    """A token for the terminal: quoted, escapes for line breaks and invisible characters."""
    body = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )
    return "'" + body.replace("'", "\\'") + "'"


def printable_text(text: str) -> str:
    """The text for a terminal: line breaks and tabs kept, other control characters
    escaped (a model's output must not move the cursor or clear the screen)."""
    return "".join(
        c if c.isprintable() or c in "\n\t" else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


def _prob(p: float) -> str:
    return significant(p, PROB_DIGITS, ascii_minus=True)


def step_line(step: Step) -> str:
    """One printed step: number, position, token and probability, then the alternatives."""
    alternatives = "  ".join(
        f"{shown(t)} {_prob(p)}" for t, p in zip(step.top_tokens, step.top_probs, strict=True)
    )
    return (
        f"{step.step:>4}  {step.position:>5}  {shown(step.token):<{TOKEN_WIDTH}} "
        f"{_prob(step.prob):<9} {alternatives}"
    )


def run(args: argparse.Namespace) -> int:
    sampling = sampling_from_args(args)
    if args.out is not None:
        if not args.out.strip():
            raise GenerationError("--out needs a folder name")
        if Path(args.out).exists() and not Path(args.out).is_dir():
            raise GenerationError(f"--out {args.out}: exists and is not a folder")
    model = open_model(args.model)
    ids = prompt_ids(model, args.text, chat=args.chat)
    check_room(model, len(ids), args.max_new_tokens, keep_attention=False)
    out = sys.stdout
    mode = (
        "greedy"
        if sampling is None
        else f"sampling: temperature {sampling.temperature:g}"
        + (f", top-k {sampling.top_k}" if sampling.top_k is not None else "")
        + (f", top-p {sampling.top_p:g}" if sampling.top_p is not None else "")
        + f", seed {sampling.seed}"
    )
    out.write(
        f"{model.display_name}: {len(ids)} prompt token{'s' if len(ids) != 1 else ''}, "
        f"up to {args.max_new_tokens} new, {mode}\n\n"
    )
    out.write(f"step  {'pos':>5}  {'token':<{TOKEN_WIDTH}} {'prob':<9} top {args.top} (T = 1)\n")
    eos_ids = model_eos_ids(model)
    decode = model.tokenizer.decode
    steps: list[Step] = []
    for step in iter_generate(
        DecoderStepper(model),
        ids,
        decode=decode,
        max_new_tokens=args.max_new_tokens,
        eos_ids=eos_ids,
        sampling=sampling,
        top=args.top,
    ):
        steps.append(step)
        out.write(step_line(step) + "\n")
        out.flush()  # each token appears as it is made
    generation = finish(ids, steps, decode=decode, eos_ids=eos_ids)
    reason = "end-of-sequence token" if generation.stopped_by == "eos" else "step limit"
    out.write(f"\nstopped by the {reason} after {len(generation.steps)} new tokens\n\n")
    out.write(printable_text(generation.text) + "\n")
    if args.out is not None:
        written = write_outputs(generation, args.out)
        out.write(f"\nwrote {', '.join(p.name for p in written)} to {args.out}\n")
    return 0
