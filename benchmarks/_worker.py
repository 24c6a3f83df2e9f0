"""One timing job in a fresh process; prints one JSON line.

Run as a script (`python benchmarks/_worker.py TASK ...`) so a separate torch
interpreter can use it without installing this project. Tasks:

  core    time every intermediate of attention (numpy: selfattn.attention,
          torch: the same steps with torch ops), --lib numpy|torch
  memory  peak resident memory of one selfattn.attention call
  incremental  full recomputes and one-X-cell edits through IncrementalAttention
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def make_inputs(n: int, d_model: int, heads: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float64 layer; weights scaled so logits have a spread like trained heads."""
    rng = np.random.default_rng(seed)
    w_std = 2.0 / np.sqrt(d_model)
    return {
        "x": rng.standard_normal((n, d_model)),
        "w_q": rng.standard_normal((d_model, d_model)) * w_std,
        "w_k": rng.standard_normal((d_model, d_model)) * w_std,
        "w_v": rng.standard_normal((d_model, d_model)) * w_std,
        "w_o": rng.standard_normal((d_model, d_model)) * w_std,
    }


def load_attention(impl: str | None):
    """selfattn.attention, or the `attention` function of another file (before/after runs)."""
    if impl is None:
        sys.path.insert(0, str(REPO))
        from selfattn.attention import attention

        return attention
    spec = importlib.util.spec_from_file_location("_bench_impl", impl)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module.attention


def numpy_job(a: argparse.Namespace) -> list[float]:
    attention = load_attention(a.impl)
    inp = make_inputs(a.n, a.d_model, a.heads)
    x = inp["x"].astype(a.dtype)
    ws = {k: v.astype(a.dtype) for k, v in inp.items() if k != "x"}
    holder = []  # keep the previous result alive, as a document holding its result does
    # Explicit buffer ownership (selfattn.attention.ResultBuffers) where the
    # implementation has it: the previous result is given back once replaced.
    buffers_class = getattr(sys.modules.get(attention.__module__), "ResultBuffers", None)
    buffers = buffers_class() if buffers_class is not None else None
    extra = {} if buffers is None else {"buffers": buffers}

    def call() -> None:
        r = attention(
            x, ws["w_q"], ws["w_k"], ws["w_v"], w_o=ws["w_o"], heads=a.heads, dtype=a.dtype,
            **extra,
        )  # fmt: skip
        if buffers is not None and holder:
            buffers.give_back(holder[0])  # nobody reads the previous result any more
        holder[:] = [r]

    return timed(call, a.repeats, a.warmup)


def torch_job(a: argparse.Namespace) -> list[float]:
    import torch

    torch.set_num_threads(a.threads)
    dt = {"float32": torch.float32, "float64": torch.float64}[a.dtype]
    inp = {k: torch.from_numpy(v).to(dt) for k, v in make_inputs(a.n, a.d_model, a.heads).items()}
    n, h = a.n, a.heads
    d_k = a.d_model // h
    divisor = float(np.sqrt(d_k))
    holder = []

    def call() -> None:
        with torch.inference_mode():
            x = inp["x"]
            q = x @ inp["w_q"]
            k = x @ inp["w_k"]
            v = x @ inp["w_v"]
            q_h = q.view(n, h, d_k).transpose(0, 1)
            k_h = k.view(n, h, d_k).transpose(0, 1)
            v_h = v.view(n, h, d_k).transpose(0, 1)
            scores = q_h @ k_h.transpose(1, 2)
            scaled = scores / divisor
            weights = torch.softmax(scaled, dim=-1)
            context = weights @ v_h
            output = context.transpose(0, 1).reshape(n, h * d_k) @ inp["w_o"]
            holder[:] = [(q, k, v, scores, scaled, weights, context, output)]

    return timed(call, a.repeats, a.warmup)


def timed(fn, repeats: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def memory_job(a: argparse.Namespace) -> dict[str, float]:
    attention = load_attention(a.impl)
    inp = make_inputs(a.n, a.d_model, a.heads)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    r = attention(
        inp["x"], inp["w_q"], inp["w_k"], inp["w_v"], w_o=inp["w_o"], heads=a.heads, dtype=a.dtype
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    held = sum(getattr(r, f).nbytes for f in ("scores", "scaled_scores", "weights"))
    return {"peak_bytes": peak, "before_bytes": before, "held_nm_bytes": held}


def blas_core() -> str:
    """The OpenBLAS kernel numpy's bundled library picked at run time, or ''."""
    try:
        import ctypes

        libs = sorted((Path(np.__file__).parent.parent / "numpy.libs").glob("*openblas*.so*"))
        get = ctypes.CDLL(str(libs[0])).scipy_openblas_get_corename64_
        get.restype = ctypes.c_char_p
        return get().decode()
    except (OSError, IndexError, AttributeError):
        return ""


def incremental_job(a: argparse.Namespace) -> dict[str, list[float]]:
    """Full recomputes, then one-X-cell edits, through IncrementalAttention."""
    sys.path.insert(0, str(REPO))
    from selfattn.incremental import IncrementalAttention
    from selfattn.preset import Options, Preset

    inp = make_inputs(a.n, a.d_model, a.heads)
    preset = Preset(
        inputs=inp["x"],
        w_query=inp["w_q"],
        w_key=inp["w_k"],
        w_value=inp["w_v"],
        options=Options(heads=a.heads, dtype=a.dtype),
    )
    inc = IncrementalAttention(preset)

    def full_recompute() -> None:
        if hasattr(inc, "release"):
            inc.release()
        inc.recompute(preset)

    full = timed(full_recompute, a.repeats, a.warmup)
    rng = np.random.default_rng(1)
    edits = []
    for _ in range(a.warmup + 3 * a.repeats):
        x = np.array(preset.inputs)
        r, c = int(rng.integers(a.n)), int(rng.integers(a.d_model))
        x[r, c] += float(rng.standard_normal())
        preset = preset.replace(inputs=x)
        t0 = time.perf_counter()
        if hasattr(inc, "release"):
            inc.release()  # results are read from inc.result, not kept
        inc.edit_cell(preset, "inputs", r, c)
        edits.append(time.perf_counter() - t0)
    return {"full": full, "times": edits[a.warmup :]}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("task", choices=["core", "memory", "incremental"])
    p.add_argument("--lib", choices=["numpy", "torch"], default="numpy")
    p.add_argument("--impl", default=None, help="file whose attention() replaces selfattn's")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--heads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    if a.task == "memory":
        print(json.dumps(memory_job(a)))
        return
    if a.task == "incremental":
        print(json.dumps(incremental_job(a)))
        return
    times = numpy_job(a) if a.lib == "numpy" else torch_job(a)
    print(json.dumps({"times": times, "blas_core": blas_core()}))


if __name__ == "__main__":
    main()
