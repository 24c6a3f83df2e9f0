"""Hover, click and outline; colour maps and palettes; PNG and SVG export."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from pathlib import Path

import heatmap_helpers as hh
import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication

from app.heatmap import (
    SEQUENTIAL_COLORMAPS,
    HeatmapView,
)


@pytest.fixture
def view(qtbot) -> HeatmapView:
    return hh.shown_view(qtbot)


# -- hover, click, selection -----------------------------------------------------------


def test_hover_emits_row_and_column_under_the_mouse(view: HeatmapView, qtbot) -> None:
    view.set_matrix(np.eye(2, 3), ["q0", "q1"], ["k0", "k1", "k2"], kind="weights")
    hh.settle()
    seen: list[tuple[int, int]] = []
    view.cellHovered.connect(lambda r, c: seen.append((r, c)))
    hh.move_mouse(view.graphics_widget, hh.viewport_pos(view, 1.5, 2.5))
    hh.move_mouse(view.graphics_widget, hh.viewport_pos(view, 0.5, 0.5))
    hh.move_mouse(view.graphics_widget, hh.viewport_pos(view, 0.5, 3.6))  # right of the matrix
    QApplication.sendEvent(view.graphics_widget.viewport(), QEvent(QEvent.Type.Leave))
    assert seen == [(1, 2), (0, 0), (-1, -1)]


def test_leaving_the_widget_reports_no_cell(view: HeatmapView) -> None:
    view.set_matrix(np.eye(2), ["a", "b"], ["x", "y"], kind="weights")
    hh.settle()
    seen: list[tuple[int, int]] = []
    view.cellHovered.connect(lambda r, c: seen.append((r, c)))
    hh.move_mouse(view.graphics_widget, hh.viewport_pos(view, 1.5, 0.5))
    QApplication.sendEvent(view.graphics_widget.viewport(), QEvent(QEvent.Type.Leave))
    assert seen == [(1, 0), (-1, -1)]


def test_click_emits_the_cell(view: HeatmapView, qtbot) -> None:
    view.set_matrix(np.eye(3), hh.tokens(3), hh.tokens(3), kind="weights")
    hh.settle()
    with qtbot.waitSignal(view.cellClicked, timeout=1000) as blocker:
        qtbot.mouseClick(
            view.graphics_widget.viewport(),
            Qt.MouseButton.LeftButton,
            pos=hh.viewport_pos(view, 2.5, 1.5),
        )
    assert blocker.args == [2, 1]


def test_pointing_hand_over_cells_only(view: HeatmapView) -> None:
    view.set_matrix(np.eye(3), hh.tokens(3), hh.tokens(3), kind="weights")
    hh.settle()
    viewport = view.graphics_widget.viewport()
    hand = Qt.CursorShape.PointingHandCursor
    assert viewport.cursor().shape() != hand
    hh.move_mouse(view.graphics_widget, hh.viewport_pos(view, 1.5, 1.5))
    assert viewport.cursor().shape() == hand
    hh.move_mouse(
        view.graphics_widget, hh.viewport_pos(view, 1.5, 3.8)
    )  # right of the matrix: nothing to click
    assert viewport.cursor().shape() == Qt.CursorShape.ArrowCursor
    hh.move_mouse(view.graphics_widget, hh.viewport_pos(view, 0.5, 0.5))
    QApplication.sendEvent(viewport, QEvent(QEvent.Type.Leave))
    assert viewport.cursor().shape() == Qt.CursorShape.ArrowCursor


def test_click_hint_under_the_title_until_hidden(view: HeatmapView) -> None:
    view.set_matrix(
        hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights", title="Weights"
    )
    hh.settle()
    title = view.plot_item.titleLabel
    assert view.click_hint_shown()
    assert "Weights" in title.text and "click a cell to explain it" in title.text
    view.set_click_hint(False)  # after the first click: the zoom hint takes the line
    hh.settle()
    assert not view.click_hint_shown()
    assert "Weights" in title.text and "click a cell" not in title.text
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights", title="Other")
    assert "click a cell" not in title.text  # stays hidden across updates
    view.set_click_hint(True)
    assert "click a cell" in title.text and "Other" in title.text


def test_click_hint_is_grey(view: HeatmapView) -> None:
    view.set_matrix(np.eye(2), ["a", "b"], ["x", "y"], kind="weights", title="T")
    text = view.plot_item.titleLabel.text
    hint_colour = text.split("click a cell")[0].rsplit("color: ", 1)[1][:7]
    grey = QColor(hint_colour)
    assert grey.red() == grey.green() == grey.blue()  # a grey between window and text
    assert 60 < grey.lightness() < 200


def test_hover_text_names_tokens_and_value(view: HeatmapView) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    assert view.hover_text(1, 2) == "query 'input_2' → key 'input_3': 0.0903"
    assert view.hover_text(5, 0) == ""


def test_select_cell_outlines_that_cell(view: HeatmapView) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    view.select_cell(1, 2)
    outline = view.matrix.select_inner
    assert outline.isVisible()
    rect = outline.rect()
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == (2, 1, 1, 1)
    # rendered: the outline is black/white at the cell's edge, not the cell colour
    edge = hh.rgb(hh.pixel(view, 1, 2, fx=0.5, fy=0.0))
    assert edge in {(0, 0, 0), (255, 255, 255)}
    view.select_cell(-1, -1)
    assert not outline.isVisible() and view.selected_cell() is None


# -- colour maps and palette -----------------------------------------------------------


def test_sequential_colormaps_exist_offline() -> None:
    for name in SEQUENTIAL_COLORMAPS:
        assert pg.colormap.get(name) is not None


def test_set_colormap_recolours_weights(view: HeatmapView) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    view.set_colormap("inferno")
    got = hh.rgb(hh.pixel(view, 1, 1, 0.15, 0.15))
    assert hh.close(got, hh.expected_rgb("inferno", hh.SEED_WEIGHTS[1, 1], 0.0, 1.0))
    with pytest.raises(Exception):  # noqa: B017 (pyqtgraph raises FileNotFoundError)
        view.set_colormap("no-such-map")
    assert view.colormap_name() == "inferno"


def test_dark_palette_gives_dark_plot(qtbot) -> None:
    widget = HeatmapView()
    qtbot.addWidget(widget)
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor(30, 30, 30))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(220, 220, 220))
    widget.setPalette(palette)
    widget.set_matrix(np.eye(2), ["a", "b"], ["x", "y"], kind="weights")
    assert widget.graphics_widget.backgroundBrush().color() == QColor(30, 30, 30)
    text_pen = widget.plot_item.getAxis("left").textPen()
    assert text_pen.color() == QColor(220, 220, 220)


# -- export ----------------------------------------------------------------------------


def test_export_png_and_svg(view: HeatmapView, tmp_path: Path) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    view.export_png(str(tmp_path / "w.png"))
    image = hh.check_png(tmp_path / "w.png", 1600)
    # the picture is not blank: it contains viridis colours of the cells
    colours = {
        image.pixelColor(x, y).rgb()
        for x in range(0, image.width(), 37)
        for y in range(0, image.height(), 37)
    }
    assert len(colours) > 5
    view.export_svg(str(tmp_path / "w.svg"))
    hh.check_svg(tmp_path / "w.svg")


def _white_rows(image: QImage, center: QPointF, half: float) -> int:
    """How many pixel rows near a cell centre hold pure-white glyph pixels."""
    cx, cy, h = round(center.x()), round(center.y()), round(half)
    return sum(
        any(image.pixelColor(x, y) == QColor(255, 255, 255) for x in range(cx - h, cx + h))
        for y in range(cy - h, cy + h)
    )


def test_png_export_scales_the_cell_text_with_the_picture(
    view: HeatmapView, tmp_path: Path
) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    hh.settle()
    vb = view.plot_item.getViewBox()
    scene_center = vb.mapViewToScene(QPointF(0.5, 1.5))  # 0.00089: white text on purple
    cell_h = (vb.mapViewToScene(QPointF(0, 2)) - vb.mapViewToScene(QPointF(0, 1))).y()
    on_screen = _white_rows(view.grab().toImage(), view.cell_center(1, 0), cell_h / 3)
    width = view.graphics_widget.scene().sceneRect().width()
    view.export_png(str(tmp_path / "big.png"), width_px=round(2 * width))
    image = QImage(str(tmp_path / "big.png"))
    factor = image.width() / width
    exported = _white_rows(image, scene_center * factor, factor * cell_h / 3)
    assert on_screen > 5
    assert exported == pytest.approx(2 * on_screen, rel=0.3)  # redrawn larger, not 1:1


def test_svg_embeds_a_sharp_raster_of_a_small_matrix(view: HeatmapView, tmp_path: Path) -> None:
    view.set_matrix(hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights")
    view.export_svg(str(tmp_path / "w.svg"))
    root = ET.parse(tmp_path / "w.svg").getroot()
    widths = []
    for el in root.iter():
        if el.tag.endswith("image"):
            href = el.get("{http://www.w3.org/1999/xlink}href") or el.get("href") or ""
            data = base64.b64decode(href.split(",", 1)[1])
            widths.append(QImage.fromData(data).width())
    # a 3 x 3 matrix as a 3 x 3 raster would be smoothed into a blur by SVG viewers
    assert max(widths) >= 512
    # and the on-screen image is back to one pixel per cell afterwards
    assert view.image_item.image.shape == (3, 3)
    text = (tmp_path / "w.svg").read_text(encoding="utf-8")
    assert 'width="100%"' not in text


def test_export_from_a_never_shown_view(qtbot, tmp_path: Path) -> None:
    widget = HeatmapView()
    qtbot.addWidget(widget)
    causal = np.tril(np.ones((3, 3), dtype=bool))
    widget.set_matrix(
        hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights", visible=causal
    )
    widget.export_png(str(tmp_path / "hidden.png"), width_px=1800)
    image = hh.check_png(tmp_path / "hidden.png", 1800)
    assert image.height() > 600
    widget.export_svg(str(tmp_path / "hidden.svg"))
    hh.check_svg(tmp_path / "hidden.svg")
