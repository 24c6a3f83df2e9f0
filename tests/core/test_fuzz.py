"""Fuzzed loading: whatever the file holds, the only error is a PresetError naming the fault,
and the command line answers exit 0 with results or exit 2 with one error line.

The files are arbitrary bytes, arbitrary JSON and mutations of the bundled presets
(deleted keys, wrong types, huge and tiny numbers, deep nesting, long strings, odd
Unicode, NaN/Infinity literals, enormous sizes). Size limits are checked before the
arrays are built, with messages stating the limit.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import selfattn
from selfattn import cli, preset_checks
from selfattn import preset as preset_mod
from selfattn.bundled import bundled_names, load_bundled
from selfattn.preset import PresetError

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "fuzz.json"

# The bundled presets as JSON trees; the 1 MB real-model one is too big to walk.
BUNDLED = {
    name: selfattn.preset_to_dict(load_bundled(name))
    for name in bundled_names()
    if name != "real-previous-token"
}


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON tree (dict keys and list indices), the root included."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = {name: _paths(tree) for name, tree in BUNDLED.items()}

# Placeholders replaced by raw JSON text that json.dumps cannot write.
RAW = {
    "@DEEP@": b"[" * 100_000 + b"]" * 100_000,
    "@DEEPOBJ@": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "@BIGINT@": b"9" * 5000,  # beyond Python's int-from-text digit limit
    "@NAN@": b"NaN",
    "@INF@": b"Infinity",
    "@NEGINF@": b"-Infinity",
    "@BADUTF8@": b'"\xed\xa0\x80"',  # a surrogate encoded as raw bytes: not UTF-8
    "@LATIN1@": b'"caf\xe9"',
    "@MANYROWS@": b"[" + b",".join([b"[]"] * 1_000_000) + b"]",
    "@WIDEROW@": b"[[" + b",".join([b"0"] * (preset_mod.MAX_WIDTH + 1)) + b"]]",
}

NASTY = [
    1e308,
    -1e308,
    1.7976931348623157e308,
    5e-324,
    -5e-324,
    -0.0,
    0,
    2**70,
    -(2**70),
    10**400,  # an integer too large for a float
    float("nan"),
    float("inf"),
    float("-inf"),
    True,
    False,
    None,
    "",
    "x" * (preset_mod.MAX_TEXT_CHARS + 1),
    "\u202eevil\u202c",
    "\u05e9\u05dc\u05d5\u05dd",
    "a\x00b",
    "\ud800",  # a lone surrogate, escaped by json.dumps as \ud800
    "line\nbreak\u2028",
    "\U0001f600",
    [],
    {},
    [[]],
    [[1.0]],
    [[None]],
    [1, [2, [3]]],
    "sqrt_dk",
    "none",
    "float32",
    "float16",
    "selfattn.preset",
    *RAW,
]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
# Deep copies: the "add" mutation inserts into drawn lists, which must not change NASTY itself
# (that made hypothesis see different data for the same choices).
VALUES = (st.sampled_from(NASTY) | JSON_VALUES).map(copy.deepcopy)
KEYS = st.sampled_from(
    ["format", "version", "inputs", "tokens", "weights", "query", "key_mask", "heads", "\ud800"]
) | st.text(max_size=6)


def _encode(tree: Any) -> bytes:
    """JSON bytes of a tree (NaN/Infinity literals allowed), placeholders made raw."""
    data = json.dumps(tree).encode("utf-8")
    for placeholder, raw in RAW.items():
        data = data.replace(json.dumps(placeholder).encode(), raw)
    return data


@st.composite
def mutated_presets(draw: st.DrawFn) -> bytes:
    """A bundled preset with one to three nodes deleted, replaced or added."""
    name = draw(st.sampled_from(sorted(BUNDLED)))
    tree = copy.deepcopy(BUNDLED[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(tree)
        path = draw(st.sampled_from(paths))
        parent: Any = tree
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        if not path:  # the root: replace the whole file
            tree = draw(VALUES)
            continue
        node = parent[path[-1]]
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif isinstance(node, dict):
            node[draw(KEYS)] = draw(VALUES)
        elif isinstance(node, list):
            node.insert(draw(st.integers(0, len(node))), draw(VALUES))
        else:
            parent[path[-1]] = [node, draw(VALUES)]
        if not isinstance(tree, dict | list):
            break
    return _encode(tree)


def _assert_clean_refusal(exc: PresetError, origin: str = ORIGIN) -> None:
    """The message names the file and says something, on one printable line."""
    message = str(exc)
    assert message.startswith(f"{origin}: "), message
    assert len(message) > len(origin) + 8, message
    assert message.isprintable(), repr(message)  # no line breaks, NUL or surrogates
    message.encode("utf-8")  # never raises: safe for any stream or dialog


def _load(data: bytes) -> selfattn.Preset | None:
    """Parse; a refusal must be a clean PresetError (any other exception fails the test)."""
    try:
        return selfattn.parse_preset(data, ORIGIN)
    except PresetError as exc:
        _assert_clean_refusal(exc)
        return None


# --- the loader -------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_preset_error(data):
    _load(data)


@given(JSON_VALUES)
def test_arbitrary_json_only_ever_raises_preset_error(value):
    assert _load(json.dumps(value).encode()) is None  # nothing random is a preset


@given(
    st.fixed_dictionaries(
        {"format": st.just("selfattn.preset"), "version": st.just(1)},
        optional={
            "inputs": VALUES,
            "tokens": VALUES,
            "weights": st.fixed_dictionaries({}, optional={"query": VALUES, "key": VALUES})
            | VALUES,
            "options": st.dictionaries(st.sampled_from(preset_mod.OPTION_NAMES), VALUES),
            "biases": VALUES,
            "source": VALUES,
        },
    )
)
def test_arbitrary_json_with_the_right_header_only_ever_raises_preset_error(tree):
    _load(_encode(tree))


@given(mutated_presets())
def test_mutated_bundled_presets_load_or_are_refused_naming_the_fault(data):
    preset = _load(data)
    if preset is not None:
        # Whatever is accepted is a consistent preset that saves and reloads exactly.
        again = selfattn.parse_preset(selfattn.dumps_preset(preset), "again.json")
        assert selfattn.dumps_preset(again) == selfattn.dumps_preset(preset)


def _with(tree_name: str, raw: bytes, *path: str | int) -> bytes:
    """A bundled preset with the node at `path` replaced by raw JSON text."""
    tree = copy.deepcopy(BUNDLED[tree_name])
    node: Any = tree
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = "@HOLE@"
    return json.dumps(tree).encode().replace(b'"@HOLE@"', raw)


# Hand-picked files and the words their refusal must contain (field and problem).
NAMED_CASES = {
    "deep nesting as the file": (RAW["@DEEP@"], ["nested too deeply"]),
    "deep nesting in a cell": (_with("seed-example", RAW["@DEEP@"], "inputs", 0), ["nested"]),
    "deep object in options": (_with("seed-example", RAW["@DEEPOBJ@"], "options"), ["nested"]),
    "unclosed deep nesting": (b"[" * 100_000, ["nested too deeply"]),
    "5000-digit integer": (_with("seed-example", RAW["@BIGINT@"], "inputs", 0, 0), ["digits"]),
    "integer too large for a float": (
        _with("seed-example", str(10**400).encode(), "inputs", 1, 2),
        ["inputs[1][2]", "too large"],
    ),
    "NaN literal in a weight": (
        _with("seed-example", b"NaN", "weights", "key", 2, 1),
        ["weights.key[2][1]", "NaN"],
    ),
    "Infinity as temperature": (
        _with("seed-example", b"Infinity", "options", "temperature"),
        ["options.temperature", "Infinity"],
    ),
    "-Infinity in a row": (
        _with("seed-example", b"[-Infinity, 0, 0, 0]", "inputs", 0),
        ["inputs[0][0]", "-Infinity"],
    ),
    "1e400 overflows to inf": (
        _with("seed-example", b"1e400", "inputs", 0, 0),
        ["inputs[0][0]", "too large"],
    ),
    "surrogate as raw bytes": (
        _with("seed-example", RAW["@BADUTF8@"], "tokens", 0),
        ["not UTF-8"],
    ),
    "Latin-1 file": (_with("seed-example", RAW["@LATIN1@"], "name"), ["not UTF-8"]),
    "UTF-16 file": (json.dumps(BUNDLED["seed-example"]).encode("utf-16"), ["not UTF-8"]),
    "escaped lone surrogate in a label": (
        _with("seed-example", b'"\\udc80x"', "tokens", 1),
        ["tokens[1]", "surrogate"],
    ),
    "lone surrogate as an unknown key": (b'{"\\ud800\\n": 1}', ["unknown field"]),
    "a key of a million characters": (
        b'{"' + b"k" * 1_000_000 + b'": 1}',
        ["unknown field"],
    ),
    "NUL in the format tag": (b'{"format": "selfattn.preset\\u0000", "version": 1}', ["format"]),
    "a million empty rows": (
        _with("seed-example", RAW["@MANYROWS@"], "inputs"),
        ["inputs", str(preset_mod.MAX_TOKENS)],
    ),
    "one row wider than the limit": (
        _with("seed-example", RAW["@WIDEROW@"], "inputs"),
        ["inputs", str(preset_mod.MAX_WIDTH)],
    ),
    "heads 2**70": (_with("seed-example", str(2**70).encode(), "options", "heads"), ["heads"]),
    "a name longer than the limit": (
        _with("seed-example", json.dumps("n" * 100_001).encode(), "name"),
        ["name", "100,000"],
    ),
    "empty file": (b"", ["not valid JSON"]),
    "only a byte-order mark": (b"\xef\xbb\xbf", ["not valid JSON"]),
    "a JSON string": (b'"selfattn.preset"', ["top level", "object"]),
    "newer version": (_with("seed-example", b"3", "version"), ["version", "newer"]),
    "version as float": (_with("seed-example", b"1.0", "version"), ["version", "integer"]),
    "ragged inputs": (_with("seed-example", b"[1, 2]", "inputs", 1), ["inputs[1]", "ragged"]),
    "boolean cell": (_with("seed-example", b"true", "inputs", 0, 0), ["inputs[0][0]", "boolean"]),
    "string cell": (_with("seed-example", b'"1.5"', "inputs", 0, 0), ["inputs[0][0]", "string"]),
}


@pytest.mark.parametrize("case", list(NAMED_CASES))
def test_named_bad_files_are_refused_with_field_and_problem(case):
    data, words = NAMED_CASES[case]
    with pytest.raises(PresetError) as info:
        selfattn.parse_preset(data, ORIGIN)
    _assert_clean_refusal(info.value)
    for word in words:
        assert word in str(info.value), (word, str(info.value)[:300])
    assert len(str(info.value)) < 400  # a key of a million characters is not echoed whole


def test_odd_unicode_that_is_valid_text_loads_and_round_trips():
    tree = copy.deepcopy(BUNDLED["seed-example"])
    tree["tokens"] = ["\u202eevil", "a\x00b\n", "\U0001f600 \u05e9\u05dc\u05d5\u05dd"]
    tree["name"] = "\u0645\u0631\u062d\u0628\u0627"
    tree["description"] = "d" * preset_mod.MAX_TEXT_CHARS
    preset = selfattn.parse_preset(json.dumps(tree), ORIGIN)
    assert preset.tokens == tuple(tree["tokens"])
    again = selfattn.parse_preset(selfattn.dumps_preset(preset), ORIGIN)
    assert again.tokens == preset.tokens and again.description == tree["description"]


def test_extreme_but_finite_numbers_load_exactly():
    tree = copy.deepcopy(BUNDLED["seed-example"])
    tree["inputs"][0] = [1.7976931348623157e308, 5e-324, -0.0, 2**70]
    preset = selfattn.parse_preset(json.dumps(tree), ORIGIN)
    row = preset.inputs[0]
    assert row[0] == 1.7976931348623157e308 and row[1] == 5e-324
    assert row[2] == 0 and str(row[2]) == "-0.0"
    assert row[3] == 1180591620717411303424.0  # 2**70 is exactly representable


# --- size limits ------------------------------------------------------------------------


def _mentions(message: str, number: int) -> bool:
    return str(number) in message or f"{number:,}" in message


def _column(rows: int) -> list[list[float]]:
    return [[0.0]] * rows


LIMIT_CASES = {
    "tokens": (("inputs",), _column(preset_mod.MAX_TOKENS + 1), preset_mod.MAX_TOKENS),
    "d_model": (("inputs",), [[0.0] * (preset_mod.MAX_WIDTH + 1)] * 3, preset_mod.MAX_WIDTH),
    "source tokens": (
        ("source",),
        {"inputs": [[0.0] * 4] * (preset_mod.MAX_TOKENS + 1)},
        preset_mod.MAX_TOKENS,
    ),
    "weight width": (
        ("weights", "query"),
        [[0.0] * (preset_mod.MAX_WIDTH + 1)] * 4,
        preset_mod.MAX_WIDTH,
    ),
    "bias length": (
        ("biases",),
        {"query": [0.0] * (preset_mod.MAX_WIDTH + 1)},
        preset_mod.MAX_WIDTH,
    ),
    "heads": (("options", "heads"), preset_mod.MAX_HEADS + 1, preset_mod.MAX_HEADS),
    "label length": (("name",), "n" * (preset_mod.MAX_TEXT_CHARS + 1), preset_mod.MAX_TEXT_CHARS),
    # 2,442 rows of 8,192 columns: one row more than the total-cells limit allows.
    "total cells": (
        ("inputs",),
        [[0] * preset_mod.MAX_WIDTH] + _column(preset_mod.MAX_TOTAL_CELLS // preset_mod.MAX_WIDTH),
        preset_mod.MAX_TOTAL_CELLS,
    ),
}


@pytest.mark.parametrize("case", list(LIMIT_CASES))
def test_each_size_limit_is_refused_with_a_message_stating_the_limit(case):
    path, value, limit = LIMIT_CASES[case]
    tree = copy.deepcopy(BUNDLED["seed-example"])
    node = tree
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    with pytest.raises(PresetError) as info:
        selfattn.parse_preset(json.dumps(tree), ORIGIN)
    _assert_clean_refusal(info.value)
    assert _mentions(str(info.value), limit), str(info.value)


def test_a_file_above_the_byte_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:  # a sparse file: no disk space is used
        fh.truncate(preset_mod.MAX_FILE_BYTES + 1)
    tracemalloc.start()
    try:
        with pytest.raises(PresetError) as info:
            selfattn.load_preset(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(info.value).startswith(str(path))
    assert f"{preset_mod.MAX_FILE_BYTES // 2**20} MiB" in str(info.value)
    assert peak < 1_000_000  # nothing of the 256 MiB was read


def test_text_above_the_byte_limit_is_refused(monkeypatch):
    """parse_preset checks the length of what it is given too (same code, smaller limit)."""
    monkeypatch.setattr(preset_checks, "MAX_FILE_BYTES", 2**20)
    with pytest.raises(PresetError, match="limit of 1 MiB"):
        selfattn.parse_preset(b" " * (2**20 + 1), ORIGIN)


def test_a_file_claiming_a_huge_matrix_is_refused_before_building_it():
    """A first row of 8,192 columns and 2,442 more rows claims 20 million cells."""
    rows = preset_mod.MAX_TOTAL_CELLS // preset_mod.MAX_WIDTH
    data = _with(
        "seed-example",
        b"[[" + b",".join([b"0"] * preset_mod.MAX_WIDTH) + b"]" + b",[0]" * rows + b"]",
        "inputs",
    )
    tracemalloc.start()
    try:
        with pytest.raises(PresetError) as info:
            selfattn.parse_preset(data, ORIGIN)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _mentions(str(info.value), preset_mod.MAX_TOTAL_CELLS)
    claimed_bytes = (rows + 1) * preset_mod.MAX_WIDTH * 8
    assert peak < claimed_bytes / 50, (peak, claimed_bytes)


# The measurement runs in a child process: tracemalloc slows json parsing of 20 million
# cells down ~15x, while the peak resident size costs nothing to read.
_PEAK_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import selfattn
    from selfattn import preset as p
    rows = p.MAX_TOTAL_CELLS // p.MAX_WIDTH + 1
    row = b"[" + b",".join([b"0"] * p.MAX_WIDTH) + b"]"
    data = (b'{"format": "selfattn.preset", "version": 1, "inputs": ['
            + b",".join([row] * rows) + b'], "weights": {}}')
    del row
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        selfattn.parse_preset(data, "big.json")
    except selfattn.PresetError as exc:
        message = str(exc)
    else:
        raise SystemExit("accepted")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(len(data), (after - before) * 1024, rows * p.MAX_WIDTH)
    print(message)
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_refusing_20_million_real_cells_costs_a_few_times_the_file_size():
    """Parsing the JSON costs ~5x the file (lists of pointers); the float64 arrays,
    another 4x, must never be built for a file over the cells limit."""
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    sizes, message = proc.stdout.splitlines()
    file_bytes, grown_bytes, cells = (int(v) for v in sizes.split())
    assert cells > preset_mod.MAX_TOTAL_CELLS
    assert _mentions(message, preset_mod.MAX_TOTAL_CELLS), message
    assert grown_bytes < 7 * file_bytes, (grown_bytes / file_bytes, file_bytes)


# --- the command line -------------------------------------------------------------------


def _cli(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["compute", str(path)])
    return status, out.getvalue(), err.getvalue()


def _assert_cli_answer(status: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err
    if status == 0:
        assert err == ""
        assert "weights" in out and "output" in out
    else:
        assert status == 2, (status, err)
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1 and err.endswith("\n"), err
        assert lines[0].startswith("selfattn: error: "), err
        assert len(lines[0]) > len("selfattn: error: ") + 8


@settings(max_examples=40)
@given(mutated_presets())
def test_cli_answers_results_or_one_error_line_on_mutated_presets(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.json"
        path.write_bytes(data)
        _assert_cli_answer(*_cli(path))


@settings(max_examples=30)
@given(st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_cli_answers_one_error_line_on_arbitrary_files(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.json"
        path.write_bytes(data)
        status, out, err = _cli(path)
    assert status == 2
    _assert_cli_answer(status, out, err)


@pytest.mark.parametrize("case", list(NAMED_CASES))
def test_cli_answers_one_error_line_on_each_named_bad_file(case, tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(NAMED_CASES[case][0])
    status, out, err = _cli(path)
    assert status == 2
    _assert_cli_answer(status, out, err)


OVERFLOWING = {
    # Valid files whose arithmetic overflows: refused by attention with one line.
    "huge inputs": ("inputs", [[1e308] * 4] * 3),
    "tiny temperature": ("options", {"temperature": 5e-324}),
    "tiny scale": ("options", {"scale": 5e-324}),
    "float32 cannot hold 1e39": ("options", {"dtype": "float32", "_inputs": 1e39}),
}


def _overflow_file(case: str, folder: Path) -> Path:
    key, value = OVERFLOWING[case]
    tree = copy.deepcopy(BUNDLED["seed-example"])
    if key == "options":
        value = dict(value)
        big = value.pop("_inputs", None)
        if big is not None:
            tree["inputs"][0][0] = big
        tree["options"].update(value)
    else:
        tree[key] = value
    path = folder / "overflow.json"
    path.write_text(json.dumps(tree), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", list(OVERFLOWING))
def test_cli_overflow_is_one_error_line(case, tmp_path):
    status, out, err = _cli(_overflow_file(case, tmp_path))
    assert status == 2, out
    _assert_cli_answer(status, out, err)


def test_cli_never_prints_nan_for_overflowing_values(tmp_path):
    tree = copy.deepcopy(BUNDLED["seed-example"])
    tree["inputs"] = [[2, 0, 0, 0], [0, 2, 0, 0], [1, 1, 1, 1]]
    tree["weights"]["value"] = [[1e308, 1, 1], [-1e308, 1, 1], [0, 0, 0], [0, 0, 0]]
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(tree), encoding="utf-8")
    status, out, err = _cli(path)
    _assert_cli_answer(status, out, err)
    assert "nan" not in out.lower()


def _subprocess_compute(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selfattn", "compute", str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "case",
    [
        "deep nesting as the file",
        "surrogate as raw bytes",
        "lone surrogate as an unknown key",
        "a million empty rows",
        "NaN literal in a weight",
    ],
)
def test_real_process_answers_one_error_line(case, tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(NAMED_CASES[case][0])
    proc = _subprocess_compute(path)
    assert proc.returncode == 2
    _assert_cli_answer(proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.parametrize("case", list(OVERFLOWING))
def test_real_process_overflow_is_one_line_without_numpy_warnings(case, tmp_path):
    """In-process, pytest swallows numpy's RuntimeWarnings; a real stderr shows them."""
    proc = _subprocess_compute(_overflow_file(case, tmp_path))
    assert proc.returncode == 2
    _assert_cli_answer(proc.returncode, proc.stdout, proc.stderr)


