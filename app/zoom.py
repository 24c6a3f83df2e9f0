"""View → Zoom in / Zoom out / Actual size: one factor for every font, for a projector.

The factor lives here and nowhere else. Zooming sets the application font once (its
100 % size times the factor); widgets that follow the application font follow it.
The few that cannot are told through a font change they already receive: tables
make their rows taller and re-fit their columns, Explain scales its fixed-width
font, and the heatmap's axis titles, plot titles, tick labels and cell texts follow
on the redraw the window does after `ZoomController.changed`.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSettings, Signal
from PySide6.QtGui import QAction, QFont, QFontDatabase, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QWidget

STEPS = (0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5)  # the factors a person steps through
SETTINGS_KEY = "view/zoom"


class _State(QObject):
    """The one zoom factor of the application, and the signal every window listens to."""

    changed = Signal(float)

    def __init__(self) -> None:
        super().__init__()
        self.factor = 1.0
        self.base_font: QFont | None = None  # the application font at 100 %


_state: _State | None = None


def _the_state() -> _State:
    global _state
    if _state is None:
        _state = _State()
    return _state


def factor() -> float:
    """The zoom factor now (1.0 = actual size)."""
    return _the_state().factor


def scaled_px(px: int) -> int:
    """A size in pixels at 100 %, at the current zoom (row heights and the like)."""
    return max(1, round(px * factor()))


def fixed_font() -> QFont:
    """The system's fixed-width font at the current zoom (Explain's arithmetic)."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    return _scaled(font, factor())


def _scaled(font: QFont, by: float) -> QFont:
    out = QFont(font)
    if font.pointSizeF() > 0:
        out.setPointSizeF(font.pointSizeF() * by)
    elif font.pixelSize() > 0:
        out.setPixelSize(max(1, round(font.pixelSize() * by)))
    return out


def snap(value: object) -> float:
    """The step nearest to `value` (a saved setting may be anything); 1.0 if unreadable."""
    try:
        wanted = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 1.0
    if wanted != wanted:  # NaN
        return 1.0
    return min(STEPS, key=lambda step: abs(step - wanted))


def set_factor(value: float) -> None:
    """Zoom the whole application to `value` (snapped to a step); no-op if unchanged."""
    state = _the_state()
    new = snap(value)
    app = QApplication.instance()
    if new == state.factor or not isinstance(app, QApplication):
        return
    if state.base_font is None:
        state.base_font = QFont(app.font())
    state.factor = new
    app.setFont(_scaled(state.base_font, new))
    # Qt posts the font change to every widget: deliver it now, so that whatever is
    # measured next (columns, rows, the heatmap's labels) measures the new font
    app.sendPostedEvents(None, QEvent.Type.ApplicationFontChange)
    _repolish_style_sheet_widgets(app)
    state.changed.emit(new)


def _repolish_style_sheet_widgets(app: QApplication) -> None:
    """A widget with a style sheet (and everything inside it) keeps the font it had when
    it was polished; polishing again gives it, and its children, the new font."""
    done: set[int] = set()
    for widget in app.allWidgets():
        if not widget.styleSheet():
            continue
        for inner in (widget, *widget.findChildren(QWidget)):
            if id(inner) not in done:
                done.add(id(inner))
                inner.style().unpolish(inner)
                inner.style().polish(inner)


def restore(settings: QSettings) -> None:
    """The saved zoom, before a window builds its widgets (they start at the right size)."""
    set_factor(snap(settings.value(SETTINGS_KEY, 1.0)))


def step(direction: int) -> float:
    """The step after (+1) or before (-1) the current factor, within the steps."""
    index = STEPS.index(factor()) + direction
    return STEPS[min(max(index, 0), len(STEPS) - 1)]


class ZoomController(QObject):
    """A window's zoom actions; restores the saved factor and saves every change.

    `changed` fires after the application font changed (by this window or another),
    so the window redraws what measures text itself (the heatmap).
    """

    changed = Signal(float)

    def __init__(self, window: QMainWindow, settings: QSettings) -> None:
        super().__init__(window)
        self._window = window
        self._settings = settings
        self.action_in = self._action("Zoom &in", +1, ("Ctrl+=", "Ctrl++"))
        self.action_out = self._action("Zoom &out", -1, ("Ctrl+-",))
        self.action_reset = self._action("&Actual size", 0, ("Ctrl+0",))
        _the_state().changed.connect(self._on_changed)  # a QObject slot: gone with the window
        restore(settings)  # done already when the window called restore() first
        if factor() != 1.0:
            self._follow_fonts(factor())  # titles made before the window knew the zoom
        self._enable()

    def _action(self, text: str, direction: int, keys: tuple[str, ...]) -> QAction:
        action = QAction(text, self._window)
        action.setShortcuts([QKeySequence(key) for key in keys])
        tips = {1: "Larger text everywhere", -1: "Smaller text everywhere", 0: "Text at 100 %"}
        action.setStatusTip(f"{tips[direction]} (for a projector; remembered)")
        action.triggered.connect(lambda _checked=False: self.zoom(direction))
        return action

    def actions(self) -> list[QAction]:
        return [self.action_in, self.action_out, self.action_reset]

    def zoom(self, direction: int) -> None:
        """+1 zooms in, -1 out, 0 back to actual size; the factor is saved at once."""
        new = 1.0 if direction == 0 else step(direction)
        set_factor(new)
        self._settings.setValue(SETTINGS_KEY, new)
        self._enable()
        self._window.statusBar().showMessage(f"Zoom {round(new * 100)} %", 3000)

    def _enable(self) -> None:
        now = factor()
        self.action_in.setEnabled(now < STEPS[-1])
        self.action_out.setEnabled(now > STEPS[0])
        self.action_reset.setEnabled(now != 1.0)

    def _on_changed(self, value: float) -> None:
        self._follow_fonts(value)
        self._enable()
        self.changed.emit(value)

    def _follow_fonts(self, value: float) -> None:
        import pyqtgraph as pg

        from .heatmap.axes import follow_application_font  # the heatmap imports this module

        for view in self._window.findChildren(pg.GraphicsView):
            follow_application_font(view.scene(), value)


def install_zoom(window: QMainWindow, settings: QSettings) -> ZoomController:
    """View → Zoom in / Zoom out / Actual size for `window`, at the saved factor."""
    controller = ZoomController(window, settings)
    for action in window.menuBar().actions():
        menu = action.menu()
        if isinstance(menu, QMenu) and action.text() == "&View":
            menu.addSeparator()
            menu.addActions(controller.actions())
    return controller
