"""The model atlas: every layer and head of a real model for a 32-token sentence.

Targets (issue 12): the atlas of all-MiniLM-L6-v2 for 32 tokens at most 0.5 s
(painted in the window: here the forward pass, metrics and rollout, and that plus
the atlas picture as PNG bytes); SmolLM2 for 32 tokens at most 2 s after the
model is loaded. The model is loaded (and every layer's weights copied) before
timing starts. The forward passes run on one BLAS thread whatever
OPENBLAS_NUM_THREADS says (selfattn/models/blas.py, BENCHMARKS.md "Third session").
"""

from __future__ import annotations

from typing import Any

from benchmarks._common import make_row, time_calls
from selfattn.atlas import atlas_from_attentions, build_atlas, decoder_attentions
from selfattn.atlas_picture import atlas_image
from selfattn.models import default_model_dir, load_checkpoint
from selfattn.models.decoder import load_decoder
from selfattn.models.discover import smollm2_path
from selfattn.png import encode_png

# 30 word pieces + [CLS] + [SEP] = 32 for MiniLM (checked below)
SENTENCE_32 = (
    "The quick brown fox jumps over the lazy dog while the cat sleeps on a warm mat "
    "near the old wooden door of the quiet little house by the sea"
)
SMOLLM2_SENTENCE_32 = SENTENCE_32 + "."  # 32 tokens for SmolLM2 (checked below)


def _atlas_and_picture() -> bytes:
    atlas = build_atlas(None, SENTENCE_32)
    image, _ = atlas_image(atlas.attentions)
    return encode_png(image)


def run(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if default_model_dir() is None:
        rows.append(make_row("atlas: MiniLM skipped (not installed)", [0.0]))
    else:
        rows += _minilm(quick)
    path = smollm2_path()
    if path is None:
        rows.append(make_row("atlas: SmolLM2 skipped (not installed)", [0.0]))
        return rows
    model = load_decoder(path)
    reps = 3 if quick else 15
    model.load_all()  # dequantize every tensor before timing: "after the model is loaded"
    assert len(model.encode(SMOLLM2_SENTENCE_32).ids) == 32
    rows.append(
        make_row(
            "atlas: SmolLM2 32 tokens, forward + metrics + rollout",
            time_calls(lambda: build_atlas("smollm2", SMOLLM2_SENTENCE_32), 2 if quick else 10),
            target_s=2.0,
            note="30 x 9 heads; GGUF dequantized before timing",
        )
    )
    enc = model.encode(SMOLLM2_SENTENCE_32)
    attentions = decoder_attentions(model, enc.ids)
    rows.append(
        make_row(
            "atlas: SmolLM2 32 tokens, metrics + rollout only",
            time_calls(lambda: atlas_from_attentions(attentions, enc.ids, enc.tokens), reps),
            note="the atlas's own share; the rest is the forward pass",
        )
    )
    return rows


def _minilm(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    n = len(load_checkpoint(None).encode(SENTENCE_32).ids)
    assert n == 32, n
    reps = 3 if quick else 15
    rows.append(
        make_row(
            "atlas: MiniLM 32 tokens, forward + metrics + rollout",
            time_calls(lambda: build_atlas(None, SENTENCE_32), reps),
            target_s=0.5,
            note="6 x 12 heads; model loaded before timing",
        )
    )
    rows.append(
        make_row(
            "atlas: MiniLM 32 tokens, + picture as PNG",
            time_calls(_atlas_and_picture, reps),
            target_s=0.5,
            note="the window's painting comes later",
        )
    )
    return rows
