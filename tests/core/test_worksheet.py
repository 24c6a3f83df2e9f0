"""The walk-through worksheet (Markdown and self-contained HTML) and `selfattn walkthrough`."""

from __future__ import annotations

import base64
import re
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from selfattn import Preset
from selfattn.bundled import bundled_names, load_bundled
from selfattn.cli import main
from selfattn.walkthrough import walkthrough
from selfattn.worksheet import render, render_html, render_markdown

VOID = {"meta", "img", "br", "hr", "link", "input"}


class PageParser(HTMLParser):
    """Collects tags (checking they nest), image sources and table cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.images: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.captions: list[str] = []
        self._cell: list[str] | None = None
        self._caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._caption = True
            self.captions.append("")

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (self.stack[-3:], tag)
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "caption":
            self._caption = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._caption:
            self.captions[-1] += data


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    assert parser.stack == [], parser.stack
    return parser


def png_pixels(data: bytes) -> np.ndarray:
    """RGB pixels of a PNG written with filter 0 on every row (what selfattn.png writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    start = data.index(b"IDAT") + 4
    (length,) = struct.unpack(">I", data[start - 8 : start - 4])
    raw = np.frombuffer(zlib.decompress(data[start : start + length]), np.uint8)
    rows = raw.reshape(height, 1 + width * 3)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 3)


# Markdown -----------------------------------------------------------------------------


def test_markdown_has_every_step_with_the_seed_numbers() -> None:
    text = render_markdown(walkthrough(load_bundled("seed-example")))
    headings = re.findall(r"^## (\d+)\. (.*)$", text, flags=re.M)
    assert [int(n) for n, _ in headings] == list(range(1, 11))
    assert headings[4][1] == "Query 1's attention scores"
    assert "| input_1 | 2 | 4 | 4 |" in text  # the raw scores of input 1
    assert "| input_1 | 0.136126 | 0.431937 | 0.431937 |" in text  # its weights
    assert "| input_1 | 1.86387 | 6.31937 | 1.70419 |" in text  # output 1
    assert "| input_2 | 4 | 4 | 0 |" in text  # key 2 in the K table
    # The arithmetic sits in fenced blocks, each opened and closed.
    assert text.count("```text") * 2 == text.count("```")


def test_markdown_escapes_labels_that_would_break_a_table() -> None:
    preset = load_bundled("seed-example").replace(tokens=("a|b", "``` x", "<b>*c*</b>"))
    text = render_markdown(walkthrough(preset))
    row = next(line for line in text.splitlines() if line.startswith("| a\\|b |"))
    assert row.count("|") - row.count("\\|") == 6  # around the label cell and 4 numbers
    assert "\\<b>\\*c\\*\\</b>" in text
    # A label with a run of three backticks gets a longer fence around it.
    assert "````text" in text


def test_big_tables_are_cut_and_say_so() -> None:
    text = render_markdown(walkthrough(load_bundled("real-previous-token")))
    assert "**X (inputs)** (first 12 of 384 columns)" in text
    header = next(line for line in text.splitlines() if line.startswith("| | x1 |"))
    assert header.count("|") == 14


# HTML ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", bundled_names())
def test_html_is_self_contained(name: str) -> None:
    page = render_html(walkthrough(load_bundled(name)))
    assert "http" not in page.lower()
    assert "url(" not in page and "@import" not in page and "<script" not in page
    parser = parse(page)
    assert parser.images, "no heatmap"
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert re.findall(r'\b(?:src|href)="(?!data:)', page) == []


