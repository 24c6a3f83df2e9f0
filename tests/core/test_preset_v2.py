"""Preset format version 2: kv_heads, window, rope and source.positions (DESIGN.md,
"Preset file format"); version-1 files load and save exactly as before."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn import PresetError, compute, load_preset, parse_preset, save_preset
from selfattn.preset import (
    Options,
    Preset,
    Rope,
    dumps_preset,
    preset_from_dict,
    preset_to_dict,
    validate,
)

REPO = Path(__file__).resolve().parents[2]
PRESETS = sorted((REPO / "resources" / "presets").glob("*.json"))

# 3 tokens of width 2; 4 query heads of d_k = 2 sharing 2 key/value heads (d_v = 1).
V2 = {
    "format": "selfattn.preset",
    "version": 2,
    "name": "Grouped and rotated",
    "description": "",
    "tokens": ["a", "b", "c"],
    "inputs": [[1, 0], [0, 1], [1, 1]],
    "weights": {
        "query": [[1, 0, 0, 1, 1, 1, 0, 0], [0, 1, 1, 0, 0, 0, 1, 1]],
        "key": [[1, 0, 0, 1], [0, 1, 1, 0]],
        "value": [[1, 2], [3, 4]],
    },
    "options": {
        "heads": 4,
        "scale": "sqrt_dk",
        "temperature": 1.0,
        "causal": True,
        "dtype": "float64",
        "kv_heads": 2,
        "window": 2,
        "rope": {"style": "interleaved", "theta": 500, "positions": [4, 5, 6]},
    },
}


def v2(**changes):
    """A copy of V2 with dotted paths set (a value of ... deletes the field)."""
    data = copy.deepcopy(V2)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for part in parents:
            node = node[part]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return data


def plain():
    """V2 without any version-2 field: one key/value head per query head, version 1."""
    data = v2(options__kv_heads=..., options__window=..., options__rope=..., version=1)
    data["weights"]["key"] = copy.deepcopy(data["weights"]["query"])
    data["weights"]["value"] = [[1, 2, 3, 4], [3, 4, 5, 6]]
    return data


def test_bundled_version_1_presets_save_back_byte_for_byte():
    assert PRESETS
    for path in PRESETS:
        text = path.read_text(encoding="utf-8")
        if "rope" in json.loads(text)["options"]:
            continue  # the decoder lesson (real-attention-sink) is version 2
        assert json.loads(text)["version"] == 1
        assert dumps_preset(load_preset(path)) == text, path.name


def test_version_2_file_loads_every_new_field():
    p = preset_from_dict(V2)
    assert p.options.kv_heads == 2 and p.options.window == 2
    assert p.options.rope == Rope(style="interleaved", theta=500.0, positions=(4, 5, 6))
    assert p.kv_heads == 2 and p.d_k == 2 and p.d_v == 1
    r = compute(p)
    assert r.kv_heads == 2 and r.q_rot is not None
    np.testing.assert_array_equal(r.positions, [4, 5, 6])
    assert r.mask.tolist() == [[True, False, False], [True, True, False], [False, True, True]]


def test_version_2_round_trips_exactly(tmp_path):
    data = v2(options__rope={
        "style": "half", "theta": 10000.5, "dims": 2, "inv_freq": [0.1], "positions": [0, 2, 9],
    })  # fmt: skip
    data["source"] = {"tokens": ["x", "y"], "inputs": [[1, 2], [3, 4]], "positions": [7, 8]}
    p = preset_from_dict(data)
    path = tmp_path / "v2.json"
    save_preset(p, path)
    saved = json.loads(path.read_text())
    assert saved["version"] == 2
    assert saved["options"]["rope"] == data["options"]["rope"]
    assert saved["options"]["kv_heads"] == 2 and saved["options"]["window"] == 2
    assert saved["source"]["positions"] == [7, 8]
    again = load_preset(path)
    assert again.options == p.options and again.source_positions == (7, 8)
    assert dumps_preset(again) == path.read_text()


def test_integral_theta_is_written_as_an_integer():
    text = dumps_preset(preset_from_dict(V2))
    assert '"theta": 500,' in text


@pytest.mark.parametrize(
    "field", ["kv_heads", "window", "rope"], ids=["kv_heads", "window", "rope"]
)
def test_any_new_option_makes_the_file_version_2(field):
    base = preset_from_dict(plain())
    assert preset_to_dict(base)["version"] == 1
    value = {"kv_heads": 4, "window": 3, "rope": Rope()}[field]
    assert preset_to_dict(base.with_options(**{field: value}))["version"] == 2


def test_source_positions_alone_make_the_file_version_2():
    data = plain()
    data["source"] = {"inputs": [[1, 2], [3, 4]]}
    p = preset_from_dict(data)
    assert preset_to_dict(p)["version"] == 1
    assert preset_to_dict(p.replace(source_positions=(3, 4)))["version"] == 2


def test_source_positions_without_a_source_cannot_be_saved(tmp_path):
    p = preset_from_dict(V2).replace(source_positions=(1, 2, 3))
    with pytest.raises(PresetError, match="source.positions: set, but the preset has no source"):
        save_preset(p, tmp_path / "x.json")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (v2(version=1), ["options.kv_heads", "needs version 2", "says version 1"]),
        (v2(version=3), ["version", "newer"]),
        (v2(options__kv_heads=3), ["options.kv_heads", "3 key/value heads do not divide heads=4"]),
        (v2(options__kv_heads=0), ["options.kv_heads", "positive integer"]),
        (v2(options__kv_heads=True), ["options.kv_heads", "positive integer"]),
        (v2(options__kv_heads=1), ["weights.key", "2x4", "kv_heads*d_k = 1*2 = 2 columns"]),
        (
            v2(weights__value=[[1, 2, 3], [3, 4, 5]]),
            ["weights.value", "2x3", "multiple of kv_heads=2"],
        ),
        (v2(weights__output=[[1], [1]]), ["weights.output", "2x1", "needs 4 rows"]),
        (v2(options__window=0), ["options.window", "positive integer"]),
        (v2(options__window=1.5), ["options.window", "positive integer"]),
        (v2(options__rope=[1]), ["options.rope", "expected an object"]),
        (v2(options__rope={"style": "spiral"}), ["options.rope.style", "half, interleaved"]),
        (v2(options__rope={"speed": 1}), ["options.rope.speed", "unknown field"]),
        (v2(options__rope={"theta": 0}), ["options.rope.theta", "positive"]),
        (v2(options__rope={"theta": "big"}), ["options.rope.theta", "string"]),
        (v2(options__rope={"dims": 3}), ["options.rope.dims", "even", "got 3"]),
        (v2(options__rope={"dims": 4}), ["options.rope.dims", "4 rotary dims exceed", "d_k=2"]),
        (v2(options__rope={"dims": 2.0}), ["options.rope.dims", "integer"]),
        (v2(options__rope={"inv_freq": [1, 2]}), ["options.rope.inv_freq", "2 numbers", "1"]),
        (v2(options__rope={"inv_freq": [0]}), ["options.rope.inv_freq[0]", "positive"]),
        (v2(options__rope={"inv_freq": [True]}), ["options.rope.inv_freq[0]", "boolean"]),
        (v2(options__rope={"positions": [0, 1]}), ["options.rope.positions", "2 entries", "3"]),
        (v2(options__rope={"positions": [0, -1, 2]}), ["options.rope.positions[1]", "-1"]),
        (v2(options__rope={"positions": [0, 1.5, 2]}), ["options.rope.positions[1]", "whole"]),
        (v2(options__rope={"positions": [0, 2**40, 2]}), ["options.rope.positions[1]", "outside"]),
        (v2(options__rope={"positions": "0 1 2"}), ["options.rope.positions", "list"]),
    ],
    ids=lambda v: "" if isinstance(v, dict) else v[0],
)
def test_bad_version_2_fields_are_refused_naming_the_field(data, words):
    with pytest.raises(PresetError) as info:
        parse_preset(json.dumps(data), "f.json")
    message = str(info.value)
    assert message.startswith("f.json: "), message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_odd_d_k_with_default_rope_dims_asks_for_dims():
    data = v2(options__kv_heads=..., options__rope={})
    data["options"]["heads"] = 1
    data["weights"] = {"query": [[1, 0, 0], [0, 1, 0]], "key": [[1, 0, 0], [0, 1, 0]],
                       "value": [[1], [1]]}  # fmt: skip
    with pytest.raises(PresetError, match=r"options.rope.dims: .*got 3 \(d_k\); set dims"):
        preset_from_dict(data, "f.json")
    data["options"]["rope"] = {"dims": 2}
    assert preset_from_dict(data).options.rope.rotary_dims(3) == 2


def test_bad_source_positions_are_refused():
    data = v2()
    data["source"] = {"inputs": [[1, 2], [3, 4]], "positions": [1, 2, 3]}
    with pytest.raises(PresetError, match=r"source.positions: has 3 entries, expected 2"):
        preset_from_dict(data, "f.json")
    data["source"]["positions"] = [1, "2"]
    with pytest.raises(PresetError, match=r"source.positions\[1\]: expected a whole number"):
        preset_from_dict(data, "f.json")
    data = plain()
    data["source"] = {"inputs": [[1, 2], [3, 4]], "positions": [1, 2]}
    with pytest.raises(PresetError, match="source.positions: needs version 2"):
        preset_from_dict(data, "f.json")


def test_null_new_fields_mean_off_in_any_version():
    data = plain()
    data["options"].update(kv_heads=None, window=None, rope=None)
    data["source"] = {"inputs": [[1, 2], [3, 4]], "positions": None}
    p = preset_from_dict(data)
    assert not p.options.uses_version_2 and preset_to_dict(p)["version"] == 1


def test_validate_checks_in_memory_version_2_presets():
    p = preset_from_dict(V2)
    assert validate(p).options == p.options
    with pytest.raises(PresetError, match="options.rope.dims"):
        validate(p.with_options(rope=Rope(dims=6)))


# Bit-for-bit: presets without the new fields compute as the original implementation.


def _baseline():
    path = REPO / "benchmarks" / "_baseline_attention.py"
    spec = importlib.util.spec_from_file_location("_baseline_attention", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


BASELINE = _baseline()


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 5),
    st.sampled_from([1, 2, 3]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_presets_without_new_fields_match_the_original_implementation_bit_for_bit(
    n, heads, causal, cross, biases, seed
):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    source = rng.standard_normal((n + 1, 3)) if cross else None
    w_q, w_k = rng.standard_normal((3, 2 * heads)), rng.standard_normal((3, 2 * heads))
    w_v, w_o = rng.standard_normal((3, heads)), rng.standard_normal((heads, 2))
    b = [rng.standard_normal(c) for c in (2 * heads, 2 * heads, heads, 2)] if biases else [None] * 4
    preset = Preset(
        inputs=x, w_query=w_q, w_key=w_k, w_value=w_v, w_output=w_o, source_inputs=source,
        b_query=b[0], b_key=b[1], b_value=b[2], b_output=b[3],
        options=Options(heads=heads, causal=causal),
    )  # fmt: skip
    preset = preset_from_dict(json.loads(dumps_preset(preset)))  # through the file format
    new = compute(preset)
    old = BASELINE.attention(
        preset.inputs, w_q, w_k, w_v, heads=heads, w_o=w_o, source=source, causal=causal,
        biases=BASELINE.Biases(*b),
    )  # fmt: skip
    for name in ("q", "k", "v", "scores", "scaled_scores", "weights", "context", "output"):
        np.testing.assert_array_equal(getattr(new, name), getattr(old, name), err_msg=name)
