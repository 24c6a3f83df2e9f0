"""Real models: loading all-MiniLM-L6-v2 and turning a 32-token sentence into a preset.

Targets (issue 8): loading the model at most 1 s, a 32-token sentence to a preset
at most 100 ms on this machine. "Cold" means this program's per-folder cache is
cleared; the operating system's file cache stays warm (dropping it needs root),
so a first load after a reboot also pays for reading 91 MB from disk.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from typing import Any

import numpy as np

from benchmarks._common import REPO, make_row, time_calls, worker_env
from selfattn.models import clear_cache, default_model_dir, load_checkpoint, preset_from_model
from selfattn.models.bert import gelu

# 30 word pieces + [CLS] + [SEP] = 32 (checked below)
SENTENCE_32 = (
    "The quick brown fox jumps over the lazy dog while the cat sleeps on a warm mat "
    "near the old wooden door of the quiet little house by the sea"
)


def _load_everything() -> None:
    """Read config, header and tokenizer, and copy every layer's weights to float32."""
    clear_cache()
    ckpt = load_checkpoint(None)
    for number in range(1, ckpt.config.n_layers + 1):
        ckpt.layer(number)
    ckpt.embed(ckpt.encode("warm"))


def _fresh_process() -> None:
    """A new interpreter: import, load the model, make the 32-token one-head preset."""
    code = (
        "from selfattn.models import preset_from_model\n"
        f"preset_from_model(None, 6, 5, {SENTENCE_32!r})\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, env=worker_env(), cwd=str(REPO), timeout=120
    )


def _timed(fn: Any, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def run(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    x = np.random.default_rng(0).standard_normal((32, 1536)).astype(np.float32)
    erf_py = np.frompyfunc(math.erf, 1, 1)
    reps = 20 if quick else 100
    ours = time_calls(lambda: gelu(x), reps)
    peer = time_calls(lambda: 0.5 * x * (1.0 + erf_py(x.astype(np.float64) / math.sqrt(2))), reps)
    rows.append(
        make_row(
            "models: exact GELU 32x1536 (Cephes erf in numpy)",
            ours,
            peer=peer,
            note="peer: math.erf through np.frompyfunc",
        )
    )

    if default_model_dir() is None:
        return rows  # nothing more to time without the bundled model

    n = len(load_checkpoint(None).encode(SENTENCE_32).ids)
    assert n == 32, n
    rows.append(
        make_row(
            "models: load all-MiniLM-L6-v2 (cold cache, all weights)",
            time_calls(_load_everything, 3 if quick else 10),
            target_s=1.0,
            note="config + safetensors header + tokenizer + 6 layers to float32; OS cache warm",
        )
    )
    reps = 10 if quick else 50
    for layer, head, label in ((6, None, "whole layer 6, 12 heads"), (6, 5, "layer 6 head 5")):
        rows.append(
            make_row(
                f"models: 32-token sentence -> preset ({label})",
                time_calls(
                    lambda la=layer, he=head: preset_from_model(None, la, he, SENTENCE_32), reps
                ),
                target_s=0.1,
                note="tokenize + forward pass through 5 layers + preset (weights cached)",
            )
        )
    clear_cache()
    rows.append(
        make_row(
            "models: first preset after a cold load (layer 6 head 5)",
            time_calls(
                lambda: (clear_cache(), preset_from_model(None, 6, 5, SENTENCE_32)),
                3 if quick else 10,
                warmup=0,
            ),
            note="what a person waits for the first time: load + 32-token preset",
        )
    )
    rows.append(
        make_row(
            "models: fresh process, import + load + 32-token preset",
            _timed(_fresh_process, 2 if quick else 5),
            note="python -c 'preset_from_model(None, 6, 5, ...)': includes Python, numpy, "
            "tokenizers start-up",
        )
    )
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
