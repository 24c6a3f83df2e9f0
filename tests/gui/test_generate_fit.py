"""The Generate panel fits a 1440×900 window beside the other docks.

A tester's 1600×1000 desktop: opening View → Generate… made the window 1694 px wide
and it could not be made smaller (Stop, the panel's close button and the status bar
went off screen), also after a restart. The window's minimum width with the panel
open must leave room on a 1280-px-wide screen, and 1440×900 must be reachable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow
from selfattn.bundled import load_bundled

FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY = FIXTURES / "decoders" / "tiny-llama"
TINY_REF = np.load(FIXTURES / "generation_tiny-llama.npz")
MAX_MIN_WIDTH = 1280  # the window's minimum width with the panel open
TARGET = (1440, 900)  # the window size that must be reachable
CHART_MIN_HEIGHT = 200  # px: ten bars of the chart with their labels apart


def _fits(window) -> None:
    QApplication.processEvents()
    assert window.minimumSizeHint().width() <= MAX_MIN_WIDTH, window.minimumSizeHint()
    assert window.minimumSizeHint().height() <= TARGET[1], window.minimumSizeHint()
    window.resize(*TARGET)
    QApplication.processEvents()
    assert (window.width(), window.height()) == TARGET


def test_window_with_the_panel_open_fits_1440_by_900(qtbot, window):
    panel = window.generate_panel
    panel.action.trigger()
    assert panel.dock.isVisible()
    _fits(window)
    # with a run's texts in it (status, chart, slider)
    panel.set_model(TINY)
    qtbot.waitUntil(lambda: "layers" in panel.model_info.text(), timeout=10_000)
    panel.prompt_edit.setPlainText(str(TINY_REF["prompt_0"]))
    panel.tokens_spin.setValue(3)
    with qtbot.waitSignal(panel.runner.finished, timeout=30_000):
        panel.generate()
    assert len(panel.step_view.steps) == 3
    _fits(window)
    # at 1440×900 the whole panel shows without scrolling, the chart's ten bars readable
    assert panel.scroll_area.verticalScrollBar().maximum() == 0
    assert panel.chart.height() >= CHART_MIN_HEIGHT
    panel.sample_check.setChecked(True)  # every setting shown: may scroll, never widen
    _fits(window)
    # the Stop button and the panel stay inside the window
    right = panel.stop_button.mapTo(window, panel.stop_button.rect().topRight()).x()
    assert right <= window.width()


def test_panel_still_fits_after_a_restart(qtbot, window, settings):
    window.generate_panel.action.trigger()
    window.save_settings()
    again = MainWindow(load_bundled("seed-example"), settings=settings)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert again.generate_panel.dock.isVisible()  # restored open
    _fits(again)
    again.document.undo_stack.setClean()
