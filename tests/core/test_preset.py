"""Preset format version 1: refusals that name file, field and cell; exact round trips;
atomic saves; bundled presets."""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import selfattn.preset_checks as preset_checks
from selfattn import (
    AttentionError,
    Options,
    Preset,
    PresetError,
    compute,
    load_preset,
    parse_preset,
    save_preset,
)
from selfattn.bundled import bundled_names, load_bundled, resolve_preset
from selfattn.cli import main
from selfattn.preset import dumps_preset, preset_from_dict

# A small valid preset with every optional part: 3 tokens of width 4, cross-attention
# over 3 source tokens, two heads (query/key width 4 = 2 x 2, value width 2 = 2 x 1), W_O.
VALID = {
    "format": "selfattn.preset",
    "version": 1,
    "name": "Valid",
    "description": "every field",
    "tokens": ["a", "b", "c"],
    "inputs": [[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]],
    "source": {"tokens": ["x", "y", "z"], "inputs": [[0.5, 1, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1]]},
    "weights": {
        "query": [[1, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 1, 0]],
        "key": [[0, 0, 1, 0], [1, 1, 0, 0], [0, 1, 0, 0], [1, 1, 0, 1]],
        "value": [[0, 2], [0, 3], [1, 0], [1, 1]],
        "output": [[1, 0, 2], [0, 1, -1]],
    },
    "biases": {"query": [0, 0, 0, 1], "key": [0, 0, 0, 0], "value": [1, 2], "output": [0, 0, 1]},
    "options": {
        "heads": 2,
        "scale": "sqrt_dk",
        "temperature": 1.0,
        "causal": False,
        "key_mask": [True, True, False],
        "dtype": "float64",
    },
}


def _set(path: str, value):
    """A mutation that sets a dotted path like 'weights.key.2.1' (list indices as numbers)."""

    def mutate(d: dict) -> None:
        *parents, last = path.split(".")
        node = d
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _drop(path: str):
    def mutate(d: dict) -> None:
        *parents, last = path.split(".")
        node = d
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


def _raw(old: str, new: str):
    """A textual mutation of the JSON (for NaN/Infinity literals and overflowing numbers)."""
    return ("raw", old, new)


