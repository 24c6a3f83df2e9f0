"""Slide-ready exports: vector SVG cells, tight viewBox, title on SVG and PNG, no outline.

Expected colours come from pyqtgraph's own colour map tables looked up at the published
seed-example weights (not from the exporter), expected texts are those weights written
out by hand at the cells' three decimals.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import heatmap_helpers as hh
import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from app.heatmap import HeatmapView
from app.heatmap.slides import export_picture

NS = "{http://www.w3.org/2000/svg}"
TITLE = "Seed example — attention weights, head 1"
# The published weights (hh.SEED_WEIGHTS) at three decimals, as a teacher writes them.
SEED_TEXTS = ["0.136", "0.432", "0.432", "0.001", "0.909", "0.090", "0.007", "0.755", "0.238"]


@pytest.fixture
def view(qtbot) -> HeatmapView:
    widget = hh.shown_view(qtbot)
    widget.set_matrix(
        hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights", title="Weights"
    )
    hh.settle()
    return widget


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def view_box(root: ET.Element) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in root.get("viewBox", "").split())
    return x, y, w, h


def is_background(rect: ET.Element, root: ET.Element) -> bool:
    x, y, w, h = view_box(root)
    return (
        float(rect.get("x", 0)) <= x
        and float(rect.get("y", 0)) <= y
        and float(rect.get("width", 0)) >= w
        and float(rect.get("height", 0)) >= h
    )


def cell_rects(root: ET.Element) -> list[ET.Element]:
    """Solid-colour rectangles that are neither the background nor the colour bar."""
    return [
        r
        for r in root.iter(f"{NS}rect")
        if r.get("fill", "").startswith("#") and not is_background(r, root)
    ]


def texts(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{NS}text"))


def in_matrix(root: ET.Element, cells: list[ET.Element]) -> list[ET.Element]:
    """The texts placed over the cells (the cells' numbers)."""
    left = min(float(r.get("x")) for r in cells)
    top = min(float(r.get("y")) for r in cells)
    right = max(float(r.get("x")) + float(r.get("width")) for r in cells)
    bottom = max(float(r.get("y")) + float(r.get("height")) for r in cells)
    return [
        t
        for t in texts(root)
        if left < float(t.get("x")) < right and top < float(t.get("y")) < bottom
    ]


def hex_rgb(text: str) -> tuple[int, int, int]:
    colour = QColor(text)
    return (colour.red(), colour.green(), colour.blue())


def lut_colours(name: str, value: float, lo: float, hi: float) -> set[tuple[int, int, int]]:
    """The colour map's table entries at a value (and its neighbours: 4-digit weights)."""
    table = pg.colormap.get(name).getLookupTable(nPts=256)
    k = int(np.clip((value - lo) / (hi - lo) * 256, 0, 255))
    return {tuple(int(c) for c in table[i][:3]) for i in range(max(k - 1, 0), min(k + 2, 256))}


def render(path: Path, scale: float = 1.0) -> QImage:
    """The SVG drawn by Qt's renderer on a transparent image."""
    renderer = QSvgRenderer(str(path))
    assert renderer.isValid()
    size = renderer.defaultSize() * scale
    image = QImage(size, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return image


def alpha_box(image: QImage) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) margins around the pixels drawn on a transparent image."""
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    data = np.frombuffer(rgba.constBits(), dtype=np.uint8, count=rgba.sizeInBytes())
    pixels = data.reshape(rgba.height(), rgba.bytesPerLine())[:, : rgba.width() * 4]
    alpha = pixels.reshape(rgba.height(), rgba.width(), 4)[:, :, 3] > 0
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    return (
        int(cols[0]),
        int(rows[0]),
        rgba.width() - 1 - int(cols[-1]),
        rgba.height() - 1 - int(rows[-1]),
    )


# -- vector SVG of the seed example -------------------------------------------------------


def test_seed_svg_cells_are_nine_rectangles_in_the_colour_maps_colours(view, tmp_path):
    path = tmp_path / "seed.svg"
    assert export_picture(view, str(path), "white", TITLE) == "svg"
    root = parse(path)
    cells = cell_rects(root)
    assert len(cells) == 9
    assert not any(el.tag == f"{NS}image" for el in root.iter())  # no raster anywhere
    cells.sort(key=lambda r: (float(r.get("y")), float(r.get("x"))))
    xs = sorted({float(r.get("x")) for r in cells})
    ys = sorted({float(r.get("y")) for r in cells})
    assert len(xs) == len(ys) == 3  # a 3 x 3 grid, rows down, columns across
    for k, rect in enumerate(cells):
        i, j = divmod(k, 3)
        assert (float(rect.get("x")), float(rect.get("y"))) == (xs[j], ys[i])
        expected = lut_colours("viridis", hh.SEED_WEIGHTS[i, j], 0.0, 1.0)
        assert hex_rgb(rect.get("fill")) in expected, (i, j)


def test_seed_svg_cells_match_the_screen(view, tmp_path):
    path = tmp_path / "seed.svg"
    export_picture(view, str(path), "white", "")
    cells = sorted(cell_rects(parse(path)), key=lambda r: (float(r.get("y")), float(r.get("x"))))
    for k, rect in enumerate(cells):
        i, j = divmod(k, 3)
        on_screen = hh.rgb(hh.pixel(view, i, j, 0.1, 0.1))  # a corner, away from the text
        assert hh.close(hex_rgb(rect.get("fill")), on_screen, tol=2), (i, j)


def test_seed_svg_texts_are_the_published_weights_in_their_cells(view, tmp_path):
    path = tmp_path / "seed.svg"
    export_picture(view, str(path), "white", TITLE)
    root = parse(path)
    cells = sorted(cell_rects(root), key=lambda r: (float(r.get("y")), float(r.get("x"))))
    numbers = in_matrix(root, cells)
    assert sorted(t.text for t in numbers) == sorted(SEED_TEXTS)
    for k, rect in enumerate(cells):
        x, y = float(rect.get("x")), float(rect.get("y"))
        size = float(rect.get("width"))
        inside = [
            t.text
            for t in numbers
            if x < float(t.get("x")) < x + size and y < float(t.get("y")) < y + size
        ]
        assert inside == [SEED_TEXTS[k]]
    # dark cells get white text, light ones black (0.909 and 0.755 are yellow-green)
    fills = {t.text: t.get("fill") for t in numbers}
    assert fills["0.909"] == fills["0.755"] == "#000000"
    assert fills["0.136"] == fills["0.001"] == "#ffffff"


def test_seed_svg_labels_are_the_tokens_queries_down_keys_across(view, tmp_path):
    path = tmp_path / "seed.svg"
    export_picture(view, str(path), "white", TITLE)
    root = parse(path)
    labels = [t for t in texts(root) if t.text in hh.SEED_TOKENS]
    assert len(labels) == 6
    # query labels: one x, y growing down; key labels: one y, x growing across
    by_x: dict[str, list[ET.Element]] = {}
    for t in labels:
        by_x.setdefault(t.get("x"), []).append(t)
    queries = next(group for group in by_x.values() if len(group) == 3)
    assert [t.text for t in sorted(queries, key=lambda t: float(t.get("y")))] == hh.SEED_TOKENS
    keys = [t for t in labels if t not in queries]
    assert [t.text for t in sorted(keys, key=lambda t: float(t.get("x")))] == hh.SEED_TOKENS
    assert len({t.get("y") for t in keys}) == 1
    words = {t.text for t in texts(root)}
    assert {"key →", "← query", "weight", "0", "1"} <= words  # axis titles, colour bar


def test_seed_svg_has_a_colour_bar_gradient_of_the_colour_map(view, tmp_path):
    path = tmp_path / "seed.svg"
    export_picture(view, str(path), "white", "")
    root = parse(path)
    gradient = next(root.iter(f"{NS}linearGradient"))
    stops = [(float(s.get("offset")), hex_rgb(s.get("stop-color"))) for s in gradient]
    table = pg.colormap.get("viridis").getLookupTable(nPts=256)
    assert stops[0] == (0.0, tuple(int(c) for c in table[0][:3]))
    assert stops[-1] == (1.0, tuple(int(c) for c in table[255][:3]))
    bar = [r for r in root.iter(f"{NS}rect") if r.get("fill") == f"url(#{gradient.get('id')})"]
    assert len(bar) == 1


def test_title_present_or_absent(view, tmp_path):
    export_picture(view, str(tmp_path / "t.svg"), "white", TITLE)
    export_picture(view, str(tmp_path / "u.svg"), "white", "")
    titled, plain = parse(tmp_path / "t.svg"), parse(tmp_path / "u.svg")
    assert [t for t in texts(titled) if t.text == TITLE]
    assert not [t for t in texts(plain) if t.text == TITLE]
    assert view_box(titled)[3] > view_box(plain)[3]  # the title's line on top
    title = next(t for t in texts(titled) if t.text == TITLE)
    assert float(title.get("y")) < min(float(r.get("y")) for r in cell_rects(titled))
    # the on-screen title and click hint are not in an export
    assert not [t for t in texts(titled) if "Weights" in (t.text or "") or "click" in t.text]


@pytest.mark.parametrize("title", [TITLE, ""])
def test_svg_view_box_is_tight(view, tmp_path, title):
    path = tmp_path / "seed.svg"
    export_picture(view, str(path), "transparent", title)
    root = parse(path)
    x, y, w, h = view_box(root)
    for rect in root.iter(f"{NS}rect"):
        rx, ry = float(rect.get("x")), float(rect.get("y"))
        assert x <= rx and rx + float(rect.get("width")) <= x + w + 1e-6
        assert y <= ry and ry + float(rect.get("height")) <= y + h + 1e-6
    # drawn: nothing cut at an edge (a margin of at least 1 px) and no wide empty margins
    margins = alpha_box(render(path))
    assert all(1 <= m <= 8 for m in margins), margins


def test_transparent_svg_has_no_background(view, tmp_path):
    export_picture(view, str(tmp_path / "t.svg"), "transparent", TITLE)
    export_picture(view, str(tmp_path / "w.svg"), "white", TITLE)
    transparent, white = parse(tmp_path / "t.svg"), parse(tmp_path / "w.svg")
    assert not [r for r in transparent.iter(f"{NS}rect") if is_background(r, transparent)]
    backgrounds = [r for r in white.iter(f"{NS}rect") if is_background(r, white)]
    assert [r.get("fill") for r in backgrounds] == ["#ffffff"]
    image = render(tmp_path / "t.svg")
    assert image.pixelColor(0, 0).alpha() == 0
    assert image.pixelColor(image.width() - 1, image.height() - 1).alpha() == 0
    assert render(tmp_path / "w.svg").pixelColor(0, 0) == QColor(255, 255, 255)


def test_svg_is_the_same_with_a_cell_selected(view, tmp_path):
    view.select_cell(1, 2)
    export_picture(view, str(tmp_path / "selected.svg"), "white", TITLE)
    assert view.selected_cell() == (1, 2)  # the screen keeps its outline
    view.select_cell(-1, -1)
    export_picture(view, str(tmp_path / "plain.svg"), "white", TITLE)
    selected = (tmp_path / "selected.svg").read_text(encoding="utf-8")
    assert selected == (tmp_path / "plain.svg").read_text(encoding="utf-8")


def test_masked_cells_are_grey_hatched_and_print_no_weight(view, tmp_path):
    causal = np.tril(np.ones((3, 3), dtype=bool))
    weights = np.array([[1.0, 0, 0], [0.25, 0.75, 0], [0.2, 0.3, 0.5]])
    view.set_matrix(weights, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights", visible=causal)
    hh.settle()
    path = tmp_path / "causal.svg"
    export_picture(view, str(path), "white", "")
    root = parse(path)
    cells = cell_rects(root)
    colours = {hex_rgb(r.get("fill")) for r in cells}
    greys = {c for c in colours if c[0] == c[1] == c[2]}
    assert len(greys) == 1  # the mask's grey: one rectangle per masked run (row 1, row 2)
    grey = next(iter(greys))
    masked = [r for r in cells if hex_rgb(r.get("fill")) == grey]
    assert len(masked) == 2
    assert any(p.get("d", "").count("M") >= 2 for p in root.iter(f"{NS}path"))  # hatching
    # six visible weights printed; the three masked cells print nothing
    numbers = sorted(t.text for t in in_matrix(root, cells))
    assert numbers == sorted(["1", "0.250", "0.750", "0.200", "0.300", "0.500"])


def test_scores_use_the_diverging_map_on_symmetric_levels(view, tmp_path):
    scores = np.array([[2.0, -4.0], [0.0, 1.0]])
    view.set_matrix(scores, ["a", "b"], ["c", "d"], kind="scores")
    hh.settle()
    path = tmp_path / "scores.svg"
    export_picture(view, str(path), "white", "")
    cells = sorted(cell_rects(parse(path)), key=lambda r: (float(r.get("y")), float(r.get("x"))))
    assert len(cells) == 4
    for k, rect in enumerate(cells):
        value = scores.flat[k]
        assert hex_rgb(rect.get("fill")) in lut_colours("CET-D1", value, -4.0, 4.0), k
    root = parse(path)
    assert sorted(t.text for t in in_matrix(root, cells)) == sorted(["2", "−4", "0", "1"])
    assert "score" in {t.text for t in texts(root)}


# -- sizes: vectors up to 64 x 64, a raster beyond ----------------------------------------


def test_64_by_64_is_4096_rectangles(view, tmp_path):
    values = np.random.default_rng(1).dirichlet(np.ones(64), size=64)
    tokens = hh.tokens(64)
    view.set_matrix(values, tokens, tokens, kind="weights")
    hh.settle()
    path = tmp_path / "big.svg"
    assert export_picture(view, str(path), "white", "Sixty-four") == "svg"
    root = parse(path)
    assert len(cell_rects(root)) == 4096
    assert not any(el.tag == f"{NS}image" for el in root.iter())
    labels = {t.text for t in texts(root)}
    assert {"t0", "t63"} <= labels  # first and last tokens labelled (others thinned)


def test_65_by_65_embeds_a_raster_with_a_title_and_tight_box(view, tmp_path):
    values = np.random.default_rng(2).dirichlet(np.ones(65), size=65)
    tokens = hh.tokens(65)
    view.set_matrix(values, tokens, tokens, kind="weights")
    hh.settle()
    path = tmp_path / "bigger.svg"
    assert export_picture(view, str(path), "transparent", "Sixty-five") == "svg-raster"
    root = parse(path)
    assert any(el.tag == f"{NS}image" for el in root.iter())
    assert len(cell_rects(root)) < 65 * 65
    assert [t for t in texts(root) if t.text == "Sixty-five"]
    margins = alpha_box(render(path))
    assert all(m <= 8 for m in margins), margins


# -- the grid of heads ------------------------------------------------------------------------


def test_grid_of_heads_svg_has_every_head_and_one_colour_bar(qtbot, tmp_path):
    heads = hh.shown_heads_view(qtbot)
    weights = np.stack([hh.SEED_WEIGHTS, hh.SEED_WEIGHTS[::-1]])
    heads.set_heads(weights, hh.SEED_TOKENS, hh.SEED_TOKENS)
    heads.select_head(1)
    hh.settle()
    path = tmp_path / "heads.svg"
    assert export_picture(heads, str(path), "white", "Two heads") == "svg"
    assert heads.selected_head() == 1  # the screen keeps its choice
    root = parse(path)
    cells = cell_rects(root)
    assert len(cells) == 18
    words = [t.text for t in texts(root)]
    assert words.count("head 1") == words.count("head 2") == 1
    assert "Two heads" in words
    assert len(list(root.iter(f"{NS}linearGradient"))) == 1
    # the second head's first row is the first head's last (reversed rows)
    rows = sorted({float(r.get("y")) for r in cells})
    first_row = sorted(
        (r for r in cells if float(r.get("y")) == rows[0]), key=lambda r: float(r.get("x"))
    )
    expected = [*hh.SEED_WEIGHTS[0], *hh.SEED_WEIGHTS[2]]
    for rect, value in zip(first_row, expected, strict=True):
        assert hex_rgb(rect.get("fill")) in lut_colours("viridis", value, 0.0, 1.0)
    # no underline or highlight colour marks the selected head in the export
    assert all(not t.get("text-decoration") for t in texts(root))
    assert {t.get("fill") for t in texts(root) if t.text.startswith("head")} == {"#000000"}


# -- PNG ---------------------------------------------------------------------------------------


def test_png_title_is_drawn_above_an_unchanged_picture(view, tmp_path):
    export_picture(view, str(tmp_path / "plain.png"), "white", "")
    export_picture(view, str(tmp_path / "titled.png"), "white", TITLE)
    plain, titled = QImage(str(tmp_path / "plain.png")), QImage(str(tmp_path / "titled.png"))
    assert titled.width() == plain.width() >= 1600
    band = titled.height() - plain.height()
    assert band > 20
    below = titled.copy(0, band, titled.width(), plain.height())
    assert below.convertToFormat(plain.format()) == plain  # the picture itself is untouched
    dark = [
        (x, y)
        for y in range(band)
        for x in range(0, titled.width(), 2)
        if titled.pixelColor(x, y).lightness() < 100
    ]
    assert len(dark) > 200  # the title's glyphs
    ys = [y for _x, y in dark]
    assert min(ys) <= 0.03 * titled.height() + 10  # tight: the title near the top edge


def test_png_with_title_has_no_outline_and_a_transparent_background(view, tmp_path):
    view.select_cell(0, 1)
    export_picture(view, str(tmp_path / "selected.png"), "transparent", TITLE)
    assert view.selected_cell() == (0, 1)
    view.select_cell(-1, -1)
    export_picture(view, str(tmp_path / "plain.png"), "transparent", TITLE)
    selected = QImage(str(tmp_path / "selected.png"))
    assert selected == QImage(str(tmp_path / "plain.png"))  # the outline left no trace
    assert selected.pixelColor(0, 0).alpha() == 0
    assert selected.pixelColor(selected.width() - 1, 0).alpha() == 0


def test_png_has_no_click_hint_or_screen_title(view, tmp_path):
    """The on-screen title and hint would widen the top band: compare with a bare view."""
    export_picture(view, str(tmp_path / "hinted.png"), "white", "")
    view.set_click_hint(False)
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights", title="")
    hh.settle()
    export_picture(view, str(tmp_path / "bare.png"), "white", "")
    assert QImage(str(tmp_path / "hinted.png")) == QImage(str(tmp_path / "bare.png"))
    assert view.click_hint_shown() is False


def test_svg_cells_stay_sharp_when_rendered_large(view, tmp_path):
    """Rendered at 4x, a cell's middle is one flat colour (a rectangle, not a blurred raster)."""
    path = tmp_path / "seed.svg"
    export_picture(view, str(path), "white", "")
    root = parse(path)
    x0, y0, _w, _h = view_box(root)
    image = render(path, scale=4)
    rect = next(r for r in cell_rects(root) if r.get("fill"))
    area = QRectF(float(rect.get("x")) - x0, float(rect.get("y")) - y0, 10, 10)
    colours = {
        image.pixel(round(4 * area.x()) + dx, round(4 * area.y()) + dy)
        for dx in range(2, 38)
        for dy in range(2, 38)
    }
    assert len(colours) == 1


@pytest.mark.parametrize("scale", [1.0, 1.37, 2.5])
def test_no_seams_between_cells_at_any_zoom(view, tmp_path, scale):
    """Equal weights: every pixel over the matrix has the one cell colour (no lighter lines)."""
    n = 40
    view.set_matrix(np.full((n, n), 1 / n), hh.tokens(n), hh.tokens(n), kind="weights")
    hh.settle()
    path = tmp_path / "flat.svg"
    export_picture(view, str(path), "white", "")
    root = parse(path)
    x0, y0, _w, _h = view_box(root)
    cells = cell_rects(root)
    colour = QColor(cells[0].get("fill"))
    left = min(float(r.get("x")) for r in cells) - x0
    top = min(float(r.get("y")) for r in cells) - y0
    right = max(float(r.get("x")) + float(r.get("width")) for r in cells) - x0
    bottom = max(float(r.get("y")) + float(r.get("height")) for r in cells) - y0
    image = render(path, scale)
    off = {
        (x, y)
        for x in range(int(scale * left) + 2, int(scale * right) - 2, 3)
        for y in range(int(scale * top) + 2, int(scale * bottom) - 2)
        if image.pixelColor(x, y).rgb() != colour.rgb()
    }
    assert not off, sorted(off)[:5]


def test_dark_theme_exports_on_white_with_the_light_colours(view, tmp_path):
    view.setPalette(hh.dark_palette())
    scores = np.array([[2.0, -4.0], [0.0, 1.0]])
    view.set_matrix(scores, ["a", "b"], ["c", "d"], kind="scores")
    hh.settle()
    path = tmp_path / "dark.svg"
    export_picture(view, str(path), "white", "T")
    root = parse(path)
    cells = sorted(cell_rects(root), key=lambda r: (float(r.get("y")), float(r.get("x"))))
    # the light theme's diverging map (white middle), not the dark one's black middle
    assert hex_rgb(cells[2].get("fill")) in lut_colours("CET-D1", 0.0, -4.0, 4.0)
    labels = [t for t in texts(root) if t.text in {"a", "b", "c", "d", "T", "score"}]
    assert labels and {t.get("fill") for t in labels} == {"#000000"}  # dark text on white
    assert view.colorbar.colorMap().name == "CET-D4"  # the screen keeps its dark map
    export_picture(view, str(tmp_path / "dark.png"), "white", "")
    image = QImage(str(tmp_path / "dark.png"))
    light_middle = lut_colours("CET-D1", 0.0, -4.0, 4.0)  # the 0 score's cell colour
    found = sum(
        hh.rgb(image.pixelColor(x, y)) in light_middle
        for x in range(0, image.width(), 4)
        for y in range(0, image.height(), 4)
    )
    assert found > 500  # the white-middle map in the PNG too
