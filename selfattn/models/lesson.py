"""The bundled real-head lesson, resources/presets/real-previous-token.json.

Layer 1, head 3 of all-MiniLM-L6-v2 is a previous-token head: every word puts
more than 0.999 of its weight on the word just before it. The file is an
ordinary preset (it opens without the model); this module rebuilds it:

    .venv/bin/python -m selfattn.models.lesson          # rewrite the file
    .venv/bin/python -m selfattn.models.lesson --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ..preset import Preset, dumps_preset
from . import preset_from_model

LAYER = 1
HEAD = 3
TEXT = "The cat sat on the mat and slept."
NAME = "Real head: the previous word (MiniLM layer 1, head 3)"
DESCRIPTION = (
    "A real attention head, every number the model's own: all-MiniLM-L6-v2 "
    "(Apache-2.0; 6 layers x 12 heads of 32, hidden 384), layer 1, head 3, on the "
    f"sentence {TEXT!r} The inputs are the hidden states entering layer 1 (word + "
    "position embeddings after LayerNorm); W_Q, W_K and W_V are the head's 32 columns and "
    "W_O its 32 rows, transposed from the checkpoint for X @ W. Look at the weights: each "
    "word puts more than 0.999 of its attention on the word just before it, and [CLS], "
    "which has none, attends to itself. The two 'the' tokens show that the head reads "
    "position, not the word: the first looks at [CLS], the second at 'on'. In the scaled "
    "scores the previous word wins by 7 to 12, so the softmax is almost one-hot; set the "
    "temperature to 10 and it drops to about 0.4. Made with: selfattn from-model "
    f'--layer {LAYER} --head {HEAD} --text "{TEXT}"'
)
FILE = Path(__file__).resolve().parents[2] / "resources" / "presets" / "real-previous-token.json"


def build() -> Preset:
    """The lesson from the bundled model (ModelError when it is not installed)."""
    preset = preset_from_model(None, LAYER, HEAD, TEXT)
    return preset.replace(name=NAME, description=DESCRIPTION)


def rebuild(
    build_lesson: Callable[[], Preset], file: Path, what: str, argv: list[str] | None
) -> int:
    """The command line of every lesson builder: write the preset, or `--check` it."""
    ap = argparse.ArgumentParser(description=f"Rebuild the bundled {what}.")
    ap.add_argument("--check", action="store_true", help="only report whether it is current")
    args = ap.parse_args(argv)
    text = dumps_preset(build_lesson())
    if args.check:
        current = file.is_file() and file.read_text(encoding="utf-8") == text
        print(f"{file.name}: {'up to date' if current else 'OUT OF DATE'}")
        return 0 if current else 1
    file.write_text(text, encoding="utf-8")
    print(f"wrote {file} ({len(text.encode()) / 1024:.0f} KiB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    return rebuild(build, FILE, "real-head lesson", argv)


if __name__ == "__main__":
    sys.exit(main())
