"""The model navigator's next layer: from the kept forward pass versus from scratch.

Page Down asks for preset_from_model(model, L + 1, head, text) right after layer L
was built: the states entering layers 1..L are kept (selfattn.models.layer_cache),
so only layer L runs. "From scratch" empties the cache first, as before it existed.
Both include building the preset (float64 copies of the layer's weights). Models
are loaded (and SmolLM2 dequantized) before timing; 32 tokens, as bench_atlas.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks._common import make_row
from benchmarks.bench_atlas import SENTENCE_32, SMOLLM2_SENTENCE_32
from selfattn.models import default_model_dir, load_checkpoint, preset_from_model
from selfattn.models.decoder import load_decoder
from selfattn.models.discover import smollm2_path
from selfattn.models.layer_cache import clear_layer_cache


def _next_layer_times(
    model: str | None, text: str, layer: int, head: int | None, repeats: int, cached: bool
) -> list[float]:
    """Seconds of building layer + 1 after layer (cached) or from an empty cache."""
    times = []
    for _ in range(repeats + 1):  # the first is a warm-up
        clear_layer_cache()
        if cached:
            preset_from_model(model, layer, head, text)
        t0 = time.perf_counter()
        preset_from_model(model, layer + 1, head, text)
        times.append(time.perf_counter() - t0)
    clear_layer_cache()
    return times[1:]


def _pair(
    label: str, model: str | None, text: str, layer: int, head: int | None, repeats: int, note: str
) -> list[dict[str, Any]]:
    kept = _next_layer_times(model, text, layer, head, repeats, cached=True)
    scratch = _next_layer_times(model, text, layer, head, repeats, cached=False)
    which = "all heads" if head is None else f"head {head}"
    return [
        make_row(
            f"navigator: {label} layer {layer} -> {layer + 1} {which}, kept pass",
            kept,
            note=note,
        ),
        make_row(
            f"navigator: {label} layer {layer + 1} {which}, from scratch",
            scratch,
            note=f"runs layers 1..{layer}",
        ),
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    repeats = 2 if quick else 15
    if default_model_dir() is None:
        rows.append(make_row("navigator: MiniLM skipped (not installed)", [0.0]))
    else:
        assert len(load_checkpoint(None).encode(SENTENCE_32).ids) == 32
        rows += _pair("MiniLM 32 tokens", None, SENTENCE_32, 5, 3, repeats, "runs layer 5 only")
    path = smollm2_path()
    if path is None:
        rows.append(make_row("navigator: SmolLM2 skipped (not installed)", [0.0]))
        return rows
    model = load_decoder(path)
    model.load_all()  # dequantize every tensor before timing
    assert len(model.encode(SMOLLM2_SENTENCE_32).ids) == 32
    layer = 5 if quick else 20
    rows += _pair(
        "SmolLM2 32 tokens",
        "smollm2",
        SMOLLM2_SENTENCE_32,
        layer,
        None,
        repeats,
        f"runs layer {layer} only",
    )
    return rows
