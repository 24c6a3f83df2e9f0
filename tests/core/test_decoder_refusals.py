"""Every refusal of a decoder checkpoint folder: one ModelError naming what is wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from selfattn.models.decoder import DecoderModel, load_decoder
from selfattn.models.errors import ModelError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "decoders"


def copy_model(tmp_path: Path, name: str = "tiny-llama") -> Path:
    dst = tmp_path / name
    shutil.copytree(FIXTURES / name, dst)
    return dst


def edit_config(folder: Path, **changes: object) -> None:
    path = folder / "config.json"
    raw = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    path.write_text(json.dumps(raw))


def test_unknown_architecture(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    edit_config(folder, model_type="falcon")
    with pytest.raises(ModelError, match="architecture 'falcon' is not supported"):
        DecoderModel(folder)


@pytest.mark.parametrize("kind", ["yarn", "longrope", "dynamic"])
def test_unsupported_rope_scaling(tmp_path: Path, kind: str) -> None:
    folder = copy_model(tmp_path)
    edit_config(folder, rope_parameters={"rope_type": kind, "rope_theta": 10000.0, "factor": 2.0})
    with pytest.raises(ModelError, match=f"rope scaling type '{kind}' is not supported"):
        DecoderModel(folder)


def test_old_style_rope_scaling_is_read(tmp_path: Path) -> None:
    """rope_theta and rope_scaling at the top level (before transformers 5)."""
    folder = copy_model(tmp_path)
    raw = json.loads((folder / "config.json").read_text())
    params = raw.pop("rope_parameters")
    raw["rope_theta"] = params.pop("rope_theta")
    raw["rope_scaling"] = params
    (folder / "config.json").write_text(json.dumps(raw))
    old = DecoderModel(folder).config.rope
    new = load_decoder(FIXTURES / "tiny-llama").config.rope
    assert old is not None and new is not None
    assert old.scaling == "llama3" and old.inv_freq.tolist() == new.inv_freq.tolist()


def test_pickle_checkpoint_is_never_loaded(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04 not really a pickle")
    with pytest.raises(ModelError, match="pickle checkpoints are never loaded"):
        DecoderModel(folder)


def test_missing_weights_and_tokenizer(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="no tokenizer.json"):
        DecoderModel(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="weights are missing"):
        DecoderModel(folder)


def test_shapes_that_disagree_with_the_config(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    edit_config(folder, num_key_value_heads=4)
    with pytest.raises(ModelError, match="k_proj.weight' has shape \\[16, 32\\]"):
        DecoderModel(folder)


def test_bad_config_values(tmp_path: Path) -> None:
    folder = copy_model(tmp_path)
    edit_config(folder, num_key_value_heads=3)
    with pytest.raises(ModelError, match="not a multiple of num_key_value_heads 3"):
        DecoderModel(folder)
    edit_config(folder, num_key_value_heads=2, hidden_act="relu")
    with pytest.raises(ModelError, match="hidden_act 'relu'"):
        DecoderModel(folder)
    edit_config(folder, hidden_act="silu", num_hidden_layers=True)
    with pytest.raises(ModelError, match="num_hidden_layers must be an integer"):
        DecoderModel(folder)


def test_gpt2_options_it_cannot_follow(tmp_path: Path) -> None:
    folder = copy_model(tmp_path, "tiny-gpt2")
    edit_config(folder, scale_attn_by_inverse_layer_idx=True)
    with pytest.raises(ModelError, match="scale_attn_by_inverse_layer_idx"):
        DecoderModel(folder)


def test_layer_and_head_out_of_range() -> None:
    model = load_decoder(FIXTURES / "tiny-llama")
    for bad in (0, 4, -1, True):
        with pytest.raises(ModelError, match="layers 1..3"):
            model.check_layer(bad)  # type: ignore[arg-type]
    for bad in (0, 5):
        with pytest.raises(ModelError, match="heads 1..4"):
            model.check_head(bad)
    with pytest.raises(ModelError, match="layers 1..3"):
        model.forward([1, 2], upto_layer=4)


def test_token_ids_outside_the_vocabulary() -> None:
    model = load_decoder(FIXTURES / "tiny-llama")
    with pytest.raises(ModelError, match="outside the vocabulary"):
        model.forward([1, 10_000])
    with pytest.raises(ModelError, match="no tokens"):
        model.forward([])