# (id, mutation, substrings the message must contain: the field and the cell or shape)
MALFORMED = [
    ("wrong format tag", _set("format", "selfattn.presets"), ["format", "'selfattn.preset'"]),
    ("missing format", _drop("format"), ["format", "missing"]),
    ("newer version", _set("version", 3), ["version", "3", "newer"]),
    ("version as text", _set("version", "1"), ["version", "integer"]),
    ("ragged inputs", _set("inputs.1", [0, 2, 0]), ["inputs[1]", "ragged", "3 numbers", "4"]),
    ("ragged weights", _set("weights.value.2", [1, 0, 5]), ["weights.value[2]", "ragged", "3"]),
    (
        "weights rows do not match d_model",
        _set("weights.query", [[1, 0, 1, 0]] * 3),
        ["weights.query", "3x4", "4 rows"],
    ),
    (
        "key width differs from query width",
        _set("weights.key", [[0, 1]] * 4),
        ["weights.key", "4x2", "4 columns"],
    ),
    (
        "source width differs from d_model",
        _set("source.inputs", [[1, 2, 3]] * 3),
        ["source.inputs", "3x3", "d_model=4"],
    ),
    (
        "W_O rows do not match value width",
        _set("weights.output", [[1, 0, 2]] * 3),
        ["weights.output", "3x3", "2 rows"],
    ),
    ("bias length", _set("biases.value", [1, 2, 3]), ["biases.value", "3 entries", "expected 2"]),
    ("token count", _set("tokens", ["a", "b"]), ["tokens", "2 labels", "expected 3"]),
    ("NaN literal", _raw("[0, 2, 0, 2]", "[0, 2, NaN, 2]"), ["inputs[1][2]", "NaN"]),
    (
        "Infinity literal",
        _raw('"key": [[0, 0, 1, 0]', '"key": [[0, Infinity, 1, 0]'),
        ["weights.key[0][1]", "Infinity"],
    ),
    (
        "-Infinity literal in a bias",
        _raw('"value": [1, 2]', '"value": [1, -Infinity]'),
        ["biases.value[1]", "-Infinity"],
    ),
    (
        "NaN option",
        _raw('"temperature": 1.0', '"temperature": NaN'),
        ["options.temperature", "NaN"],
    ),
    (
        "overflowing number",
        _raw("[1, 1, 1, 1]]", "[1, 1, 1e999, 1]]"),
        ["inputs[2][2]", "finite", "too large"],
    ),
    ("string cell", _set("weights.key.2.1", "0.5"), ["weights.key[2][1]", "string '0.5'"]),
    ("null cell", _set("weights.key.2.1", None), ["weights.key[2][1]", "null"]),
    ("boolean cell", _set("inputs.0.3", True), ["inputs[0][3]", "boolean"]),
    ("list cell", _set("inputs.0.3", [1]), ["inputs[0][3]", "a list"]),
    ("matrix is a number", _set("weights.value", 3), ["weights.value", "list of rows"]),
    ("empty matrix", _set("inputs", []), ["inputs", "at least one row"]),
    ("heads do not divide q/k width", _set("options.heads", 3), ["options.heads", "3", "width 4"]),
    (
        "heads do not divide value width",
        _set("options.heads", 4),
        ["options.heads", "4", "value width 2"],
    ),
    ("heads zero", _set("options.heads", 0), ["options.heads", "positive integer"]),
    ("heads fractional", _set("options.heads", 1.5), ["options.heads", "1.5"]),
    (
        "key_mask wrong length",
        _set("options.key_mask", [True, False]),
        ["options.key_mask", "2 entries", "expected 3"],
    ),
    ("key_mask non-boolean", _set("options.key_mask", [True, 0, True]), ["options.key_mask[1]"]),
    ("unknown option", _set("options.windowsize", 4), ["options.windowsize", "unknown option"]),
    ("unknown field", _set("weight", {}), ["weight", "unknown field"]),
    ("unknown weights field", _set("weights.W_Q", [[1]]), ["weights.W_Q", "unknown"]),
    ("missing weights.value", _drop("weights.value"), ["weights.value", "missing"]),
    ("missing inputs", _drop("inputs"), ["inputs", "missing"]),
    ("temperature zero", _set("options.temperature", 0), ["options.temperature", "positive"]),
    ("scale unknown text", _set("options.scale", "sqrt"), ["options.scale", "'sqrt'"]),
    ("scale negative", _set("options.scale", -2), ["options.scale", "positive"]),
    ("dtype", _set("options.dtype", "float16"), ["options.dtype", "float16"]),
    ("causal as text", _set("options.causal", "yes"), ["options.causal", "true or false"]),
    ("name not text", _set("name", 5), ["name", "string"]),
    ("lone surrogate label", _raw('"b"', '"\\ud800"'), ["tokens[1]", "Unicode"]),
    ("too many tokens", _set("inputs", [[0, 0, 0, 0]] * 20000), ["inputs", "20000"]),
    ("too wide", _set("inputs", [[0] * 9000] * 3), ["inputs", "9000 columns"]),
    ("heads absurd", _set("options.heads", 10**6), ["options.heads", "1000000"]),
    ("not JSON", _raw('"version": 1,', '"version": 1,,'), ["not valid JSON", "line"]),
    ("top level is a list", ("replace", [1, 2]), ["top level", "JSON object"]),
]


def _write_malformed(tmp_path: Path, mutation) -> Path:
    data = copy.deepcopy(VALID)
    if isinstance(mutation, tuple) and mutation[0] == "raw":
        text = json.dumps(data)
        assert mutation[1] in text, mutation
        text = text.replace(mutation[1], mutation[2], 1)
    elif isinstance(mutation, tuple) and mutation[0] == "replace":
        text = json.dumps(mutation[1])
    else:
        mutation(data)
        text = json.dumps(data)
    path = tmp_path / "broken preset.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_valid_preset_loads(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(VALID), encoding="utf-8")
    p = load_preset(path)
    assert p.options.heads == 2 and p.d_k == 2 and p.d_v == 1 and p.n_keys == 3
    assert p.key_tokens == ("x", "y", "z")
    assert compute(p).output.shape == (3, 3)


