"""``selfattn walkthrough PRESET [--query I] [--format md|html] [--out FILE]``.

Writes the walk-through of a preset as a worksheet: Markdown (default) or a
self-contained HTML page, to stdout or to FILE. Everything is computed and rendered
before anything is written, and FILE is replaced atomically, so a bad preset, a
query out of range or an unwritable folder leaves no file behind (selfattn.cli
reports the error as one line, exit status 2).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .atomic import write_text_atomically
from .bundled import resolve_preset
from .walkthrough import walkthrough
from .worksheet import FORMATS, render


def _query_number(text: str) -> int:
    """--query counts from 1, like the window's rows."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"queries count from 1, got {value}")
    return value


def write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 text through a temporary file beside the target, then rename."""
    write_text_atomically(path, text)


def _run(args: argparse.Namespace) -> int:
    preset = resolve_preset(args.preset)
    walk = walkthrough(preset, query=args.query - 1)
    text = render(walk, args.format)
    if args.out is None:
        sys.stdout.write(text)
    else:
        out = Path(args.out)
        if out.is_dir():
            raise IsADirectoryError(21, "is a folder, expected a file name", str(out))
        write_atomically(out, text)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``walkthrough`` subcommand to the ``selfattn`` parser."""
    p = subparsers.add_parser(
        "walkthrough",
        help="write the step-by-step walk-through of a preset (Markdown or HTML)",
        description="Write a preset's attention step by step, as in the tutorial: inputs, "
        "weights, one query's query/key/value, its scores, scaling and masks, softmax, the "
        "weighted values and their sum, then every query and the output projection. "
        "Markdown goes to stdout unless --out is given; HTML is one self-contained page.",
    )
    p.add_argument("preset", metavar="PRESET", help="a preset file or a bundled preset name")
    p.add_argument(
        "--query",
        type=_query_number,
        default=1,
        metavar="I",
        help="the query (row) to follow, counting from 1 (default 1)",
    )
    p.add_argument("--format", choices=FORMATS, default="md", help="md (Markdown, default) or html")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(handler=_run)
