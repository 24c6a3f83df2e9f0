"""The single-matrix view: one head's weights or scores, a colour bar, a title, a click hint."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from .axes import KEY_TITLE, QUERY_TITLE, KeyAxis
from .base import HeatmapBase
from .colors import DIVERGING_COLORMAP, blend, diverging_colormap, palette_colors
from .levels import KINDS, display_mask, matrix_levels
from .matrix_plot import MatrixPlot, cell_readout

CLICK_HINT = "click a cell to explain it"
# After the first click the line stays (the cells do not jump) and says how to move.
NAVIGATION_HINT = "wheel: zoom · drag: pan · double-click: whole matrix"


class HeatmapView(HeatmapBase):
    """One attention matrix: queries down, keys across, a colour bar, a hover readout.

    Setters: ``set_matrix`` (the data, its kind and title), ``select_cell`` (the
    outline), ``set_click_hint``, ``set_colormap``, ``set_weight_range``.
    Signals: ``cellClicked(row, col)``, ``cellHovered(row, col)``.
    """

    cellHovered = Signal(int, int)  # (row, col); (-1, -1) when the mouse leaves the matrix
    cellClicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._plot: pg.PlotItem = self._glw.addPlot(row=0, col=0, axisItems={"top": KeyAxis()})
        # arrows say which way the tokens run, so the titles are not read as labels
        self._plot.setLabel("left", QUERY_TITLE)
        self._plot.setLabel("top", KEY_TITLE)
        self._click_hint = True
        self._no_explain = False  # a generation step: clicks explain nothing
        self._matrix = MatrixPlot(self._plot)
        self._kind = "weights"
        self._title = ""
        self._row_labels: list[str] = []
        self._col_labels: list[str] = []
        self._colorbar = self._new_colour_bar(self._sequential, width=18)
        self._colorbar.setImageItem(self._matrix.image, insert_in=self._plot)
        # In a wide window the matrix would sit at the left with the colour bar stranded
        # at the far right: wide margins narrow the plot to the matrix and centre it.
        self._margins = self._glw.ci.layout.getContentsMargins()  # (left, top, right, bottom)
        self._matrix.vb.sigResized.connect(self._fit_width)
        self.apply_palette()

    # -- public API ------------------------------------------------------------------
    @property
    def image_item(self) -> pg.ImageItem:
        return self._matrix.image

    @property
    def mask_item(self) -> pg.ImageItem:
        return self._matrix.overlay

    @property
    def plot_item(self) -> pg.PlotItem:
        return self._plot

    @property
    def colorbar(self) -> pg.ColorBarItem:
        return self._colorbar

    @property
    def matrix(self) -> MatrixPlot:
        """The plot's items (image, overlay, texts, outline), for tests."""
        return self._matrix

    def kind(self) -> str:
        return self._kind

    def shape(self) -> tuple[int, int] | None:
        return self._matrix.shape

    def cell_texts(self) -> list[str]:
        """Values currently printed in the cells, row by row (empty when hidden)."""
        return self._matrix.texts_shown()

    def set_matrix(
        self,
        values: np.ndarray,
        row_labels: Sequence[str],
        col_labels: Sequence[str],
        *,
        kind: str,
        visible: np.ndarray | None = None,
        title: str = "",
    ) -> None:
        """Draw ``values`` (n, m): 'weights' on 0..1, 'scores' symmetric around 0."""
        values = np.asarray(values)
        if values.ndim != 2:
            raise ValueError(f"a heatmap needs a 2-D matrix, got shape {values.shape}")
        n, m = values.shape
        if len(row_labels) != n or len(col_labels) != m:
            raise ValueError(
                f"{len(row_labels)} row and {len(col_labels)} column labels for a {n} x {m} matrix"
            )
        if visible is not None and np.shape(visible) != (n, m):
            raise ValueError(f"visible has shape {np.shape(visible)}, expected {(n, m)}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind != self._kind or self._matrix.shape is None:
            self._kind = kind
            self._use_colormap(self._colormap_for(kind))
        mask = display_mask(values, visible)
        self._levels = matrix_levels(kind, values, mask, self._weight_range)
        self._row_labels = [str(s) for s in row_labels]
        self._col_labels = [str(s) for s in col_labels]
        self._matrix.set_data(
            values,
            self._row_labels,
            self._col_labels,
            visible,
            self._levels,
            self._lut,
            mask=mask,
            kind=kind,
        )
        self._show_levels(kind)
        if title != self._title:
            self._title = title
            self._show_title()
        self._fit_width()

    def set_click_hint(self, shown: bool) -> None:
        """Show the grey "click a cell to explain it" under the title, or (False) the
        zoom hint in its place.

        The window swaps it once the person has clicked a cell: by then they know.
        """
        if bool(shown) != self._click_hint:
            self._click_hint = bool(shown)
            self._show_title()

    def click_hint_shown(self) -> bool:
        return self._click_hint and not self._no_explain

    def set_explainable(self, explainable: bool) -> None:
        """False while the view shows something no click explains (a generation step):
        the hint line then says how to zoom instead of inviting a click."""
        if (not explainable) != self._no_explain:
            self._no_explain = not explainable
            self._show_title()

    def select_cell(self, row: int, col: int) -> None:
        """Outline one cell (the view state's selected cell); (-1, -1) clears."""
        self._matrix.select(row, col)

    def set_highlight(self, rects: Iterable[tuple[int, int, int, int]]) -> None:
        """Outline these (row, col, rows, cols) blocks (app.highlights); none clears."""
        self._matrix.set_highlight(rects)

    def highlighted_cells(self) -> frozenset[tuple[int, int]]:
        return self._matrix.highlighted_cells()

    def selected_cell(self) -> tuple[int, int] | None:
        """The cell outlined now (what ``select_cell`` last drew), or None."""
        return self._matrix.selected

    def hover_text(self, row: int, col: int) -> str:
        """Status-bar readout for a cell, with the full labels and value."""
        return cell_readout(self._matrix, self._row_labels, self._col_labels, row, col)

    def hover_tip(self, row: int, col: int) -> str:
        """Tooltip of a cell: the readout and its full (round-trip) value."""
        return cell_readout(self._matrix, self._row_labels, self._col_labels, row, col, full=True)

    def cell_center(self, row: int, col: int, fx: float = 0.5, fy: float = 0.5) -> QPointF:
        """Where a cell's centre (or the point at fractions fx, fy of it) is on this widget."""
        scene = self._matrix.vb.mapViewToScene(QPointF(col + fx, row + fy))
        viewport = self._glw.viewport()
        return QPointF(viewport.mapTo(self, self._glw.mapFromScene(scene)))

    # -- HeatmapBase -----------------------------------------------------------------
    def _matrix_plots(self) -> Sequence[MatrixPlot]:
        return (self._matrix,)

    def _colour_bar(self) -> pg.ColorBarItem:
        return self._colorbar

    def _redraw(self) -> None:
        m = self._matrix
        if m.values is not None and self._kind == "weights":
            self.set_matrix(
                m.values,
                self._row_labels,
                self._col_labels,
                kind="weights",
                visible=m.visible,
                title=self._title,
            )

    def _shows_sequential(self) -> bool:
        return self._kind == "weights"

    def _palette_changed(self, fg: QColor) -> None:
        self._show_title()
        name = self._colormap_for(self._kind)
        if self._colorbar.colorMap().name != name:  # scores: light or dark middle
            self._use_colormap(name)  # the colour bar recolours the image

    def _cell_under(self, scene_pos: QPointF) -> tuple[int, ...]:
        return self._matrix.cell_at(scene_pos)

    def _clickable_at(self, scene_pos: QPointF) -> bool:
        return self._matrix.cell_at(scene_pos)[0] >= 0  # cells can be clicked

    def _hover_tip(self, cell: tuple[int, ...]) -> str:
        return self.hover_tip(*cell) if cell[0] >= 0 else ""

    def _emit_hovered(self, cell: tuple[int, ...]) -> None:
        self.cellHovered.emit(*cell)

    def _clicked_at(self, scene_pos: QPointF) -> None:
        row, col = self._matrix.cell_at(scene_pos)
        if row >= 0:
            self.cellClicked.emit(row, col)

    @contextlib.contextmanager
    def _clean_for_export(self, background: str | None) -> Iterator[QColor | None]:
        """Also without the on-screen title and click hint: an export brings its own title.

        Scores on white or transparent take the light theme's diverging map (a white
        middle) even in a dark theme; leaving restores the palette's own.
        """
        hint, title = self._click_hint, self._title
        self._click_hint, self._title = False, ""
        self._show_title()
        self._lay_out_for_export()
        try:
            with super()._clean_for_export(background) as fill:
                if fill is not None and self._kind != "weights":
                    self._use_colormap(DIVERGING_COLORMAP)
                    self._refresh_texts()
                yield fill
        finally:
            self._click_hint, self._title = hint, title
            self._show_title()

    # -- layout ------------------------------------------------------------------------
    def _colormap_for(self, kind: str) -> str:
        return self._sequential if kind == "weights" else diverging_colormap(self.palette())

    def _show_title(self) -> None:
        """The title, and under it a hint in a quieter grey, smaller: how to explain a
        cell until the person has clicked one, then how to zoom and get back."""
        bg, fg = palette_colors(self)
        plot = self._plot
        grey = blend(bg, fg, 0.55).name()
        words = CLICK_HINT if self._click_hint and not self._no_explain else NAVIGATION_HINT
        hint = f"<span style='color: {grey}; font-size: 9pt'>{words}</span>"
        text = f"{self._title}<br>{hint}" if self._title else hint
        plot.setTitle(text, color=fg)
        item = plot.titleLabel.item  # centre the two lines on each other
        document = item.document()
        option = document.defaultTextOption()
        option.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        document.setDefaultTextOption(option)
        item.setTextWidth(-1)
        item.setTextWidth(document.idealWidth())
        height = 46 if self._title else 24
        plot.titleLabel.setMaximumHeight(height)
        plot.layout.setRowFixedHeight(0, height)

    def _fit_width(self, *_: object) -> None:
        """Narrow the plot to its matrix when the box is wider than square cells need.

        The extra width becomes equal margins either side, so the matrix, its labels
        and the colour bar stay together in the middle. The height decides the cell
        size then; the width beside the matrix (labels, colour bar) does not depend on
        the plot's width, so the pass that the resize triggers finds the same margins
        and the layout settles at once.
        """
        shape = self._matrix.shape
        vb = self._matrix.vb
        if shape is None or vb.height() <= 1 or vb.width() <= 1:
            return
        n, m = shape
        left, top, right, bottom = self._margins
        others = self._plot.width() - vb.width()  # left axis, colour bar, gaps
        wanted = others + vb.height() * m / n
        room = self._glw.viewport().width() - left - right
        side = math.floor((room - wanted) / 2) if room - wanted >= 2 else 0
        layout = self._glw.ci.layout
        if layout.getContentsMargins() != (left + side, top, right + side, bottom):
            layout.setContentsMargins(left + side, top, right + side, bottom)
            # A narrower view was clamped to the old (wider) margins' minimum width, which
            # pushed the colour bar out of sight: fit the layout to the view again.
            self._glw.ci.setGeometry(self._glw.range)
