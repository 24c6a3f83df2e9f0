"""View → Number precision: one setting for the tables, the heatmap's cells and the pipeline.

The choice lives in the view state (`ViewState.precision`), is remembered in the
window's QSettings ("view/precision") and reaches every view through
`precisionChanged`: the input and result tables (their columns re-fit), the heatmap
and the all-heads grid (their cell texts, hover readout) and the pipeline (which
follows the view state itself).
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QMenuBar

from selfattn.numbers import DEFAULT_PRECISION, PRECISION_TITLES, PRECISIONS

from .heatmap import HeatmapBase
from .table_view import MatrixTableView
from .view_state import ViewState

SETTING = "view/precision"


class _Tables(Protocol):
    @property
    def tables(self) -> dict[str, MatrixTableView]: ...


class PrecisionHost(Protocol):
    """What the window offers (no import of the window back; read-only, so covariant)."""

    @property
    def settings(self) -> QSettings: ...
    @property
    def view_state(self) -> ViewState: ...
    @property
    def inputs_panel(self) -> _Tables: ...
    @property
    def results_panel(self) -> _Tables: ...
    @property
    def heatmap(self) -> HeatmapBase: ...
    @property
    def all_heads(self) -> HeatmapBase: ...

    def menuBar(self) -> QMenuBar: ...  # noqa: N802 (Qt's name)


def saved_precision(settings: QSettings) -> str:
    """The remembered precision, or the default when none (or an unknown one) is stored."""
    value = settings.value(SETTING, DEFAULT_PRECISION, type=str)
    return value if value in PRECISIONS else DEFAULT_PRECISION


def install_precision_menu(window: PrecisionHost) -> QActionGroup:
    """Add View → Number precision ▸ and make every number view follow the view state."""
    state = window.view_state
    state.set_precision(saved_precision(window.settings))
    for view in (*window.inputs_panel.tables.values(), *window.results_panel.tables.values()):
        view.follow_precision(state)
    for heatmap in (window.heatmap, window.all_heads):
        heatmap.set_precision(state.precision)
        state.precisionChanged.connect(heatmap.set_precision)

    group = QActionGroup(window.menuBar())
    group.setExclusive(True)
    menu = QMenu("Number &precision", window.menuBar())
    menu.setToolTipsVisible(True)
    for precision in PRECISIONS:
        action = QAction(PRECISION_TITLES[precision], group)
        action.setCheckable(True)
        action.setData(precision)
        action.setChecked(precision == state.precision)
        action.setToolTip("Tables, heatmap cells and pipeline; tooltips always hold every digit")
        action.triggered.connect(lambda _checked=False, p=precision: state.set_precision(p))
        menu.addAction(action)

    def remember(precision: str) -> None:
        window.settings.setValue(SETTING, precision)
        for action in group.actions():
            action.setChecked(action.data() == precision)

    state.precisionChanged.connect(remember)
    view_menu = _view_menu(window.menuBar())
    view_menu.addSeparator()
    view_menu.addMenu(menu)
    return group


def _view_menu(bar: QMenuBar) -> QMenu:
    for action in bar.actions():
        menu = action.menu()
        if isinstance(menu, QMenu) and action.text() == "&View":
            return menu
    return bar.addMenu("&View")
