"""The atlas as SVG: labels, geometry, the embedded thumbnails and the tooltips.

Truth: a hand-made atlas of one-hot heads (previous token, first token, self), so
every thumbnail pixel is one of viridis's end colours and every metric is worked
out by hand below; the SVG is read back with xml.etree.
"""

from __future__ import annotations

import base64
import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_atlas_command import needs_minilm, png_pixels

from selfattn.atlas import atlas_from_attentions, build_atlas
from selfattn.atlas_picture import BACKGROUND, SOURCE_SHOWN, atlas_svg
from selfattn.cli import main

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
LOW, HIGH = (0x44, 0x01, 0x54), (0xFD, 0xE7, 0x25)  # viridis at weight 0 and at 1

PREVIOUS = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=np.float32)
FIRST = np.array([[1, 0, 0, 0]] * 4, dtype=np.float32)
SELF = np.eye(4, dtype=np.float32)
HEADS = [[PREVIOUS, FIRST, SELF], [SELF, PREVIOUS, FIRST]]  # layer 1, layer 2
IDS = (7, 8, 7, 8)  # rows 2 and 3 repeat: induction targets keys 1 and 2
# Worked by hand from the matrices above (entropy of one-hot rows is 0; every row max 1).
HAND = {
    "previous": {"first_token": 0.5, "previous_token": 1.0, "self": 0.25, "induction": 1.0},
    "first": {"first_token": 1.0, "previous_token": 1 / 3, "self": 0.25, "induction": 0.0},
    "self": {"first_token": 0.25, "previous_token": 0.0, "self": 1.0, "induction": 0.0},
}
KIND = [["previous", "first", "self"], ["self", "previous", "first"]]


def toy_atlas(model: str = "toy", source: str = "text 'a b a b'"):
    attentions = np.array([[np.asarray(h) for h in layer] for layer in HEADS])
    return atlas_from_attentions(attentions, IDS, ["a", "b", "a", "b"], model=model, source=source)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    return root


def by_id(root: ET.Element, name: str) -> ET.Element:
    found = [e for e in root.iter() if e.get("id") == name]
    assert len(found) == 1, name
    return found[0]


def image_pixels(element: ET.Element) -> np.ndarray:
    prefix = "data:image/png;base64,"
    href = element.get(XLINK_HREF)
    assert href is not None and href.startswith(prefix)
    return png_pixels(base64.b64decode(href[len(prefix) :]))


def test_svg_has_title_labels_and_thumbnails_where_the_labels_say():
    root = parse(atlas_svg(toy_atlas()))
    assert by_id(root, "title").text == "toy: 2 layers × 3 heads, 4 tokens"
    assert root.find(f"{SVG}title").text == "toy: 2 layers × 3 heads, 4 tokens"
    assert by_id(root, "source").text == "input: text 'a b a b'"
    assert by_id(root, "head-axis").text == "head"
    assert by_id(root, "layer-axis").text == "layer"
    thumbs = by_id(root, "thumbnails")
    x0, y0 = float(thumbs.get("x")), float(thumbs.get("y"))
    # 4 tokens: 24-pixel cells (96 // 4), 96-pixel thumbnails, 4 pixels between them
    assert (thumbs.get("width"), thumbs.get("height")) == ("300", "200")
    pixels = image_pixels(thumbs)
    assert pixels.shape == (200, 300, 3)  # drawn at one SVG unit per pixel
    assert float(root.get("width")) >= x0 + 300 and float(root.get("height")) >= y0 + 200
    head_labels = by_id(root, "head-labels").findall(f"{SVG}text")
    assert [t.text for t in head_labels] == ["1", "2", "3"]
    assert [float(t.get("x")) for t in head_labels] == [x0 + 48, x0 + 148, x0 + 248]
    assert all(float(t.get("y")) < y0 for t in head_labels)
    layer_labels = by_id(root, "layer-labels").findall(f"{SVG}text")
    assert [t.text for t in layer_labels] == ["1", "2"]
    assert [float(t.get("y")) for t in layer_labels] == [y0 + 48, y0 + 148]
    assert all(float(t.get("x")) < x0 for t in layer_labels)
    for layer in range(2):
        for head in range(3):
            weights = HEADS[layer][head]
            for row in range(4):
                for col in range(4):
                    y, x = layer * 100 + row * 24, head * 100 + col * 24
                    cell = pixels[y : y + 24, x : x + 24].reshape(-1, 3)
                    colour = HIGH if weights[row, col] == 1 else LOW
                    assert (cell == colour).all(), (layer, head, row, col)
            # the 4-pixel gaps right of and below each thumbnail are background
            assert (pixels[layer * 100 : layer * 100 + 96, head * 100 + 96 :][:, :4] == 250).all()
            assert (pixels[layer * 100 + 96 : layer * 100 + 100] == BACKGROUND).all()


