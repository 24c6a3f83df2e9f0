"""`selfattn from-model`: a real model's layer or head as a preset file (or JSON on stdout).

selfattn/cli.py imports this module lazily, calls `register`, and turns a
ModelError (or PresetError) raised by `run` into exit status 2 and one line.
"""

from __future__ import annotations

import argparse
import sys

from ..preset import dumps_preset, save_preset
from . import preset_from_model


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `from-model` subcommand."""
    p = subparsers.add_parser(
        "from-model",
        help="make a preset from a layer or head of a real model (BERT family or a decoder)",
        description="Tokenize TEXT as the model does, run the model in numpy up to layer L, "
        "and write a preset whose tokens are the model's tokens and whose inputs are what "
        "enters layer L's attention (BERT: the hidden states; decoders: their RMSNorm or "
        "LayerNorm, with causal masking, RoPE, key/value heads and sliding window as the "
        "model has them). Without --head: the whole layer (all heads, output = the "
        "attention output projection); with --head H: that head alone. Layers and heads "
        "are numbered from 1.",
    )
    p.add_argument(
        "--model",
        metavar="PATH",
        default=None,
        help="'minilm' or 'smollm2' (the bundled models), a checkpoint folder (config.json, "
        "safetensors weights, tokenizer.json or vocab.txt; BERT, llama, mistral, qwen2, "
        "gpt2) or a .gguf file (llama, qwen2) (default: minilm)",
    )
    p.add_argument("--layer", metavar="L", type=int, required=True, help="layer, from 1")
    p.add_argument("--head", metavar="H", type=int, default=None, help="head, from 1")
    p.add_argument("--text", metavar="TEXT", required=True, help="the sentence")
    p.add_argument(
        "--out", metavar="PRESET", default=None, help="write the preset here (default: stdout)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Make the preset; write it to --out (atomically) or print its JSON. Raises ModelError."""
    preset = preset_from_model(args.model, args.layer, args.head, args.text)
    if args.out:
        save_preset(preset, args.out)
        print(f"wrote {args.out}: {preset.name}", file=sys.stderr)
    else:
        sys.stdout.write(dumps_preset(preset))
    return 0
