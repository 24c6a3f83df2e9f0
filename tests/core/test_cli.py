"""The selfattn command line: published numbers, CSV output, one-line errors.

Most tests call main() in-process (fast); a few run the installed console script
and ``python -m selfattn`` as real subprocesses.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import selfattn.models
from selfattn.bundled import bundled_names
from selfattn.cli import main
from selfattn.export import read_wide_csv

# Published float32 numbers of the classic 3-token example (also in test_smoke.py).
PUBLISHED_WEIGHTS = np.array(
    [
        [1.3612579e-01, 4.3193707e-01, 4.3193707e-01],
        [8.9044782e-04, 9.0884298e-01, 9.0266980e-02],
        [7.4448888e-03, 7.5470752e-01, 2.3784746e-01],
    ]
)
PUBLISHED_OUTPUT = np.array(
    [
        [1.8638741, 6.3193707, 1.7041886],
        [1.9991105, 7.8141265, 0.27347228],
        [1.9925548, 7.479635, 0.73587704],
    ]
)
SEED_TOKENS = ["input_1", "input_2", "input_3"]
CONSOLE_SCRIPT = Path(sys.executable).with_name("selfattn")


def parse_tables(text: str) -> dict[str, tuple[list[str], list[str], np.ndarray]]:
    """Parse printed tables: a title line, a header of column labels, then labelled rows.

    Titles are keyed by their first words before " (" (e.g. "weights", "weights, head 2 of 2").
    """
    tables = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        is_title = line.startswith("weights") or line == "output"
        if not is_title:
            i += 1
            continue
        title = line.split(" (")[0]
        cols = lines[i + 1].split()
        rows, values = [], []
        i += 2
        while i < len(lines) and lines[i].strip():
            label, *cells = lines[i].split()
            rows.append(label)
            values.append([float(c) for c in cells])
            i += 1
        tables[title] = (rows, cols, np.array(values))
    return tables


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)


def test_compute_seed_example_prints_the_published_numbers(capsys):
    assert main(["compute", "seed-example"]) == 0
    out = capsys.readouterr().out
    tables = parse_tables(out)
    rows, cols, weights = tables["weights"]
    assert rows == SEED_TOKENS and cols == SEED_TOKENS
    np.testing.assert_allclose(weights, PUBLISHED_WEIGHTS, rtol=0, atol=1e-6)
    rows, cols, output = tables["output"]
    assert rows == SEED_TOKENS and cols == ["o1", "o2", "o3"]
    np.testing.assert_allclose(output, PUBLISHED_OUTPUT, rtol=0, atol=1e-5)


def table_blocks(text: str) -> dict[str, list[str]]:
    """The raw lines of each printed table (header line first), keyed by title."""
    blocks: dict[str, list[str]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("weights") or line == "output":
            block = []
            for row in lines[i + 1 :]:
                if not row.strip():
                    break
                block.append(row)
            blocks[line.split(" (")[0]] = block
    return blocks


def column_ends(line: str) -> list[int]:
    """Character position just after each whitespace-separated field of a line."""
    return [m.end() for m in re.finditer(r"\S+", line)]


@pytest.mark.parametrize("digits", ["8", "3", "12"])
def test_compute_prints_aligned_tables_with_right_aligned_numbers(capsys, digits):
    assert main(["compute", "seed-example", "--digits", digits]) == 0
    blocks = table_blocks(capsys.readouterr().out)
    assert set(blocks) == {"weights", "output"}
    for title, (header, *rows) in blocks.items():
        assert len(rows) == 3, title
        col_ends = column_ends(header)
        assert len(col_ends) == 3, title
        label_width = max(len(row.split()[0]) for row in rows)
        assert header[:label_width].strip() == "", f"{title}: header starts over the labels"
        widths = set()
        for row in rows:
            ends = column_ends(row)
            # Label first (left-aligned at column 0), then one cell per header column,
            # each ending exactly where its header label ends.
            assert row[0] != " ", f"{title}: label not left-aligned: {row!r}"
            assert ends[1:] == col_ends, f"{title}: {row!r} not aligned under {header!r}"
            assert len(row) == len(header), title
            widths.update(len(cell) for cell in row.split()[1:])
        # The check has teeth only if cells differ in width (padding was needed).
        assert len(widths) > 1, title


def test_float32_matches_the_published_float32_numbers(capsys):
    assert main(["compute", "seed-example", "--dtype", "float32", "--digits", "9"]) == 0
    out = capsys.readouterr().out
    assert "float32" in out.splitlines()[0]
    tables = parse_tables(out)
    # The published numbers come from another float32 program (other summation order):
    # they agree to float32 rounding, not bit for bit.
    np.testing.assert_allclose(tables["weights"][2], PUBLISHED_WEIGHTS, rtol=0, atol=1e-6)
    np.testing.assert_allclose(tables["output"][2], PUBLISHED_OUTPUT, rtol=0, atol=1e-5)


def test_console_script_reproduces_the_published_numbers():
    proc = run([str(CONSOLE_SCRIPT), "compute", "seed-example"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    tables = parse_tables(proc.stdout)
    np.testing.assert_allclose(tables["weights"][2], PUBLISHED_WEIGHTS, rtol=0, atol=1e-6)
    np.testing.assert_allclose(tables["output"][2], PUBLISHED_OUTPUT, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "args",
    [["compute", "seed-example", "--dtype", "float32"], ["compute", "no-such-preset"], ["presets"]],
)
def test_python_dash_m_is_the_same_command(args, tmp_path):
    script = run([str(CONSOLE_SCRIPT), *args], cwd=tmp_path)
    module = run([sys.executable, "-m", "selfattn", *args], cwd=tmp_path)
    assert (module.returncode, module.stdout, module.stderr) == (
        script.returncode,
        script.stdout,
        script.stderr,
    )


def test_subprocess_error_is_one_line_without_traceback(tmp_path):
    proc = run([str(CONSOLE_SCRIPT), "compute", "missing.json", "--out", "out"], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == "selfattn: error: missing.json: cannot read: No such file or directory\n"
    assert proc.stdout == ""
    assert os.listdir(tmp_path) == []


def test_out_writes_the_wide_csv_files(tmp_path, capsys):
    out_dir = tmp_path / "csv"
    assert main(["compute", "seed-example", "--out", str(out_dir)]) == 0
    assert sorted(os.listdir(out_dir)) == sorted(
        [
            "query.csv",
            "key.csv",
            "value.csv",
            "scores.csv",
            "scaled_scores.csv",
            "weights.csv",
            "context.csv",
            "output.csv",
        ]
    )
    rows, cols, weights = read_wide_csv(out_dir / "weights.csv")
    assert rows == SEED_TOKENS and cols == SEED_TOKENS
    np.testing.assert_allclose(weights, PUBLISHED_WEIGHTS, rtol=0, atol=1e-6)
    _, _, output = read_wide_csv(out_dir / "output.csv")
    np.testing.assert_allclose(output, PUBLISHED_OUTPUT, rtol=0, atol=1e-5)
    # Hand-worked: Q = X W_Q, first token (1,0,1,0) picks rows 1 and 3 of W_Q: (1,0,2).
    _, cols, q = read_wide_csv(out_dir / "query.csv")
    assert cols == ["q1", "q2", "q3"] and q[0].tolist() == [1.0, 0.0, 2.0]
    assert "wrote 8 CSV file(s)" in capsys.readouterr().out


def test_out_long_format_writes_results_csv(tmp_path, capsys):
    assert main(["compute", "seed-example", "--out", str(tmp_path), "--format", "long"]) == 0
    assert os.listdir(tmp_path) == ["results.csv"]
    header = (tmp_path / "results.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "matrix,head,row,col,row_label,col_label,value"


def _write_preset(path: Path, **changes) -> Path:
    data = {
        "format": "selfattn.preset",
        "version": 1,
        "name": "Two heads",
        "tokens": ["a", "b", "c"],
        "inputs": [[1, 0], [0, 1], [1, 1]],
        "weights": {
            "query": [[1, 0, 0, 1], [0, 1, 1, 0]],
            "key": [[1, 0, 0, 1], [0, 1, 1, 0]],
            "value": [[1, 2], [3, 4]],
        },
        "options": {"heads": 2},
    }
    for key, value in changes.items():
        data[key] = value
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_every_head_is_printed(tmp_path, capsys):
    path = _write_preset(tmp_path / "two.json")
    assert main(["compute", str(path)]) == 0
    tables = parse_tables(capsys.readouterr().out)
    assert set(tables) == {"weights, head 1 of 2", "weights, head 2 of 2", "output"}
    for title in ("weights, head 1 of 2", "weights, head 2 of 2"):
        rows, cols, w = tables[title]
        assert rows == cols == ["a", "b", "c"]
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-7)
    assert tables["output"][1] == ["o1", "o2"]


def test_fully_masked_queries_are_named(tmp_path, capsys):
    # Causal with key "a" masked: query "a" sees no key at all.
    path = _write_preset(
        tmp_path / "m.json",
        options={"heads": 1, "causal": True, "key_mask": [False, True, True]},
    )
    assert main(["compute", str(path)]) == 0
    out = capsys.readouterr().out
    assert "fully masked queries (no visible key; weights are 0): a\n" in out
    assert parse_tables(out)["weights"][2][0].tolist() == [0.0, 0.0, 0.0]


def test_presets_lists_every_bundled_preset_on_one_line(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[0] for line in lines) == bundled_names()  # lesson order
    seed = next(line for line in lines if line.split()[0] == "seed-example")
    assert "1. Seed example — " in seed and "hand-worked" in seed


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "COMMAND"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["compute"], "PRESET"),
        (["compute", "seed-example", "--format", "xml"], "--format"),
        (["compute", "seed-example", "--dtype", "float16"], "--dtype"),
        (["compute", "seed-example", "--digits", "0"], "between 1 and 17"),
        (["compute", "seed-example", "--shout"], "unrecognized arguments: --shout"),
        (["presets", "extra"], "unrecognized arguments: extra"),
        (["compute", "no-such-preset"], "no such file or bundled preset"),
        (["compute", "missing.json"], "missing.json: cannot read"),
        (["compute", "seed-example", "--out", "a-file"], "a-file: exists and is not a folder"),
        (["from-model"], "from-model"),
    ],
)
def test_errors_are_one_line_exit_2_and_write_nothing(
    tmp_path, monkeypatch, capsys, args, fragment
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("selfattn: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert os.listdir(tmp_path) == ["a-file"]
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "not a folder"


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "compute" in capsys.readouterr().out
    assert main(["compute", "--help"]) == 0
    assert "--format" in capsys.readouterr().out


def _fake_command_module(monkeypatch, register) -> None:
    module = types.ModuleType("selfattn.models.command")
    module.register = register
    monkeypatch.setitem(sys.modules, "selfattn.models.command", module)
    monkeypatch.setattr(selfattn.models, "command", module, raising=False)


def test_broken_from_model_module_does_not_break_compute(monkeypatch, capsys):
    def register(subparsers):
        raise ImportError("tokenizers is not installed")

    _fake_command_module(monkeypatch, register)
    assert main(["compute", "seed-example"]) == 0
    assert "input_1" in capsys.readouterr().out
    assert main(["from-model", "--layer", "1", "--text", "hi"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "selfattn: error: from-model is unavailable: ImportError: tokenizers is not installed\n"
    )


def _register_raising(exc: BaseException):
    def register(subparsers: argparse._SubParsersAction) -> None:
        p = subparsers.add_parser("from-model")

        def handler(args: argparse.Namespace) -> int:
            raise exc

        p.set_defaults(handler=handler)

    return register


def test_model_error_becomes_one_line(monkeypatch, capsys):
    from selfattn.models.errors import ModelError

    _fake_command_module(monkeypatch, _register_raising(ModelError("layer 9 out of range 1..6")))
    assert main(["from-model"]) == 2
    assert capsys.readouterr().err == "selfattn: error: layer 9 out of range 1..6\n"


def test_a_bug_is_not_disguised_as_bad_input(monkeypatch):
    """Only input errors become one line; a programming error keeps its traceback."""
    _fake_command_module(monkeypatch, _register_raising(KeyError("oops")))
    with pytest.raises(KeyError):
        main(["from-model"])


def test_output_piped_into_a_closed_reader_stops_quietly(tmp_path):
    # 400 tokens print a table of several MB: far more than a pipe buffer holds.
    n = 400
    path = _write_preset(
        tmp_path / "big.json",
        tokens=[f"t{i}" for i in range(n)],
        inputs=[[float(i % 7), float(i % 3)] for i in range(n)],
        options={"heads": 1},
    )
    with subprocess.Popen(
        [str(CONSOLE_SCRIPT), "compute", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()  # like `| head -1`
        err = proc.stderr.read()
        proc.wait(timeout=120)
    assert err == b""
    assert proc.returncode == 1


def test_attention_error_from_a_valid_file_is_one_line(tmp_path, capsys):
    # The file is well-formed, but 1 / 1e-310 overflows: attention refuses, no NaN table.
    path = _write_preset(tmp_path / "cold.json", options={"heads": 1, "temperature": 1e-310})
    assert main(["compute", str(path), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("selfattn: error: ") and captured.err.count("\n") == 1
    assert "overflow" in captured.err
    assert not (tmp_path / "out").exists()
