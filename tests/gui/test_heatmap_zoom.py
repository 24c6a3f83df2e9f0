"""Wheel zoom on the heatmap: a double-click shows the whole matrix again, and exports
always show the whole matrix whatever the person zoomed to."""

from __future__ import annotations

from pathlib import Path

import heatmap_helpers as hh
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from app.heatmap import HeatmapView
from app.heatmap.single import CLICK_HINT, NAVIGATION_HINT
from app.heatmap.slides import export_picture


@pytest.fixture
def view(qtbot) -> HeatmapView:
    widget = hh.shown_view(qtbot)
    widget.set_matrix(
        hh.SEED_WEIGHTS, hh.SEED_TOKENS, hh.SEED_TOKENS, kind="weights", title="Weights"
    )
    hh.settle()
    return widget


def _zoom_in(view: HeatmapView) -> None:
    vb = view.plot_item.getViewBox()
    vb.scaleBy((0.3, 0.3), center=(0.5, 0.5))  # what a few wheel steps do
    hh.settle()


def _range(view: HeatmapView) -> np.ndarray:
    return np.array(view.plot_item.getViewBox().viewRange())


def test_a_double_click_shows_the_whole_matrix_again(view: HeatmapView) -> None:
    whole = _range(view)
    _zoom_in(view)
    assert not np.allclose(_range(view), whole)
    viewport, pos = view.graphics_widget.viewport(), hh.viewport_pos(view, 0.5, 0.5)
    # pyqtgraph reports a click on release: press-release, then the double click's own
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=pos)
    QTest.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=pos)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=pos)
    hh.settle()
    assert np.allclose(_range(view), whole)


def test_an_export_shows_the_whole_matrix_whatever_the_zoom(
    view: HeatmapView, tmp_path: Path
) -> None:
    export_picture(view, str(tmp_path / "whole.png"))
    hh.settle()
    whole = _range(view)
    _zoom_in(view)
    assert not np.allclose(_range(view), whole)
    export_picture(view, str(tmp_path / "zoomed.png"))
    a, b = QImage(str(tmp_path / "whole.png")), QImage(str(tmp_path / "zoomed.png"))
    assert a.size() == b.size()
    assert a == b  # the same picture, pixel for pixel


def test_the_hint_line_stays_after_the_first_click(view: HeatmapView) -> None:
    title = view.plot_item.titleLabel
    assert CLICK_HINT in title.text
    height = view.plot_item.getViewBox().height()
    view.set_click_hint(False)
    hh.settle()
    assert NAVIGATION_HINT in title.text and CLICK_HINT not in title.text
    assert view.plot_item.getViewBox().height() == height  # the cells do not jump
