"""The Generate panel's bar chart of the next tokens: readable labels, a sane empty state.

A tester saw `'\\\\n'` and `<\\\\x7cim_end\\\\x7c>` on the token axis (CSV cell escapes,
then repr) and, before any run, an empty axis reading 0 .. 1 upside down. The labels
must read as the window shows tokens elsewhere (selfattn/token_display.py: "↵" for a
newline, "␣" for a space) and the empty chart must show no numbers on the token axis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.generate_run import RunStart
from selfattn.generate import Step


def _ticks(chart) -> list[str]:
    levels = chart.getAxis("left")._tickLevels  # what setTicks gave the axis
    return [] if not levels else [label for _y, label in levels[0]]


def _start() -> RunStart:
    prompt = np.array([[[[1.0, 0.0], [0.5, 0.5]]]])  # 1 layer, 1 head, 2 tokens
    return RunStart(Path("model"), "tiny", 1, 1, (5, 6), ("Hi", "Ġthere"), "Hi there", prompt)


def _step(tokens: tuple[str, ...], probs: tuple[float, ...]) -> Step:
    return Step(
        step=1,
        position=2,
        token_id=10,
        token=tokens[0],
        prob=probs[0],
        top_ids=tuple(range(10, 10 + len(tokens))),
        top_tokens=tokens,
        top_probs=probs,
        attention=np.array([[[0.2, 0.3, 0.5]]]),
    )


def test_token_axis_reads_newline_special_tokens_and_spaces(qtbot, window):
    panel = window.generate_panel
    panel.dock.show()
    tokens = ("\n", "<|im_end|>", " Paris", "", "a|b", "\t")
    probs = (0.5, 0.2, 0.1, 0.08, 0.07, 0.05)
    panel.step_view.reset(_start())
    panel.step_view.add_step(_step(tokens, probs), "Ċ")
    assert _ticks(panel.chart) == ["↵", "<|im_end|>", "␣Paris", "∅", "a|b", "⇥"]
    assert list(panel.bars.opts["width"]) == pytest.approx(list(probs))
    assert "“↵”" in panel.chart.plotItem.titleLabel.text  # the chosen token, readable too


def test_long_token_labels_are_cut_so_the_axis_stays_narrow(qtbot, window):
    panel = window.generate_panel
    panel.dock.show()
    panel.step_view.reset(_start())
    panel.step_view.add_step(_step(("x" * 40, "y"), (0.6, 0.4)), "x")
    long_label, short = _ticks(panel.chart)
    assert long_label.endswith("…") and long_label.startswith("xxxx") and len(long_label) < 20
    assert short == "y"


def test_empty_chart_has_no_upside_down_axis_but_a_placeholder(qtbot, window):
    panel = window.generate_panel
    panel.dock.show()
    chart = panel.chart
    assert _ticks(chart) == []  # no 0 .. 1 numbers on the token axis before a run
    assert not panel.open_button.isEnabled()  # no step to open yet
    (_x0, _x1), (y0, y1) = chart.getViewBox().viewRange()
    assert (y0, y1) == pytest.approx((-0.5, 9.5))  # the ten bars' rows, not 0 .. 1
    assert chart.placeholder.isVisible() and "Generate" in chart.placeholder.toPlainText()
    # a run's step hides the placeholder; a new run (no step yet) shows it again
    panel.step_view.reset(_start())
    panel.step_view.add_step(_step(("a", "b"), (0.7, 0.3)), "a")
    assert not chart.placeholder.isVisible() and _ticks(chart) == ["a", "b"]
    panel.step_view.reset(_start())
    assert chart.placeholder.isVisible() and _ticks(chart) == []