def test_each_head_has_a_tooltip_with_its_metrics():
    root = parse(atlas_svg(toy_atlas()))
    thumbs = by_id(root, "thumbnails")
    x0, y0 = float(thumbs.get("x")), float(thumbs.get("y"))
    rects = by_id(root, "heads").findall(f"{SVG}rect")
    assert len(rects) == 6
    for rect in rects:
        head_part, _, values = rect.find(f"{SVG}title").text.partition(": ")
        layer, head = (int(w.split()[1]) for w in head_part.split(", "))
        assert float(rect.get("x")) == x0 + (head - 1) * 100
        assert float(rect.get("y")) == y0 + (layer - 1) * 100
        assert rect.get("width") == rect.get("height") == "96"
        shown = dict(item.rsplit(" ", 1) for item in values.split(", "))
        expected = {"entropy": 0.0, "max_weight": 1.0, **HAND[KIND[layer - 1][head - 1]]}
        assert set(shown) == set(expected)
        for metric, value in expected.items():
            assert float(shown[metric]) == pytest.approx(value, abs=1e-6), (layer, head, metric)


def test_induction_without_repeats_is_undefined_in_the_tooltip():
    attentions = np.array([[SELF]])
    atlas = atlas_from_attentions(attentions, (1, 2, 3, 4), ["a", "b", "c", "d"], model="m")
    tip = parse(atlas_svg(atlas)).find(f".//{SVG}rect[@width='96']/{SVG}title").text
    assert tip.endswith("induction undefined")


def test_colour_bar_runs_from_weight_0_to_1():
    root = parse(atlas_svg(toy_atlas()))
    bar = image_pixels(by_id(root, "colour-bar"))
    assert tuple(bar[0, 0]) == LOW and tuple(bar[0, -1]) == HIGH
    assert (by_id(root, "colour-min").text, by_id(root, "colour-max").text) == ("0", "1")


def test_block_averaged_thumbnails_say_so_in_the_caption():
    n = 130  # more than MAX_THUMB = 128 tokens: 2 x 2 blocks
    attentions = np.full((1, 1, n, n), 1.0 / n, dtype=np.float32)
    atlas = atlas_from_attentions(attentions, list(range(n)), ["t"] * n, model="m")
    root = parse(atlas_svg(atlas))
    assert "each pixel the mean of 2 × 2 weights" in by_id(root, "caption").text
    assert image_pixels(by_id(root, "thumbnails")).shape == (65 + 4, 65 + 4, 3)


def xml_char(c: str) -> bool:
    """Whether XML 1.0 can hold c: tab, LF, CR and the ranges of its Char production."""
    return (
        c in "\t\n\r" or "\x20" <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"
    )


def xml_safe(text: str) -> str:
    return "".join(c if xml_char(c) else "\ufffd" for c in text)


@settings(max_examples=60, deadline=None)
@given(model=st.text(max_size=40), source=st.text(max_size=200))
def test_any_model_name_and_input_are_written_as_text(model, source):
    root = parse(atlas_svg(toy_atlas(model=model, source=source)))
    assert by_id(root, "title").text == f"{xml_safe(model)}: 2 layers × 3 heads, 4 tokens"
    shown = source if len(source) <= SOURCE_SHOWN else source[: SOURCE_SHOWN - 1] + "…"
    assert by_id(root, "source").text == "input: " + xml_safe(shown)


@needs_minilm
def test_command_line_svg_is_the_atlas_svg_with_ordinary_permissions(tmp_path: Path):
    text = "The cat sat on the mat."
    path = tmp_path / "atlas.svg"
    assert main(["atlas", "--text", text, "--svg", str(path)]) == 0
    atlas = build_atlas(None, text)
    assert path.read_bytes() == atlas_svg(atlas).encode("utf-8")
    root = parse(path.read_text(encoding="utf-8"))
    assert [t.text for t in by_id(root, "head-labels")] == [str(h) for h in range(1, 13)]
    assert [t.text for t in by_id(root, "layer-labels")] == [str(i) for i in range(1, 7)]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