@pytest.mark.parametrize(
    ("mutation", "expected"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_file_is_refused_naming_file_field_and_cell(tmp_path, mutation, expected):
    path = _write_malformed(tmp_path, mutation)
    with pytest.raises(PresetError) as info:
        load_preset(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize(
    ("mutation", "expected"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_cli_refuses_malformed_file_with_one_line_and_writes_nothing(
    tmp_path, capsys, mutation, expected
):
    path = _write_malformed(tmp_path, mutation)
    out_dir = tmp_path / "out"
    status = main(["compute", str(path), "--out", str(out_dir)])
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("selfattn: error: "), captured.err
    assert str(path) in lines[0] and expected[0] in lines[0]
    assert captured.out == ""
    assert not out_dir.exists()


@pytest.mark.parametrize(
    ("limit", "value", "expected"),
    [
        ("MAX_TOTAL_CELLS", 40, "more than 40 cells"),
        ("MAX_FILE_BYTES", 100, "larger than the limit"),
    ],
)
def test_size_limits_refuse_before_building_arrays(tmp_path, monkeypatch, limit, value, expected):
    # The real limits (20 million cells, 256 MiB) are too big for a unit test file;
    # the checks are the same code with a smaller number.
    monkeypatch.setattr(preset_checks, limit, value)  # where the limits live
    path = tmp_path / "big.json"
    path.write_text(json.dumps(VALID), encoding="utf-8")
    with pytest.raises(PresetError, match=expected) as info:
        load_preset(path)
    assert str(info.value).startswith(str(path))


def test_arbitrary_bytes_are_refused_cleanly():
    with pytest.raises(PresetError, match="not UTF-8"):
        parse_preset(b"\xff\xfe{", "x.json")
    with pytest.raises(PresetError, match="nested too deeply"):
        parse_preset("[" * 100_000 + "]" * 100_000, "x.json")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node, prefix=()):
    """Every path into a JSON tree (dict keys and list indices)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


ALL_PATHS = [p for p in _paths(VALID) if p]


@given(st.sampled_from(ALL_PATHS), JSON_VALUES)
@example(("source", "inputs", 0, 1), 5.99e307)  # finite, but its raw scores overflow
def test_any_single_corruption_is_either_valid_or_a_preset_error(path, value):
    """Fuzz: replacing any one node by any JSON value never escapes as another exception,
    and whatever is accepted is computed or refused as an overflow, naming where."""
    data = copy.deepcopy(VALID)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    text = json.dumps(data)  # may contain NaN/Infinity literals from st.floats()
    try:
        p = parse_preset(text, "fuzz.json")
    except PresetError as exc:
        assert str(exc).startswith("fuzz.json: ")
        return
    # Whatever validation accepts, attention() computes -- or refuses finite numbers whose
    # arithmetic overflows the dtype (the file is well formed; the window says the same).
    try:
        compute(p)
    except AttentionError as exc:
        assert "overflow" in str(exc), exc


# --- exact round trips ---------------------------------------------------------------

FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)  # subnormals, +-max, -0.0


@st.composite
def presets(draw):
    n = draw(st.integers(1, 4))
    d_model = draw(st.integers(1, 3))
    heads = draw(st.integers(1, 2))
    d_k = draw(st.integers(1, 2))
    d_v = draw(st.integers(1, 2))
    cross = draw(st.booleans())
    m = draw(st.integers(1, 3)) if cross else n

    def mat(r, c):
        return np.array(
            draw(st.lists(st.lists(FLOATS, min_size=c, max_size=c), min_size=r, max_size=r)),
            dtype=np.float64,
        )

    def vec(size):
        if not draw(st.booleans()):
            return None
        return np.array(draw(st.lists(FLOATS, min_size=size, max_size=size)), dtype=np.float64)

    labels = st.text(max_size=6)
    with_wo = draw(st.booleans())
    d_out = draw(st.integers(1, 3)) if with_wo else heads * d_v
    return Preset(
        inputs=mat(n, d_model),
        w_query=mat(d_model, heads * d_k),
        w_key=mat(d_model, heads * d_k),
        w_value=mat(d_model, heads * d_v),
        w_output=mat(heads * d_v, d_out) if with_wo else None,
        b_query=vec(heads * d_k),
        b_key=vec(heads * d_k),
        b_value=vec(heads * d_v),
        b_output=vec(d_out),
        source_inputs=mat(m, d_model) if cross else None,
        tokens=tuple(draw(st.lists(labels, min_size=n, max_size=n))),
        source_tokens=tuple(draw(st.lists(labels, min_size=m, max_size=m))) if cross else None,
        name=draw(st.text(max_size=20)),
        description=draw(st.text(max_size=40)),
        options=Options(
            heads=heads,
            scale=draw(st.sampled_from(["sqrt_dk", "none"]) | st.floats(1e-300, 1e300)),
            temperature=draw(st.floats(1e-300, 1e300)),
            causal=draw(st.booleans()),
            key_mask=tuple(draw(st.lists(st.booleans(), min_size=m, max_size=m)))
            if draw(st.booleans())
            else None,
            dtype=draw(st.sampled_from(["float64", "float32"])),
        ),
    )


ARRAYS = (
    "inputs",
    "w_query",
    "w_key",
    "w_value",
    "w_output",
    "b_query",
    "b_key",
    "b_value",
    "b_output",
    "source_inputs",
)


def assert_presets_identical(a: Preset, b: Preset) -> None:
    """Bit for bit: same bytes in every array (so -0.0 and subnormals count), same text."""
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.shape == y.shape and x.tobytes() == y.tobytes(), name
    assert a.tokens == b.tokens and a.key_tokens == b.key_tokens
    assert a.name == b.name and a.description == b.description
    assert a.options == b.options


@given(presets())
def test_save_load_round_trip_is_bit_exact(preset):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.json"
        save_preset(preset, path)
        first = path.read_bytes()
        loaded = load_preset(path)
        assert_presets_identical(preset, loaded)
        save_preset(loaded, path)  # and saving again writes the very same bytes
        assert path.read_bytes() == first


def test_round_trip_keeps_extreme_values_exactly(tmp_path):
    extremes = [5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -0.0, 0.1]
    p = Preset(
        inputs=np.array([extremes]),
        w_query=np.ones((6, 1)),
        w_key=np.ones((6, 1)),
        w_value=np.ones((6, 1)),
    )
    save_preset(p, tmp_path / "x.json")
    back = load_preset(tmp_path / "x.json")
    assert back.inputs.tobytes() == np.array([extremes]).tobytes()
    assert np.signbit(back.inputs[0, 4])
    assert "5e-324" in (tmp_path / "x.json").read_text(encoding="utf-8")


def test_saved_file_is_readable_json_one_matrix_row_per_line(tmp_path):
    p = load_bundled("seed-example")
    save_preset(p, tmp_path / "s.json")
    text = (tmp_path / "s.json").read_text(encoding="utf-8")
    assert json.loads(text)["format"] == "selfattn.preset"
    assert "\n    [1.0, 0.0, 1.0, 0.0],\n" in text
    assert "NaN" not in text and "Infinity" not in text


# --- atomic saves --------------------------------------------------------------------


def _old_file(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "keep.json"
    path.write_text(json.dumps(VALID), encoding="utf-8")
    return path, path.read_bytes()


def test_failed_rename_leaves_old_file_identical_and_no_temp_file(tmp_path, monkeypatch):
    path, before = _old_file(tmp_path)

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(PresetError, match="No space left on device") as info:
        save_preset(load_bundled("seed-example"), path)
    assert str(info.value).startswith(str(path))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.json"]


def test_failed_write_midway_leaves_old_file_identical_and_no_temp_file(tmp_path, monkeypatch):
    path, before = _old_file(tmp_path)

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(PresetError, match="Input/output error"):
        save_preset(load_bundled("seed-example"), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.json"]


def test_unsaveable_label_is_a_preset_error_and_leaves_old_file(tmp_path):
    path, before = _old_file(tmp_path)
    bad = load_bundled("seed-example").replace(tokens=("a", "\ud800", "c"))
    with pytest.raises(PresetError, match="cannot save"):
        save_preset(bad, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.json"]


def test_save_into_missing_folder_is_a_preset_error(tmp_path):
    with pytest.raises(PresetError, match="cannot save"):
        save_preset(load_bundled("seed-example"), tmp_path / "no such folder" / "p.json")
    assert os.listdir(tmp_path) == []


def test_save_keeps_the_existing_files_permissions(tmp_path):
    path, _ = _old_file(tmp_path)
    path.chmod(0o600)
    save_preset(load_bundled("seed-example"), path)
    assert path.stat().st_mode & 0o777 == 0o600


# --- bundled presets -----------------------------------------------------------------


def test_seed_example_is_bundled():
    assert "seed-example" in bundled_names()


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_preset_loads_computes_and_round_trips(name):
    p = load_bundled(name)
    assert p.name and p.description, "bundled presets need a name and a description"
    r = compute(p)
    assert np.isfinite(r.weights).all() and np.isfinite(r.output).all()
    again = parse_preset(dumps_preset(p), name)
    assert_presets_identical(p, again)


def test_resolve_preset_takes_paths_and_bundled_names(tmp_path, monkeypatch):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(VALID), encoding="utf-8")
    assert resolve_preset(path).name == "Valid"
    assert resolve_preset(str(path)).name == "Valid"
    assert resolve_preset("seed-example").name == "Seed example"
    # A folder named like a bundled preset in the working directory does not shadow it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seed-example").mkdir()
    assert resolve_preset("seed-example").name == "Seed example"
    # A file of that name does win: the user means their file.
    (tmp_path / "VALID").write_text(json.dumps(VALID), encoding="utf-8")
    assert resolve_preset("VALID").name == "Valid"


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("no-such-preset", "no such file or bundled preset.*seed-example"),
        ("missing.json", "missing.json: cannot read"),
        ("../../etc/passwd", "cannot read|not valid JSON"),
    ],
)
def test_resolve_preset_refusals(tmp_path, monkeypatch, spec, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PresetError, match=match):
        resolve_preset(spec)


def test_bundled_lookup_never_reads_outside_the_package():
    with pytest.raises(PresetError, match="no such file or bundled preset"):
        load_bundled("../pyproject")


# --- defaults (DESIGN.md: "Everything else is optional with the defaults shown") --------

# Only the required fields, with the seed numbers.
MINIMAL = {
    "format": "selfattn.preset",
    "version": 1,
    "inputs": [[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]],
    "weights": {
        "query": [[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]],
        "key": [[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]],
        "value": [[0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]],
    },
}


def test_a_minimal_file_gets_every_documented_default(tmp_path):
    path = tmp_path / "minimal.json"
    path.write_text(json.dumps(MINIMAL), encoding="utf-8")
    p = load_preset(path)
    assert p.tokens == ("t1", "t2", "t3")
    # Field by field, against the values written in DESIGN.md (not against Options()).
    o = p.options
    assert o.heads == 1
    assert o.scale == "sqrt_dk"
    assert o.temperature == 1.0
    assert o.causal is False
    assert o.key_mask is None
    assert o.dtype == "float64"
    assert p.w_output is None
    assert (p.b_query, p.b_key, p.b_value, p.b_output) == (None, None, None, None)
    assert p.source_inputs is None and p.source_tokens is None
    # Published first weight of the classic example (scores 2, 4, 4 over sqrt(3)):
    # 1 / (1 + 2 e^(2/sqrt 3)) = 0.13612579. Only right with the default scale,
    # temperature 1 and no causal mask (causal would give 1.0 here).
    weights = compute(p).weights
    assert weights[0][0, 0] == pytest.approx(0.13612579, abs=1e-6)
    assert weights[0][0, 1] == pytest.approx(0.43193707, abs=1e-6)


def test_source_without_tokens_gets_distinct_default_labels():
    data = copy.deepcopy(MINIMAL)
    data["source"] = {"inputs": [[0.5, 1, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1], [2, 0, 0, 0]]}
    p = preset_from_dict(data, "source.json")
    labels = p.source_tokens
    assert labels is not None and len(labels) == 4
    assert all(isinstance(t, str) and t.strip() for t in labels)
    assert len(set(labels)) == 4
    assert p.key_tokens == labels
    assert p.tokens == ("t1", "t2", "t3")
    assert compute(p).weights.shape == (1, 3, 4)
