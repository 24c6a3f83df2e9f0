"""The ``selfattn`` command line (DESIGN.md, "Command line").

    selfattn compute PRESET [--out DIR] [--format wide|long] [--dtype float32|float64]
    selfattn presets
    selfattn from-model ...        (registered by selfattn.models.command when present)
    selfattn atlas ...             (selfattn.atlas_command)
    selfattn generate ...          (selfattn.generate_command)

Bad input never shows a traceback: the exit status is 2 and stderr holds exactly
one line ``selfattn: error: ...``; nothing is written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn, cast

import numpy as np

from . import __version__
from .attention import DTYPES, AttentionResult
from .bundled import lessons, load_bundled, resolve_preset
from .export import FORMATS, write_csv
from .numbers import significant
from .preset import Preset, compute

if TYPE_CHECKING:  # the class is not subscriptable at run time on Python 3.11
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

PROG = "selfattn"
EXIT_ERROR = 2
DEFAULT_DIGITS = 8


class _UsageError(Exception):
    """A command-line usage error, reported as one line by main()."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (``selfattn: error: ...``), not usage + error."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def one_line(text: object) -> str:
    """Collapse a message to a single line (error messages may quote file content)."""
    return " ".join(str(text).split())


def _display_label(label: str, width: int = 24) -> str:
    """A token label safe for a table: printable, one line, at most ``width`` characters."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(label))
    shown = shown.replace(" ", "\u2423") if not shown.strip() else shown
    return shown if len(shown) <= width else shown[: width - 1] + "\u2026"


def format_table(
    values: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], digits: int
) -> str:
    """An aligned text table: labels on the left and on top, numbers right-aligned."""
    rows = [_display_label(r) for r in row_labels]
    cols = [_display_label(c) for c in col_labels]
    cells = [[_format_cell(float(v), digits) for v in row] for row in values]
    left = max((len(r) for r in rows), default=0)
    widths = [
        max([len(cols[j])] + [len(cells[i][j]) for i in range(len(rows))]) for j in range(len(cols))
    ]
    lines = [" " * left + "".join("  " + c.rjust(w) for c, w in zip(cols, widths, strict=True))]
    for r, row in zip(rows, cells, strict=True):
        lines.append(
            r.ljust(left) + "".join("  " + c.rjust(w) for c, w in zip(row, widths, strict=True))
        )
    return "\n".join(lines)


def _format_cell(x: float, digits: int) -> str:
    return significant(x, digits, ascii_minus=True)  # -0.0 too reads as plain 0


def _print_result(preset: Preset, result: AttentionResult, digits: int) -> None:
    tokens, keys = preset.tokens, preset.key_tokens
    heads = result.heads
    out = sys.stdout
    out.write(
        f"{preset.name}: {result.n_queries} queries x {result.n_keys} keys, "
        f"{heads} head{'s' if heads != 1 else ''}, d_k={result.d_k}, d_v={result.d_v}, "
        f"divisor={result.divisor:.{digits}g}, {result.dtype}\n"
    )
    for h in range(heads):
        title = "weights" if heads == 1 else f"weights, head {h + 1} of {heads}"
        out.write(f"\n{title} (rows: queries, columns: keys)\n")
        out.write(format_table(result.weights[h], tokens, keys, digits) + "\n")
    out.write("\noutput\n")
    out_cols = [f"o{j + 1}" for j in range(result.output.shape[1])]
    out.write(format_table(result.output, tokens, out_cols, digits) + "\n")
    if result.fully_masked.any():
        masked = [tokens[i] for i in np.flatnonzero(result.fully_masked)]
        out.write(
            "\nfully masked queries (no visible key; weights are 0): "
            + ", ".join(_display_label(t) for t in masked)
            + "\n"
        )


def _cmd_compute(args: argparse.Namespace) -> int:
    preset = resolve_preset(args.preset)
    # Overflow is reported as one error line by `attention`; numpy's RuntimeWarnings
    # would add lines of their own to stderr.
    with np.errstate(all="ignore"):
        result = compute(preset, dtype=args.dtype)
    written = []
    if args.out is not None:
        written = write_csv(
            result,
            args.out,
            tokens=preset.tokens,
            key_tokens=preset.key_tokens,
            format=args.format,
        )
    _print_result(preset, result, args.digits)
    if written:
        sys.stdout.write(f"\nwrote {len(written)} CSV file(s) to {args.out}\n")
    return 0


def _cmd_presets(args: argparse.Namespace) -> int:
    """Every bundled preset in lesson order: its name, then "n. Title — summary"."""
    entries = lessons()
    width = max((len(lesson.name) for lesson in entries), default=0)
    digits = len(str(len(entries)))  # numbers line up: " 9." above "10."
    broken = []
    for lesson in entries:
        try:
            load_bundled(lesson.name)
        except ValueError as exc:
            broken.append(lesson.name)
            sys.stdout.write(f"{lesson.name.ljust(width)}  [cannot load: {one_line(exc)}]\n")
            continue
        pad = " " * (digits - len(str(lesson.number)))
        sys.stdout.write(f"{lesson.name.ljust(width)}  {pad}{one_line(lesson.label)}\n")
    if broken:
        raise _UsageError(f"bundled preset(s) cannot be loaded: {', '.join(broken)}")
    return 0


def _digits(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 17:
        raise argparse.ArgumentTypeError(f"must be between 1 and 17, got {value}")
    return value


def _register_from_model(subparsers: Subparsers) -> None:
    """Add ``from-model`` if its module is importable; otherwise a stub that explains why.

    The real-model reader is written separately and pulls in safetensors/tokenizers;
    whatever goes wrong there must not take ``compute`` and ``presets`` down with it.
    """
    try:
        from .models import command

        command.register(subparsers)
        return
    except Exception as exc:  # any failure only disables this subcommand
        reason = one_line(f"{type(exc).__name__}: {exc}")
    if "from-model" in subparsers.choices:
        return  # registered, then failed later: keep what was registered
    stub = subparsers.add_parser(
        "from-model", help="make a preset from a real model (unavailable)", add_help=False
    )

    def unavailable(args: argparse.Namespace) -> int:
        raise _UsageError(f"from-model is unavailable: {reason}")

    stub.set_defaults(handler=unavailable, accepts_extra=True)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Self-Attention Workbench: compute and export every step of self-attention.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    # Every subcommand's parser is a _Parser (one-line errors); the registrars of the
    # other modules only need the ArgumentParser interface.
    sub = cast(
        "Subparsers",
        parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser),
    )
    sub.required = True

    p = sub.add_parser(
        "compute",
        help="compute a preset and print its weights and output",
        description="Compute a preset (a .json file or a bundled name), print the attention "
        "weights per head and the output as tables, and optionally write every "
        "intermediate as CSV.",
    )
    p.add_argument("preset", metavar="PRESET", help="a preset file or a bundled preset name")
    p.add_argument("--out", metavar="DIR", help="write CSV files into DIR (created if missing)")
    p.add_argument("--format", choices=FORMATS, default="wide", help="CSV layout (default: wide)")
    p.add_argument("--dtype", choices=DTYPES, default=None, help="override the preset's dtype")
    p.add_argument(
        "--digits",
        type=_digits,
        default=DEFAULT_DIGITS,
        help=f"significant digits in the printed tables (default {DEFAULT_DIGITS}; CSV is always exact)",
    )
    p.set_defaults(handler=_cmd_compute)

    p = sub.add_parser("presets", help="list the bundled presets")
    p.set_defaults(handler=_cmd_presets)

    _register_from_model(sub)
    from .atlas_command import register as register_atlas

    register_atlas(sub)
    from .walkthrough_command import register as register_walkthrough

    register_walkthrough(sub)
    from .generate_command import register as register_generate

    register_generate(sub)
    return parser


def _is_input_error(exc: BaseException) -> bool:
    """Errors that mean bad input (reported as one line), as opposed to bugs (traceback)."""
    if isinstance(exc, OSError | MemoryError | _UsageError):
        return True
    # PresetError, AttentionError, ExportError, ModelError: ValueErrors of this package.
    return isinstance(exc, ValueError) and type(exc).__module__.split(".")[0] == "selfattn"


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "out of memory (the preset is too large for this machine)"
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return f"{where}: {exc.strerror}" if where else exc.strerror
    return str(exc) or type(exc).__name__


def _escape_unencodable_output() -> None:
    """Token labels can be any Unicode; a console or pipe in a legacy encoding (cp1252,
    ASCII) must get ``\\u65e5`` escapes, not a UnicodeEncodeError traceback."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):  # a closed stream: leave it
            reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input)."""
    _escape_unencodable_output()
    parser = build_parser()
    try:
        try:
            args, extra = parser.parse_known_args(None if argv is None else list(argv))
        except SystemExit as exc:  # --help / --version: argparse already printed
            return exc.code if isinstance(exc.code, int) else 0
        if extra and not getattr(args, "accepts_extra", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return int(args.handler(args))
    except BrokenPipeError:
        # Output piped into `head`: stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not _is_input_error(exc):
            raise
        sys.stderr.write(f"{PROG}: error: {one_line(_describe_error(exc))}\n")
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
