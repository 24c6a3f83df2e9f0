"""Make the SentencePiece GGUF fixture: a small SPM vocabulary in a GGUF file, and
`transformers`' tokens for it on many strings.

Independent truth for tests/core/test_spm_tokenizer.py. A SentencePiece BPE model
(byte fallback on) is trained here with the `sentencepiece` package on a few
sentences; its pieces, scores and piece types go into a GGUF file written with
gguf's own `GGUFWriter`, as llama.cpp's convert script lays out a Llama 2 / TinyLlama
vocabulary (`tokenizer.ggml.model` = "llama"). Then `transformers` reads the tokenizer
back from that GGUF (its GGUF conversion) and tokenizes STRINGS with and without
special tokens; `sentencepiece` itself encodes them too (a second, independent
opinion, stored alongside). Nothing here comes from this project's code.
Run by hand with the separate torch venv:

    /work/torchenv/bin/python tools/make_spm_reference.py

It writes tests/fixtures/spm/tiny-spm.gguf and tests/fixtures/spm/tiny-spm.npz
(`strings`, `with_<i>`, `without_<i>`, `tokens_<i>` (transformers, with special
tokens), `decoded_<i>` / `decoded_all_<i>` (transformers' decode of with_<i>, without
and with the special tokens), `sp_<i>` (sentencepiece's ids without BOS), `versions`).
"""

from __future__ import annotations

import io
import random
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "spm"
TRAINING_TEXT = """The cat sat on the mat. The dog sat on the log. A cat and a dog.
Attention is all you need! Café crème, naïve façade, déjà vu. 北京 and 上海.
Digits 0123456789 and 2024 and 42. Emoji are fine too; didn't they?
  Leading spaces matter, and so do tabs\tand newlines.
Once upon a time there was a little model that wanted to read every sentence.
"""
FIXED = (
    "The cat sat on the mat.",
    "Café, naïve, façade: déjà vu.",
    "Emoji 🙂🚀 and 👍🏽!",
    "日本語と中文，混在します。",
    "   three leading spaces",
    "trailing spaces   ",
    "Digits 1234567 and 3.14159, 2024-12-01.",
    "tabs\tand\nnewlines\n\nhere",
    "a  b   c    d",
    " ",
    "",
    "x",
    "Ω≈ç√∫˜µ≤≥÷ (unknown letters: byte fallback)",
    "didn't they? Once upon a time.",
    "The▁cat writes its own ▁ marks",
    "Hello</s> world",
    "x<s>y and <unk> too",
    "<think>a cat</think> sat",
    "<s>",
    "a <think> b",
)
ALPHABET = list("the cat sat on mat dog log and a A T O ") + list(
    "éèçà北京上海日本0123456789.,;:!?'\"-\t\n🙂Ωµ▁"
)


def strings() -> list[str]:
    rng = random.Random(13)
    out = list(FIXED)
    words = TRAINING_TEXT.split()
    for _ in range(120):
        kind = rng.random()
        if kind < 0.5:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
        else:
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 24)))
        if rng.random() < 0.2:
            text = " " * rng.randint(1, 3) + text
        out.append(text)
    return out


def train(folder: Path) -> Path:
    import sentencepiece as spm

    corpus = folder / "corpus.txt"
    corpus.write_text(TRAINING_TEXT * 20, encoding="utf-8")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_writer=model,
        model_type="bpe",
        vocab_size=420,
        byte_fallback=True,
        character_coverage=0.995,
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        split_digits=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        user_defined_symbols=["<think>"],
        minloglevel=2,
    )
    path = folder / "tiny.model"
    path.write_bytes(model.getvalue())
    return path


def write_gguf(model_path: Path, out: Path) -> None:
    import gguf
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    tokens, scores, types = [], [], []
    for i in range(sp.vocab_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(float(sp.get_score(i)))
        if sp.is_unknown(i):
            types.append(gguf.TokenType.UNKNOWN)
        elif sp.is_control(i):
            types.append(gguf.TokenType.CONTROL)
        elif sp.is_unused(i):
            types.append(gguf.TokenType.UNUSED)
        elif sp.is_byte(i):
            types.append(gguf.TokenType.BYTE)
        elif tokens[-1] == "<think>":
            types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name("tiny-spm")
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_block_count(1)
    writer.add_feed_forward_length(16)
    writer.add_head_count(2)
    writer.add_head_count_kv(2)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(4)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(sp.bos_id())
    writer.add_eos_token_id(sp.eos_id())
    writer.add_unk_token_id(sp.unk_id())
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def reference(gguf_path: Path, model_path: Path, out: Path) -> None:
    import sentencepiece as spm
    import transformers
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    texts = strings()
    arrays: dict[str, np.ndarray] = {
        "strings": np.array(texts, dtype=str),
        "versions": np.array(
            [transformers.__version__, spm.__version__, "sentencepiece " + spm.__version__],
            dtype=str,
        ),
    }
    for i, text in enumerate(texts):
        with_ids = tok(text, add_special_tokens=True)["input_ids"]
        arrays[f"with_{i}"] = np.array(with_ids, dtype=np.int64)
        arrays[f"without_{i}"] = np.array(
            tok(text, add_special_tokens=False)["input_ids"], dtype=np.int64
        )
        arrays[f"tokens_{i}"] = np.array(tok.convert_ids_to_tokens(with_ids), dtype=str)
        arrays[f"decoded_{i}"] = np.array(tok.decode(with_ids, skip_special_tokens=True))
        arrays[f"decoded_all_{i}"] = np.array(tok.decode(with_ids))
        arrays[f"sp_{i}"] = np.array(sp.encode(text), dtype=np.int64)
    np.savez_compressed(out, **arrays)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = train(Path(tmp))
        gguf_path = OUT / "tiny-spm.gguf"
        write_gguf(model_path, gguf_path)
        reference(gguf_path, model_path, OUT / "tiny-spm.npz")
    print("wrote", OUT / "tiny-spm.gguf", OUT / "tiny-spm.npz")


if __name__ == "__main__":
    main()