def test_real_process_with_an_ascii_console_prints_unicode_labels_escaped(tmp_path):
    """A legacy console encoding (cp1252 pipes on Windows, ASCII) must not turn
    a label such as 日本 into a UnicodeEncodeError traceback."""
    tree = copy.deepcopy(BUNDLED["seed-example"])
    tree["tokens"] = ["\u65e5\u672c", "\u202eabc", "x"]
    tree["name"] = "\u540d\u524d"
    path = tmp_path / "unicode.json"
    path.write_text(json.dumps(tree), encoding="utf-8")
    proc = _subprocess_compute(path, PYTHONIOENCODING="ascii")
    _assert_cli_answer(proc.returncode, proc.stdout, proc.stderr)
    assert proc.returncode == 0
    assert "\\u65e5\\u672c" in proc.stdout


def test_real_process_on_a_non_utf8_file_name(tmp_path):
    """A file name that is not UTF-8 (surrogate-escaped by Python) still gives one line."""
    if sys.platform != "linux":
        pytest.skip("byte file names are a POSIX feature")
    raw_dir = os.fsencode(tmp_path)
    path = os.path.join(raw_dir, b"bad\xff.json")
    with open(path, "wb") as fh:
        fh.write(b"{not json")
    proc = subprocess.run(
        [sys.executable, "-m", "selfattn", "compute", path],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2
    _assert_cli_answer(2, proc.stdout.decode(), err)
    assert "not valid JSON" in err


# --- version 2 fields ------------------------------------------------------------------

SMALL_INTS = st.integers(-3, 12) | st.sampled_from([2**31, 2**63, True, 1.5, "2", None])
GOOD_INTS = st.sampled_from([None, 1, 2])  # most draws should load, to check what loads
POSITIONS = st.lists(st.integers(0, 50), min_size=3, max_size=3)
ROPES = (
    st.none()
    | st.fixed_dictionaries(
        {},
        optional={
            "style": st.sampled_from(["half", "interleaved"]),
            "theta": st.sampled_from([10000, 0.5, 1e6]),
            "dims": st.sampled_from([None, 2]),
            "inv_freq": st.lists(st.floats(1e-6, 2), min_size=1, max_size=1),
            "positions": POSITIONS,
        },
    )
    | st.fixed_dictionaries(
        {},
        optional={
            "style": st.sampled_from(["half", "interleaved", "spiral", 1, None]),
            "theta": st.sampled_from([10000, 0.5, 0, -1, 1e308, "big", True, None]),
            "dims": SMALL_INTS,
            "inv_freq": st.lists(st.floats(-2, 2) | st.sampled_from([0, True, "x"]), max_size=4)
            | st.none(),
            "positions": st.lists(SMALL_INTS, max_size=4) | st.none(),
        },
    )
    | VALUES
)


@settings(max_examples=200)
@given(
    kv_heads=GOOD_INTS | SMALL_INTS,
    window=GOOD_INTS | SMALL_INTS,
    rope=ROPES,
    version=st.sampled_from([2, 2, 1, 3]),
    source_positions=st.none() | POSITIONS | st.lists(SMALL_INTS, max_size=4),
)
def test_version_2_fields_load_consistently_or_are_refused(
    kv_heads, window, rope, version, source_positions
):
    """Two heads of d_k = 2 over 3 tokens (W_K/W_V as wide as one or two kv heads)."""
    tree = copy.deepcopy(BUNDLED["seed-example"])
    tree["version"] = version
    tree["inputs"] = [[1, 0], [0, 1], [1, 1]]
    tree["tokens"] = ["a", "b", "c"]
    wide = kv_heads == 1
    tree["weights"] = {
        "query": [[1, 0, 0, 1], [0, 1, 1, 0]],
        "key": [[1, 0], [0, 1]] if wide else [[1, 0, 0, 1], [0, 1, 1, 0]],
        "value": [[1], [2]] if wide else [[1, 2], [3, 4]],
    }
    tree.pop("biases", None)
    tree["options"] = {"heads": 2, "kv_heads": kv_heads, "window": window, "rope": rope}
    if source_positions is not None:
        tree["source"] = {"inputs": [[1, 1], [2, 2], [3, 3]], "positions": source_positions}
    preset = _load(_encode(tree))
    if preset is None:
        return
    result = selfattn.compute(preset)  # whatever loads computes
    assert np.isfinite(result.weights).all()
    text = selfattn.dumps_preset(preset)
    assert json.loads(text)["version"] == (2 if preset.uses_version_2 else 1)
    assert selfattn.dumps_preset(selfattn.parse_preset(text, "again.json")) == text
