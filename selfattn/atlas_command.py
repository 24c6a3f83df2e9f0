"""`selfattn atlas`: every layer and head of a real model for one text, measured.

    selfattn atlas [--model PATH|minilm|smollm2] (--text TEXT | --induction K [--seed S])
                   [--top N] [--out DIR] [--png FILE] [--svg FILE]

Prints, per metric, the top heads as an aligned table; `--out DIR` writes
heads.csv and rollout.csv (DESIGN.md "Model atlas"), `--png FILE` the atlas
picture, `--svg FILE` the same picture with vector labels (for slides). Bad input:
exit 2, one `selfattn: error:` line, nothing written — every number and every
picture is made before the first file is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .models.errors import ModelError

if TYPE_CHECKING:
    from .atlas import Atlas

DEFAULT_TOP = 5
HEADS_FILE = "heads.csv"
ROLLOUT_FILE = "rollout.csv"
TOKENS_SHOWN = 40


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `atlas` subcommand (the model reader is imported only when it runs)."""
    p = subparsers.add_parser(
        "atlas",
        help="measure every layer and head of a real model for one text",
        description="Run the model once over TEXT, keep every layer's attention weights, "
        "and measure each head: entropy, first_token, previous_token, self, max_weight, "
        "induction, each a mean over query rows. Prints the top heads per metric; --out "
        "writes heads.csv (one row per head) and rollout.csv (attention rollout, Abnar & "
        "Zuidema 2020), --png the layers x heads picture (colours: weights 0..1), --svg "
        "the same picture as SVG with vector labels. Layers and heads are numbered from 1.",
    )
    p.add_argument(
        "--model",
        metavar="PATH",
        default=None,
        help="a BERT-family or decoder checkpoint folder, a .gguf file, or the name 'minilm' "
        "or 'smollm2' of a bundled model (default: the bundled all-MiniLM-L6-v2)",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", metavar="TEXT", help="the text to run the model on")
    source.add_argument(
        "--induction",
        metavar="K",
        type=_positive,
        help="instead of a text: the induction test input, BOS (where the model has one), "
        "K random token ids, then the same K again",
    )
    p.add_argument(
        "--seed", metavar="S", type=_seed, default=0, help="seed of --induction (default 0)"
    )
    p.add_argument(
        "--top",
        metavar="N",
        type=_positive,
        default=DEFAULT_TOP,
        help=f"heads shown per metric (default {DEFAULT_TOP})",
    )
    p.add_argument("--out", metavar="DIR", help="write heads.csv and rollout.csv into DIR")
    p.add_argument("--png", metavar="FILE", help="write the atlas picture (PNG)")
    p.add_argument(
        "--svg",
        metavar="FILE",
        help="write the atlas picture as SVG: the thumbnails as one embedded PNG, the title, "
        "layer and head numbers as text, each head's metrics as a tooltip",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Build the atlas, then print it and write the files. Raises ModelError on bad input."""
    try:  # the model reader pulls in safetensors and tokenizers
        from . import atlas as atlas_mod  # noqa: PLC0415
        from .atlas_picture import atlas_image, atlas_svg  # noqa: PLC0415
        from .png import encode_png  # noqa: PLC0415
    except ImportError as exc:
        raise ModelError(f"atlas is unavailable: {exc}") from None

    if args.seed != 0 and args.induction is None:
        raise ModelError("--seed only applies to --induction")
    atlas = atlas_mod.build_atlas(args.model, args.text, induction=args.induction, seed=args.seed)
    files: list[tuple[Path, bytes]] = []
    if args.out is not None:
        out = Path(args.out)
        files.append((out / HEADS_FILE, atlas_mod.heads_csv_text(atlas).encode("utf-8")))
        files.append((out / ROLLOUT_FILE, atlas_mod.rollout_csv_text(atlas).encode("utf-8")))
    if args.png is not None:
        image, _ = atlas_image(atlas.attentions)
        files.append((Path(args.png), encode_png(image)))
    if args.svg is not None:
        files.append((Path(args.svg), atlas_svg(atlas).encode("utf-8")))
    if files:
        _write_all_or_nothing(files, make_dir=None if args.out is None else Path(args.out))
    _print_atlas(atlas, args.top)
    for path, _ in files:
        sys.stdout.write(f"wrote {path}\n")
    return 0


def _write_all_or_nothing(files: Sequence[tuple[Path, bytes]], make_dir: Path | None) -> None:
    """Write every file to a temporary beside its target, then rename them all into place;
    on any failure remove what was staged and restore what was replaced."""
    created: list[Path] = []
    if make_dir is not None:
        if make_dir.exists() and not make_dir.is_dir():
            raise ModelError(f"{make_dir}: exists and is not a folder")
        probe = make_dir
        while not probe.exists() and probe != probe.parent:
            created.append(probe)
            probe = probe.parent
    umask = os.umask(0)
    os.umask(umask)
    mode = 0o666 & ~umask
    staged: list[tuple[Path, Path]] = []
    moved_aside: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        if make_dir is not None:
            make_dir.mkdir(parents=True, exist_ok=True)
        for target, data in files:
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
            )
            staged.append((target, Path(tmp_name)))
            os.fchmod(fd, mode)  # mkstemp makes 0600; a new file gets the usual mode
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        for target, staged_file in staged:
            if target.exists():
                aside = staged_file.with_suffix(".old")
                os.replace(target, aside)
                moved_aside.append((target, aside))
            os.replace(staged_file, target)
            placed.append(target)
    except BaseException:
        for target in placed:
            with contextlib.suppress(OSError):
                target.unlink()
        for target, aside in moved_aside:
            with contextlib.suppress(OSError):
                os.replace(aside, target)
        for _, staged_file in staged:
            with contextlib.suppress(OSError):
                staged_file.unlink()
        for folder in created:  # deepest first, only if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    for _, aside in moved_aside:
        with contextlib.suppress(OSError):
            aside.unlink()


def _print_atlas(atlas: Atlas, top: int) -> None:
    from .atlas import METRIC_HELP, METRICS, top_heads  # noqa: PLC0415
    from .cli import _display_label  # noqa: PLC0415
    from .numbers import significant  # noqa: PLC0415

    out = sys.stdout
    n = len(atlas.tokens)
    total = atlas.n_layers * atlas.n_heads
    out.write(
        f"atlas of {atlas.model}: {atlas.n_layers} layers x {atlas.n_heads} heads, "
        f"{n} tokens\ninput: {atlas.source}\n"
    )
    shown = " ".join(_display_label(t, 16) for t in atlas.tokens[:TOKENS_SHOWN])
    more = f" ... ({n - TOKENS_SHOWN} more)" if n > TOKENS_SHOWN else ""
    out.write(f"tokens: {shown}{more}\n")
    for metric in METRICS:
        best = top_heads(atlas, metric, top)
        out.write(f"\n{metric} ({METRIC_HELP[metric]})\n")
        if not best:
            reason = (
                "no token id occurs twice in the input"
                if metric == "induction"
                else "the input has one token"
            )
            out.write(f"undefined: {reason}\n")
            continue
        out.write(f"top {len(best)} of {total} heads:\n")
        rows = [("rank", "layer", "head", "value")]
        rows += [
            (str(i + 1), str(layer), str(head), significant(value, ascii_minus=True))
            for i, (layer, head, value) in enumerate(best)
        ]
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        for r in rows:
            out.write("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) + "\n")
