"""The grid of heads: every head's weights side by side, one colour bar for them all."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QSize, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from .axes import KEY_TITLE, QUERY_TITLE, KeyAxis
from .base import EventCallback, HeatmapBase
from .colors import palette_colors
from .layout import best_grid
from .levels import WEIGHT_EPS, bar_label, display_mask, visible_max
from .matrix_plot import MatrixPlot, cell_readout


class AllHeadsView(HeatmapBase):
    """Every head's weights in a grid sized to make the tiles large, one shared colour bar.

    The grid's rows x columns are chosen for the widget's shape (re-chosen on resize);
    rows and columns get exact pixel sizes so every tile has the same cells, and the
    colour bar spans exactly the block of tiles. Token labels only along the top row
    and the left column; one "key →" and one "query" title for the whole grid.

    Setters: ``set_heads`` (the data), ``select_head`` (the highlighted head),
    ``set_colormap``, ``set_weight_range``. Signals: ``headClicked(head)``,
    ``headCellHovered(head, row, col)``.
    """

    headClicked = Signal(int)  # 0-based head index
    headCellHovered = Signal(int, int, int)  # (head, row, col); all -1 off the matrices
    TITLE_H = 30  # a PlotItem's title row (pyqtgraph fixes it at 30 px)
    PLOT_MARGIN = 1  # a PlotItem's layout margin on each side
    SPACING_X = 14  # between columns: one tile's last key label, the next tile's first
    SPACING_Y = 6  # between rows (the head titles separate them)
    MARGIN = 6  # around the grid (more where it is centred)
    KEY_TITLE_H = 20
    QUERY_TITLE_W = 20
    BAR_W = 80  # the colour bar with its axis and title
    EXPORT_SIZE = QSize(1000, 600)
    NO_CELL = (-1, -1, -1)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._panels: list[MatrixPlot] = []
        self._colorbar: pg.ColorBarItem | None = None
        self._key_title: pg.LabelItem | None = None
        self._query_title: pg.LabelItem | None = None
        self._grid = (0, 0)  # (rows, columns) of tiles
        self._weights: np.ndarray | None = None
        self._visible: np.ndarray | None = None
        self._selected = -1
        self._row_labels: list[str] = []
        self._col_labels: list[str] = []
        self._laying_out = False
        self._glw.ci.layout.setHorizontalSpacing(self.SPACING_X)
        self._glw.ci.layout.setVerticalSpacing(self.SPACING_Y)
        self._resize_filter = EventCallback(QEvent.Type.Resize, self._relayout)
        self._glw.installEventFilter(self._resize_filter)
        self._relayout_timer = QTimer(self)  # coalesces relayouts asked for mid-layout
        self._relayout_timer.setSingleShot(True)
        self._relayout_timer.setInterval(0)
        self._relayout_timer.timeout.connect(self._relayout)
        self.apply_palette()

    @property
    def panels(self) -> list[MatrixPlot]:
        return self._panels

    @property
    def colorbar(self) -> pg.ColorBarItem | None:
        return self._colorbar

    def grid(self) -> tuple[int, int]:
        """(rows, columns) of the tiles."""
        return self._grid

    def set_heads(
        self,
        weights: np.ndarray,
        row_labels: Sequence[str],
        col_labels: Sequence[str],
        visible: np.ndarray | None = None,
    ) -> None:
        """Draw (H, n, m) weights; items are rebuilt only when H (or the grid) changes."""
        weights = np.asarray(weights)
        if weights.ndim != 3:
            raise ValueError(f"all-heads view needs (H, n, m) weights, got shape {weights.shape}")
        heads, n, m = weights.shape
        if len(row_labels) != n or len(col_labels) != m:
            raise ValueError(
                f"{len(row_labels)} row and {len(col_labels)} column labels for {n} x {m} heads"
            )
        self._row_labels = [str(s) for s in row_labels]
        self._col_labels = [str(s) for s in col_labels]
        self._weights, self._visible = weights, visible
        if heads != len(self._panels):
            self._build(heads, *self._choose_grid()[:2])
        self._fill()
        self._relayout()

    def _fill(self) -> None:
        """Hand every panel its head's weights (after set_heads or a rebuild)."""
        weights, visible = self._weights, self._visible
        if weights is None:
            return
        heads = weights.shape[0]
        masks = [display_mask(weights[h], visible) for h in range(heads)]
        levels = (0.0, 1.0)
        if self._weight_range == "max":  # one colour bar: the largest weight of any head
            top = max((visible_max(weights[h], masks[h]) for h in range(heads)), default=0.0)
            levels = (0.0, max(top, WEIGHT_EPS))
        self._levels = levels
        cols = max(self._grid[1], 1)
        for h, panel in enumerate(self._panels):
            panel.set_data(
                weights[h],
                self._row_labels,
                self._col_labels,
                visible,
                levels,
                self._lut,
                show_row_ticks=h % cols == 0,
                show_col_ticks=h < cols,
                mask=masks[h],
                fit=False,
            )
        if self._panels:
            self._panels[0].fit_texts()  # all panels at once: one format, one size
        self._show_levels("weights")

    # -- layout ----------------------------------------------------------------------
    def _label_room(self) -> tuple[float, float]:
        """(left label width, top label height) of the first tile, as last sized."""
        if not self._panels:
            return (0.0, 0.0)
        plot = self._panels[0].plot
        left, top = plot.getAxis("left"), plot.getAxis("top")
        return (float(left.fixedWidth or 0), float(top.fixedHeight or 0))

    def _choose_grid(self) -> tuple[int, int, float]:
        if self._weights is None:
            return (0, 0, 0.0)
        heads, n, m = self._weights.shape
        size = self._glw.size()
        left_w, top_h = self._label_room()
        if not self._panels:  # first build: about one line of labels each way
            left_w, top_h = 40.0, 20.0
        sx, sy, pm = self.SPACING_X, self.SPACING_Y, self.PLOT_MARGIN
        return best_grid(
            heads,
            n,
            m,
            size.width(),
            size.height(),
            fixed_w=2 * self.MARGIN + self.QUERY_TITLE_W + self.BAR_W + sx + left_w,
            fixed_h=2 * self.MARGIN + self.KEY_TITLE_H + top_h,
            tile_w=2 * pm + sx,
            tile_h=2 * pm + self.TITLE_H + sy,
        )

    def _relayout_soon(self) -> None:
        """Relayout once control is back in the event loop.

        Asked for when a tile's key labels turn or grow, which happens inside a view
        box's range signal: rebuilding the grid there would delete the emitting item.
        """
        self._relayout_timer.start()

    def _relayout(self) -> None:
        """Pick the grid for the current size and give rows and columns exact sizes."""
        if self._laying_out or not self._panels or self._weights is None:
            return
        self._laying_out = True
        try:
            rows, cols, cell = self._choose_grid()
            if (rows, cols) != self._grid:
                self._build(len(self._panels), rows, cols)
                self._fill()
                rows, cols, cell = self._choose_grid()
            self._apply_sizes(rows, cols, max(cell, 1.0))
        finally:
            self._laying_out = False

    def _apply_sizes(self, rows: int, cols: int, cell: float) -> None:
        assert self._weights is not None
        _, n, m = self._weights.shape
        left_w, top_h = self._label_room()
        pm, sx, sy = self.PLOT_MARGIN, self.SPACING_X, self.SPACING_Y
        layout = self._glw.ci.layout
        tile_w, tile_h = cell * m, cell * n
        layout.setRowFixedHeight(0, self.KEY_TITLE_H)
        layout.setColumnFixedWidth(0, self.QUERY_TITLE_W)
        for r in range(rows):
            layout.setRowFixedHeight(
                1 + r, 2 * pm + self.TITLE_H + (top_h if r == 0 else 0) + tile_h
            )
        for c in range(cols):
            layout.setColumnFixedWidth(1 + c, 2 * pm + (left_w if c == 0 else 0) + tile_w)
        layout.setColumnFixedWidth(1 + cols, self.BAR_W)
        if self._colorbar is not None:  # the bar runs from the first tile's top to the last's
            self._colorbar.layout.setContentsMargins(0, pm + self.TITLE_H + top_h, 0, pm)
        used_w = self.QUERY_TITLE_W + self.BAR_W + left_w + cols * (2 * pm + tile_w)
        used_w += (cols + 1) * sx
        used_h = self.KEY_TITLE_H + top_h + rows * (2 * pm + self.TITLE_H + tile_h) + rows * sy
        size = self._glw.size()
        side = max(self.MARGIN, (size.width() - used_w) / 2)
        top = max(self.MARGIN, (size.height() - used_h) / 2)
        if layout.getContentsMargins() != (side, top, side, top):
            layout.setContentsMargins(side, top, side, top)

    def _build(self, heads: int, rows: int = 0, cols: int = 0) -> None:
        self._glw.clear()
        self._panels = []
        self._colorbar = None
        self._key_title = self._query_title = None
        self._grid = (rows, cols)
        layout = self._glw.ci.layout
        for k in range(layout.rowCount()):  # sizes of a previous grid
            layout.setRowFixedHeight(k, 0)
        for k in range(layout.columnCount()):
            layout.setColumnFixedWidth(k, 0)
        if heads == 0 or rows == 0 or cols == 0:
            self._grid = (0, 0)
            return
        fg = palette_colors(self)[1]
        self._key_title = pg.LabelItem(KEY_TITLE, color=fg)
        self._glw.addItem(self._key_title, row=0, col=1, colspan=cols)
        self._query_title = pg.LabelItem(QUERY_TITLE, color=fg, angle=-90)
        self._glw.addItem(self._query_title, row=1, col=0, rowspan=rows)
        for h in range(heads):
            plot = self._glw.addPlot(
                row=1 + h // cols, col=1 + h % cols, axisItems={"top": KeyAxis()}
            )
            plot.setTitle(f"head {h + 1}", color=fg)
            panel = MatrixPlot(plot, max_ticks=12)
            panel.apply_palette(self.palette())
            panel.on_axes_resized = self._relayout_soon
            self._panels.append(panel)
        for panel in self._panels:
            panel.peers = tuple(self._panels)
        self._colorbar = self._new_colour_bar(self._sequential, width=14)
        self._colorbar.setImageItem([p.image for p in self._panels])
        self._glw.addItem(self._colorbar, row=1, col=1 + cols, rowspan=rows)
        self._colorbar.getAxis("left").setLabel(bar_label("weights", self._weight_range))
        selected, self._selected = self._selected, -1
        self.apply_palette()
        if 0 <= selected < heads:
            self.select_head(selected)

    def select_head(self, head: int) -> None:
        """Mark the head the single-matrix view shows (highlight colour, underlined).

        The title text keeps its width: a bolder or longer title would widen its
        column of the grid and make that panel's cells bigger than the others.
        """
        self._selected = head
        fg = palette_colors(self)[1]
        highlight = self.palette().color(QPalette.ColorRole.Highlight)
        for h, panel in enumerate(self._panels):
            label = f"head {h + 1}"
            if h == head:
                panel.plot.setTitle(f"<u>{label}</u>", color=highlight)
            else:
                panel.plot.setTitle(label, color=fg)

    def selected_head(self) -> int:
        return self._selected

    def _lay_out_for_export(self) -> None:
        super()._lay_out_for_export()
        self._relayout()  # a hidden widget's resize does not reach the resize filter
        super()._lay_out_for_export()

    @contextlib.contextmanager
    def _clean_for_export(self, background: str | None) -> Iterator[QColor | None]:
        """Also without the selected head's highlight: it marks the screen's choice."""
        selected = self._selected
        self.select_head(-1)
        try:
            with super()._clean_for_export(background) as fill:
                yield fill
        finally:
            self.select_head(selected)

    # -- HeatmapBase -------------------------------------------------------------------
    def _matrix_plots(self) -> Sequence[MatrixPlot]:
        return self._panels

    def _colour_bar(self) -> pg.ColorBarItem | None:
        return self._colorbar

    def _redraw(self) -> None:
        self._fill()

    def _palette_changed(self, fg: QColor) -> None:
        for title in (self._key_title, self._query_title):
            if title is not None:
                title.setText(title.text, color=fg)
        if self._panels:
            self.select_head(self._selected)

    def hover_text(self, head: int, row: int, col: int) -> str:
        """Status-bar readout for one head's cell: "head 2: query 'a' → key 'b': 0.25"."""
        if not 0 <= head < len(self._panels):
            return ""
        text = cell_readout(self._panels[head], self._row_labels, self._col_labels, row, col)
        return f"head {head + 1}: {text}" if text else ""

    def cell_at(self, scene_pos: QPointF) -> tuple[int, int, int]:
        """(head, row, col) under a scene position, or (-1, -1, -1) off every matrix."""
        head = self.head_at(scene_pos)
        if head < 0:
            return (-1, -1, -1)
        row, col = self._panels[head].cell_at(scene_pos)
        return (head, row, col) if row >= 0 else (-1, -1, -1)

    def _cell_under(self, scene_pos: QPointF) -> tuple[int, ...]:
        return self.cell_at(scene_pos)

    def _clickable_at(self, scene_pos: QPointF) -> bool:
        return self.head_at(scene_pos) >= 0  # a click anywhere on a tile picks the head

    def _emit_hovered(self, cell: tuple[int, ...]) -> None:
        self.headCellHovered.emit(*cell)

    def head_at(self, scene_pos: QPointF) -> int:
        for h, panel in enumerate(self._panels):
            if panel.plot.sceneBoundingRect().contains(scene_pos):
                return h
        return -1

    def _clicked_at(self, scene_pos: QPointF) -> None:
        head = self.head_at(scene_pos)
        if head >= 0:
            self.headClicked.emit(head)
