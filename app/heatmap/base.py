"""What the single-matrix view and the grid of heads share.

The graphics widget, the colour map and weight range setters, the colour bar's look
and levels, palette changes, mouse tracking (hover, click, pointing hand) and export.
A view holds no selection or mode of its own: the window's view state tells it what
to outline or highlight through its setters, and it reports clicks and hovers as
signals without acting on them.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from .colors import SEQUENTIAL_COLORMAPS, lut, palette_colors
from .export import ensure_laid_out, export_png, export_svg
from .levels import bar_label, check_weight_range, display_scale, tick_unit_exponent
from .matrix_plot import MatrixPlot
from .stale import StaleVeil

# Export backgrounds: None keeps the view's own (its theme's window colour).
EXPORT_BACKGROUNDS: dict[str | None, QColor | None] = {
    None: None,
    "white": QColor(255, 255, 255),
    "transparent": QColor(0, 0, 0, 0),
}


class EventCallback(QObject):
    """Calls back when the watched widget gets one kind of event (after it handled it)."""

    def __init__(self, kind: QEvent.Type, callback: Callable[[], None]) -> None:
        super().__init__()
        self._kind = kind
        self._callback = callback

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # Qt API name
        if event.type() == self._kind:
            self._callback()
        return False


def pointing_hand(glw: pg.GraphicsLayoutWidget, on: bool) -> None:
    """A pointing hand over what can be clicked, the normal arrow elsewhere."""
    viewport = glw.viewport()
    pointing = viewport.cursor().shape() == Qt.CursorShape.PointingHandCursor
    if on and not pointing:
        viewport.setCursor(Qt.CursorShape.PointingHandCursor)
    elif not on and pointing:
        viewport.unsetCursor()


class HeatmapBase(QWidget):
    """A pyqtgraph heatmap widget: colour map, weight range, colour bar, mouse, export.

    Subclasses say which matrix plots and colour bar they have, how to redraw, what
    lies under the mouse and what a click or hover emits.
    """

    EXPORT_SIZE = QSize(800, 600)  # a never-shown view is laid out at this size to export
    NO_CELL: tuple[int, ...] = (-1, -1)  # what ``_cell_under`` returns off every matrix

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._glw = pg.GraphicsLayoutWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._glw)
        self._sequential = SEQUENTIAL_COLORMAPS[0]  # the weights' colour map
        self._lut = lut(self._sequential)  # the lookup table in use
        self._levels = (0.0, 1.0)  # colour levels in true units (float64)
        self._weight_range = "fixed"
        self._hovered = self.NO_CELL
        self._precision: str | None = None  # numbers.PRECISIONS; None: compact cells
        self._glw.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._glw.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self._leave_filter = EventCallback(QEvent.Type.Leave, self._on_leave)
        self._glw.viewport().installEventFilter(self._leave_filter)
        self._stale_veil = StaleVeil(self)

    # -- what subclasses provide -------------------------------------------------------
    def _matrix_plots(self) -> Sequence[MatrixPlot]:
        raise NotImplementedError

    def _colour_bar(self) -> pg.ColorBarItem | None:
        raise NotImplementedError

    def _redraw(self) -> None:
        """Draw the current data again (the weight range changed)."""
        raise NotImplementedError

    def _shows_sequential(self) -> bool:
        """Whether the sequential (weights') colour map is the one in use."""
        return True

    def _palette_changed(self, fg: QColor) -> None:
        """Recolour what only this view has (titles, highlights) for a new palette."""

    def _cell_under(self, scene_pos: QPointF) -> tuple[int, ...]:
        raise NotImplementedError

    def _clickable_at(self, scene_pos: QPointF) -> bool:
        raise NotImplementedError

    def _emit_hovered(self, cell: tuple[int, ...]) -> None:
        raise NotImplementedError

    def _clicked_at(self, scene_pos: QPointF) -> None:
        raise NotImplementedError

    def _hover_tip(self, cell: tuple[int, ...]) -> str:
        """The tooltip over a hovered cell (the full value); "" for none."""
        del cell
        return ""

    # -- public API ----------------------------------------------------------------------
    @property
    def graphics_widget(self) -> pg.GraphicsLayoutWidget:
        return self._glw

    def set_stale(self, stale: bool, note: str = "") -> None:
        """Grey the picture out (with `note`) while new numbers are computed, or show it again."""
        if stale:
            self._stale_veil.show_over(note)
        else:
            self._stale_veil.hide()

    def is_stale(self) -> bool:
        return not self._stale_veil.isHidden()

    def levels(self) -> tuple[float, float]:
        """The colour levels in use, in the values' own units."""
        return self._levels

    def set_weight_range(self, mode: str) -> None:
        """Colour weights on 0..1 ("fixed") or on 0..the largest visible weight ("max").

        Scores are unaffected (always symmetric around 0). Redraws the current data.
        """
        check_weight_range(mode)
        if mode == self._weight_range:
            return
        self._weight_range = mode
        self._redraw()

    def weight_range(self) -> str:
        return self._weight_range

    def set_colormap(self, name: str) -> None:
        """Choose the sequential colour map used for weights."""
        pg.colormap.get(name)  # raises for an unknown name before anything changes
        self._sequential = name
        if self._shows_sequential():
            self._use_colormap(name)
            self._refresh_texts()

    def colormap_name(self) -> str:
        return self._sequential

    def set_precision(self, precision: str | None) -> None:
        """Print cell values at one of numbers.PRECISIONS (None: the compact cells)."""
        if precision != self._precision:
            self._precision = precision
            self._refresh_texts()

    def precision(self) -> str | None:
        return self._precision

    def apply_palette(self, palette: QPalette | None = None) -> None:
        """Take background, text and mask colours from the Qt palette (pyqtgraph does not).

        palette: another palette than the widget's (a light one while exporting).
        """
        if palette is None:
            bg, fg = palette_colors(self)
            palette = self.palette()
        else:
            bg = palette.color(QPalette.ColorRole.Window)
            fg = palette.color(QPalette.ColorRole.WindowText)
        self._glw.setBackground(bg)
        for plot in self._matrix_plots():
            plot.apply_palette(palette)
        bar = self._colour_bar()
        if bar is not None:
            for name in ("left", "right", "top", "bottom"):
                axis = bar.getAxis(name)
                axis.setPen(pg.mkPen(fg))
                axis.setTextPen(pg.mkPen(fg))
        self._palette_changed(fg)
        self._refresh_texts()  # text colours follow the cell colours

    def export_png(
        self, path: str, width_px: int = 1600, background: str | None = None, tight: bool = False
    ) -> None:
        """Write the view and its colour bar as a PNG at least ``width_px`` wide (slides).

        Never with the on-screen selection outline. background: "white" or
        "transparent" (dark text on it whatever the theme), None for the view's own;
        tight: without the empty margins around the drawing.
        """
        self._lay_out_for_export()
        with self._clean_for_export(background) as fill:
            export_png(self._glw, path, width_px, fill, tight)

    def export_svg(self, path: str, background: str | None = None) -> None:
        """Write an SVG (the matrices themselves are embedded as raster images)."""
        self._lay_out_for_export()
        with self._clean_for_export(background) as fill:
            export_svg(self._glw, path, self._matrix_plots(), fill)

    def show_whole(self) -> None:
        """Undo any wheel zoom or drag: every matrix whole again (a double-click)."""
        for plot in self._matrix_plots():
            plot.home()

    @contextlib.contextmanager
    def _clean_for_export(self, background: str | None) -> Iterator[QColor | None]:
        """Hide the selection outline (and use a light palette on white or transparent);
        show every matrix whole, whatever the person zoomed to (the export's resize
        fits the view again afterwards anyway)."""
        if background not in EXPORT_BACKGROUNDS:
            raise ValueError(f"background must be one of {EXPORT_BACKGROUNDS}, not {background!r}")
        self.show_whole()
        selected = [(plot, plot.selected) for plot in self._matrix_plots()]
        fill = EXPORT_BACKGROUNDS[background]
        for plot, _cell in selected:
            plot.select(-1, -1)
        if fill is not None:
            light = QPalette(self.palette())
            light.setColor(QPalette.ColorRole.Window, QColor(255, 255, 255))
            light.setColor(QPalette.ColorRole.WindowText, QColor(0, 0, 0))
            self.apply_palette(light)
            self._glw.setBackground(fill)
        try:
            yield fill
        finally:
            for plot, cell in selected:
                if cell is not None:
                    plot.select(*cell)
            if fill is not None:
                self.apply_palette()

    # -- shared machinery ----------------------------------------------------------------
    def _new_colour_bar(self, name: str, width: int) -> pg.ColorBarItem:
        scale = display_scale(self._levels)
        return pg.ColorBarItem(
            values=(self._levels[0] * scale, self._levels[1] * scale),
            colorMap=pg.colormap.get(name),
            interactive=False,
            width=width,
            colorMapMenu=False,
        )

    def _use_colormap(self, name: str) -> None:
        """Colour the image(s) and the colour bar with colour map ``name``."""
        self._lut = lut(name)
        bar = self._colour_bar()
        if bar is not None:
            bar.setColorMap(pg.colormap.get(name))

    def _show_levels(self, kind: str) -> None:
        """Put ``self._levels`` on the colour bar, which hands them to its images.

        The images hold display copies (values times a power of two, see
        ``levels.display_scale``): the bar gets display levels and its ticks are
        scaled back, so it reads true values.
        """
        bar = self._colour_bar()
        if bar is None:
            return
        scale = display_scale(self._levels)
        shown = (self._levels[0] * scale, self._levels[1] * scale)
        if tuple(bar.levels()) != shown:
            bar.setLevels(shown)
        unit = tick_unit_exponent(self._levels)
        tick_scale = math.ldexp(1.0 / scale, -unit)  # ticks read true values / 2**unit
        if bar.axis.scale != tick_scale:
            bar.axis.setScale(tick_scale)
        label = bar_label(kind, self._weight_range, unit)
        if bar.getAxis("left").labelText != label:
            bar.getAxis("left").setLabel(label)

    def _refresh_texts(self) -> None:
        """Recolour (and refit) the cell texts after a colour, palette or precision change."""
        for plot in self._matrix_plots():  # also panels built since the precision was set
            plot.set_precision(self._precision)
        plots = [p for p in self._matrix_plots() if p.values is not None]
        for plot in plots:
            plot.update_texts(self._lut, self._levels, fit=False)
        if plots:
            plots[0].fit_texts()  # peers fit together: one format, one size

    def _lay_out_for_export(self) -> None:
        ensure_laid_out(self._glw, self.EXPORT_SIZE)

    # -- events --------------------------------------------------------------------------
    def changeEvent(self, event: QEvent) -> None:  # Qt API name
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_palette()
        super().changeEvent(event)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        pointing_hand(self._glw, self._clickable_at(scene_pos))
        cell = self._cell_under(scene_pos)
        if cell != self._hovered:
            self._hovered = cell
            self._glw.viewport().setToolTip(self._hover_tip(cell))
            self._emit_hovered(cell)

    def _on_leave(self) -> None:
        pointing_hand(self._glw, False)
        if self._hovered != self.NO_CELL:
            self._hovered = self.NO_CELL
            self._glw.viewport().setToolTip("")
            self._emit_hovered(self.NO_CELL)

    def _on_mouse_clicked(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return
        if event.double():  # type: ignore[attr-defined]
            self.show_whole()
            return
        self._clicked_at(event.scenePos())  # type: ignore[attr-defined]