def test_html_tables_and_heatmap_carry_the_seed_numbers() -> None:
    page = render_html(walkthrough(load_bundled("seed-example")))
    parser = parse(page)
    tables = dict(zip(parser.captions, parser.tables, strict=True))
    assert tables["Weights of query 1"] == [
        ["", "input_1", "input_2", "input_3"],
        ["input_1", "0.136126", "0.431937", "0.431937"],
    ]
    assert tables["K (keys)"][1:] == [
        ["input_1", "0", "1", "1"],
        ["input_2", "4", "4", "0"],
        ["input_3", "2", "3", "1"],
    ]
    # The heatmap: 3 x 3 blocks; row 2's biggest weight (key 2, 0.909) is the brightest.
    pixels = png_pixels(base64.b64decode(parser.images[0].split(",", 1)[1]))
    cell = pixels.shape[0] // 3
    assert pixels.shape[:2] == (3 * cell, 3 * cell)
    centres = pixels[cell // 2 :: cell, cell // 2 :: cell].astype(int).sum(axis=2)
    assert np.unravel_index(np.argmax(centres), centres.shape) == (1, 1)
    assert centres[1, 0] < centres[0, 0] < centres[0, 1]  # 0.0009 < 0.136 < 0.432


def test_html_escapes_labels_and_names() -> None:
    preset = load_bundled("seed-example").replace(
        tokens=("<script>alert(1)</script>", "a&b", '"q"'), name="<i>x</i>"
    )
    page = render_html(walkthrough(preset))
    assert "<script" not in page and "<i>x</i>" not in page
    assert "&lt;script&gt;" in page and "a&amp;b" in page
    parse(page)


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown worksheet format 'pdf'"):
        render(walkthrough(load_bundled("seed-example")), "pdf")


# The command --------------------------------------------------------------------------


def test_command_writes_markdown_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["walkthrough", "seed-example"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Walk-through: Seed example\n")
    assert "| input_1 | 2 | 4 | 4 |" in out


def test_command_query_counts_from_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["walkthrough", "seed-example", "--query", "2"]) == 0
    out = capsys.readouterr().out
    assert "## 5. Query 2's attention scores" in out
    assert "| input_2 | 4 | 16 | 12 |" in out  # q2 = [2, 2, 2] against K


def test_command_writes_html_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sheet.html"
    assert (
        main(["walkthrough", "two-heads-self-and-previous", "--format", "html", "--out", str(out)])
        == 0
    )
    assert capsys.readouterr() == ("", "")
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Several heads" in page
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.html"]  # no temporary file left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--query", "4"], "query 4 does not exist: the preset has 3 queries"),
        (["--query", "0"], "queries count from 1, got 0"),
        (["--query", "one"], "expected a whole number, got 'one'"),
        (["--format", "pdf"], "invalid choice: 'pdf'"),
    ],
)
def test_bad_arguments_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "sheet.md"
    assert main(["walkthrough", "seed-example", *args, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("selfattn: error: ") and captured.err.count("\n") == 1
    assert message in captured.err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_targets_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["walkthrough", "seed-example", "--out", str(tmp_path / "no" / "x.md")]) == 2
    assert capsys.readouterr().err.startswith("selfattn: error: ")
    assert main(["walkthrough", "seed-example", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"selfattn: error: {tmp_path}: is a folder, expected a file name\n"
    assert list(tmp_path.iterdir()) == []


def test_a_bad_preset_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "selfattn.preset", "version": 1}', encoding="utf-8")
    assert main(["walkthrough", str(bad), "--out", str(tmp_path / "x.md")]) == 2
    assert capsys.readouterr().err == f"selfattn: error: {bad}: inputs: missing\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bad.json"]


def test_python_m_selfattn_walkthrough_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "selfattn", "walkthrough", "padding-mask", "--query", "3"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "The padding mask" in proc.stdout and proc.stderr == ""


def test_every_bundled_preset_every_query_renders(tmp_path: Path) -> None:
    for name in bundled_names():
        preset: Preset = load_bundled(name)
        for query in range(min(preset.n_tokens, 4)):
            walk = walkthrough(preset, query=query)
            assert render_markdown(walk).count("\n## ") == len(walk.steps)
            parse(render_html(walk))
