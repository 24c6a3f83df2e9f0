"""The Results and Explain docks never shrink below a readable height.

A model session (the layer bar, the generation and atlas docks) could leave the
bottom docks two table rows tall, and the saved window state brought that back at
every start; a 1280 x 720 window showed two rows from the outset. Here both docks
get a minimum height of ROWS table rows (Results) and ROWS text lines (Explain): the
main window's layout keeps every dock at least that tall, so a saved state that
would make them smaller is corrected when it is restored, and the central area (the
pipeline and heatmap, which scroll) gives way instead. A change of font (View →
Zoom) computes the heights again; neither takes more than MAX_SHARE of the window's
height, so a zoomed window on a small screen is not made taller than the screen.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QTableView, QWidget

from .panels.explain import ExplainPanel
from .panels.results import ResultsPanel

ROWS = 6
MAX_SHARE = 0.3  # of the window's height, for each of the two docks


def _margins(widget: QWidget) -> int:
    layout = widget.layout()
    if layout is None:
        return 0
    m = layout.contentsMargins()
    return m.top() + m.bottom() + layout.spacing()


def results_height(panel: ResultsPanel) -> int:
    """Tab bar, column header and ROWS rows of the Results tables."""
    table = next(iter(panel.findChildren(QTableView)), None)
    if table is None:
        return 0
    rows = ROWS * table.verticalHeader().defaultSectionSize()
    header = table.horizontalHeader().sizeHint().height()
    frame = 2 * table.frameWidth() + 2 * panel.tabs.style().pixelMetric(
        panel.tabs.style().PixelMetric.PM_DefaultFrameWidth
    )
    return _margins(panel) + panel.tabs.tabBar().sizeHint().height() + header + rows + frame


def explain_height(panel: ExplainPanel) -> int:
    """The title and ROWS lines of the explanation."""
    text = panel.text
    lines = ROWS * text.fontMetrics().lineSpacing()
    chrome = 2 * text.frameWidth() + 2 * int(text.document().documentMargin())
    title = panel.title
    two_lines = 2 * title.fontMetrics().lineSpacing() + title.margin() * 2
    width = title.width() if title.isVisible() else panel.width()
    title_height = min(max(title.heightForWidth(width), title.sizeHint().height()), two_lines)
    return _margins(panel) + title_height + lines + chrome


class _KeepTall(QObject):
    """Sets the minimum heights now, after every font change, and on resizes."""

    def __init__(self, results: ResultsPanel, explain: ExplainPanel) -> None:
        super().__init__(results)
        self._results = results
        self._explain = explain
        self.apply()
        results.installEventFilter(self)
        explain.installEventFilter(self)

    def apply(self) -> None:
        # Never so tall that the window must grow past its height (a zoomed small screen).
        window_height = self._results.window().height()
        cap = int(MAX_SHARE * window_height) if window_height > 0 else 10**6
        self._results.setMinimumHeight(min(results_height(self._results), cap))
        self._explain.setMinimumHeight(min(explain_height(self._explain), cap))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FontChange:
            QTimer.singleShot(0, self, self.apply)  # after the rows grew; not once deleted
        elif event.type() == QEvent.Type.Resize:
            self.apply()  # the Explain title rewraps; the window's height sets the cap
        return False


def keep_bottom_docks_tall(results: ResultsPanel, explain: ExplainPanel) -> QObject:
    """Give the Results and Explain panels their minimum heights (call before restoreState)."""
    return _KeepTall(results, explain)
