"""The numpy decoder forward pass against transformers' own numbers.

Fixtures under tests/fixtures/decoders/ were made by tools/make_decoder_reference.py:
tiny random llama (4 query heads sharing 2 key/value heads, llama3 rope scaling),
qwen2 (q/k/v biases, one key/value head, sliding window on later layers), gpt2 and
mistral (sliding window of 3 on every layer) checkpoints saved by transformers, and transformers' (eager, float32) token ids,
attention weights, o_proj/c_proj outputs and logits for them. Nothing in the
fixtures comes from this project's code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from selfattn.models.decoder import DecoderModel, KVCache, load_decoder
from selfattn.models.decoder_config import scaled_inv_freq
from selfattn.models.errors import ModelError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "decoders"
TINY = ("tiny-llama", "tiny-qwen2", "tiny-gpt2", "tiny-mistral")
WEIGHT_TOL = 2e-5
OUTPUT_TOL = 1e-4


def reference(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module", params=TINY)
def tiny(request: pytest.FixtureRequest) -> tuple[DecoderModel, dict[str, np.ndarray]]:
    return load_decoder(FIXTURES / request.param), reference(request.param)


def test_tokens_equal_transformers(tiny: tuple[DecoderModel, dict[str, np.ndarray]]) -> None:
    model, ref = tiny
    texts = [str(s) for s in ref["sentences"]] + [str(s) for s in ref["tokenizer_sentences"]]
    for i, text in enumerate(texts):
        enc = model.tokenizer.encode(text)
        assert list(enc.ids) == ref[f"ids_{i}"].tolist(), text
        assert list(enc.tokens) == ref[f"tokens_{i}"].tolist(), text


def test_every_attention_and_projection_equals_transformers(
    tiny: tuple[DecoderModel, dict[str, np.ndarray]],
) -> None:
    model, ref = tiny
    for i, text in enumerate(ref["sentences"]):
        enc = model.encode(str(text))
        out = model.forward(enc.ids, keep_attentions=True, keep_projections=True)
        assert out.attentions is not None and out.projections is not None
        np.testing.assert_allclose(
            np.stack(out.attentions), ref[f"attentions_{i}"], atol=WEIGHT_TOL
        )
        np.testing.assert_allclose(
            np.stack(out.projections), ref[f"projections_{i}"], atol=OUTPUT_TOL
        )
        assert out.logits is not None
        np.testing.assert_allclose(out.logits, ref[f"logits_{i}"], atol=OUTPUT_TOL)


def test_key_value_cache_one_token_at_a_time(
    tiny: tuple[DecoderModel, dict[str, np.ndarray]],
) -> None:
    """Generation's path: each step runs only the new token against the cache."""
    model, ref = tiny
    ids = ref["ids_0"]
    cache = KVCache()
    rows = []
    for t, token in enumerate(ids):
        step = model.forward([int(token)], cache=cache, keep_attentions=True, logits="last")
        assert step.logits is not None and step.attentions is not None
        rows.append(step.logits[0])
        assert cache.length == t + 1
        last_layer = step.attentions[-1]  # (heads, 1, t + 1): the new query row
        np.testing.assert_allclose(
            last_layer[:, 0, :], ref["attentions_0"][-1][:, t, : t + 1], atol=WEIGHT_TOL
        )
    np.testing.assert_allclose(np.stack(rows), ref["logits_0"], atol=OUTPUT_TOL)


def test_upto_layer_gives_the_input_of_that_layer(
    tiny: tuple[DecoderModel, dict[str, np.ndarray]],
) -> None:
    model, ref = tiny
    enc = model.encode(str(ref["sentences"][1]))
    n_layers = model.config.n_layers
    for layer in range(1, n_layers + 1):
        out = model.forward(enc.ids, upto_layer=layer)
        assert out.logits is None
        x = model.attention_input(layer, out.hidden)
        weights, proj = model.attention(layer, x, out.positions)
        np.testing.assert_allclose(weights, ref["attentions_1"][layer - 1], atol=WEIGHT_TOL)
        np.testing.assert_allclose(proj, ref["projections_1"][layer - 1], atol=OUTPUT_TOL)


def test_config_of_the_tiny_llama() -> None:
    c = load_decoder(FIXTURES / "tiny-llama").config
    assert (c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.hidden) == (3, 4, 2, 8, 32)
    assert c.rope is not None and c.rope.scaling == "llama3" and c.rope.dims == 8
    assert not c.tied_embeddings and c.bos_id == 0 and c.max_positions == 64
    q = load_decoder(FIXTURES / "tiny-qwen2").config
    assert q.layer_windows == (None, 4, 4) and q.window == 4 and q.attention_bias
    g = load_decoder(FIXTURES / "tiny-gpt2").config
    assert g.rope is None and g.tied_embeddings and g.gpt2
    m = load_decoder(FIXTURES / "tiny-mistral").config
    assert m.layer_windows == (3, 3) and not m.attention_bias and m.n_kv_heads == 2


def test_llama3_inverse_frequencies_by_hand() -> None:
    """dims 8, theta 1e4: inv = 1, .1, .01, .001; wavelengths 2pi/inv; factor 8, low 1,
    high 4, original context 16 -> wavelength limits 16 and 4. The first (6.28) is
    between them: s = (16/6.2832 - 1)/3 = 0.515494, (1-s)/8 + s = 0.576057; the
    others exceed 16 and are divided by 8."""
    scaling = {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16,
    }
    kind, inv = scaled_inv_freq("test", 8, 10000.0, scaling)
    assert kind == "llama3"
    np.testing.assert_allclose(inv, [0.576057, 0.0125, 0.00125, 0.000125], rtol=2e-6)
    kind, inv = scaled_inv_freq("test", 4, 100.0, {"rope_type": "linear", "factor": 2.0})
    np.testing.assert_allclose(inv, [0.5, 0.05], rtol=1e-7)


def test_sharded_checkpoint_equals_the_single_file(tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    src = FIXTURES / "tiny-llama"
    dst = tmp_path / "sharded"
    dst.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(src / name, dst / name)
    tensors = load_file(src / "model.safetensors")
    names = sorted(tensors)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half]}
    shards["model-00002-of-00002.safetensors"] = names[half:]
    weight_map = {}
    for shard, part in shards.items():
        save_file({n: tensors[n] for n in part}, dst / shard)
        weight_map |= dict.fromkeys(part, shard)
    (dst / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    ref = reference("tiny-llama")
    model = DecoderModel(dst)
    out = model.forward(ref["ids_0"], keep_attentions=True)
    assert out.attentions is not None
    np.testing.assert_allclose(np.stack(out.attentions), ref["attentions_0"], atol=WEIGHT_TOL)
    # An index naming a shard outside the folder is refused.
    weight_map[names[0]] = "../elsewhere.safetensors"
    (dst / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    with pytest.raises(ModelError, match="weight_map entry"):
        DecoderModel(dst)


def test_text_beyond_the_positions_is_refused() -> None:
    model = load_decoder(FIXTURES / "tiny-gpt2")
    with pytest.raises(ModelError, match="at most 64"):
        model.encode("cat " * 80)
    cache = KVCache()
    model.forward(list(range(60)), cache=cache, logits="none")
    with pytest.raises(ModelError, match="at most 64"):
        model.forward(list(range(5)), cache=cache)
