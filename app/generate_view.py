"""The generation step the heatmap shows: a preset-like view beside the view state.

While `active`, the window's heatmap draws the attention of one layer and head
over prompt + continuation up to the selected step instead of the document's
result. The numbers are the rows `selfattn.generate` recorded (the prompt's pass,
then each new token's row); this object only places them in one causal matrix.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QSize, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy

from selfattn.generate import Step
from selfattn.token_display import display_tokens, visible

from .generate_run import RunStart
from .heatmap import HeatmapView

GENERATED_MARK = "▸ "  # before a generated token's label (rows and columns)
BAR_CHOSEN = (230, 120, 30)
BAR_OTHER = (80, 130, 200)
CHART_LABEL_CHARS = 14  # longer token labels are cut with "…" (the axis stays narrow)
CHART_PLACEHOLDER = "No step yet.\nGenerate shows the likeliest\nnext tokens here."


def token_text(text: str) -> str:
    """A generated token's text as the window shows it: "↵" for a newline, "␣" for a
    space (so " Paris" and "Paris" differ), "∅" for nothing; special tokens as written."""
    return visible(text) or "∅"


def chart_label(text: str) -> str:
    """`token_text`, cut to CHART_LABEL_CHARS with "…"."""
    shown = token_text(text)
    if len(shown) > CHART_LABEL_CHARS:
        return shown[: CHART_LABEL_CHARS - 1] + "…"
    return shown


class NextTokenChart(pg.PlotWidget):
    """The top-10 next tokens of one step as horizontal bars, likeliest at the top.

    Before any step it shows a placeholder and no numbers on the token axis (an empty
    inverted axis would read 1 .. 0 upside down)."""

    def __init__(self, background: QColor, text: QColor, top: int = 10) -> None:
        super().__init__(background=background)
        self._text = text
        self._top = top
        self.setMinimumSize(120, 120)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.setLabel("bottom", "probability of the next token")
        for side in ("left", "bottom"):
            self.getAxis(side).setTextPen(text)
            self.getAxis(side).setPen(text)
        self.setXRange(0, 1, padding=0.02)
        self.invertY(True)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[])
        self.addItem(self.bars)
        self.placeholder = pg.TextItem(CHART_PLACEHOLDER, anchor=(0.5, 0.5), color=text)
        self.addItem(self.placeholder)
        self._bar_texts: list[pg.TextItem] = []
        self.clear_step()

    def sizeHint(self) -> QSize:  # Qt API name
        """Modest: in the panel's scroll area the preferred heights decide when it scrolls
        (its layout has wrapped labels), and the chart takes whatever room is left."""
        return QSize(240, 220)

    def tick_labels(self) -> list[str]:
        """The token axis's labels, top to bottom (for tests)."""
        ticks = self.getAxis("left")._tickLevels
        return [] if not ticks else [label for _y, label in ticks[0]]

    def _remove_texts(self) -> None:
        for item in self._bar_texts:
            self.removeItem(item)
        self._bar_texts = []

    def clear_step(self) -> None:
        """No step: no bars, no token ticks, the placeholder in the middle."""
        self._remove_texts()
        self.bars.setOpts(x0=[], y=[], width=[], brushes=[])
        self.getAxis("left").setTicks([[]])
        self.setYRange(-0.5, self._top - 0.5, padding=0)
        self.placeholder.setPos(0.5, (self._top - 1) / 2)
        self.placeholder.setVisible(True)
        self.setTitle("")

    def show_step(self, s: Step) -> None:
        """Step `s`'s alternatives; the chosen token's bar in orange."""
        self._remove_texts()
        self.placeholder.setVisible(False)
        probs = list(s.top_probs[: self._top])
        brushes = [
            pg.mkBrush(BAR_CHOSEN if i == s.token_id else BAR_OTHER) for i in s.top_ids[: self._top]
        ]
        y = np.arange(len(probs))
        self.bars.setOpts(x0=np.zeros(len(probs)), y=y, width=probs, height=0.7, brushes=brushes)
        ticks = [(int(i), chart_label(t)) for i, t in zip(y, s.top_tokens, strict=True)]
        self.getAxis("left").setTicks([ticks])
        for i, p in zip(y, probs, strict=True):
            inside = p > 0.75  # near 1 the number would leave the plot: write it in the bar
            label = pg.TextItem(
                f"{p:.3f}",
                anchor=(1, 0.5) if inside else (0, 0.5),
                color="white" if inside else self._text,
            )
            label.setPos(float(p) - 0.01 if inside else float(p) + 0.01, float(i))
            self.addItem(label)
            self._bar_texts.append(label)
        self.setYRange(-0.5, max(len(probs), self._top) - 0.5, padding=0)
        self.setTitle(f"step {s.step}: chose “{token_text(s.token)}” (p = {s.prob:.3f})")


class StepView(QObject):
    """Run record (prompt + steps so far), selected step, layer and head (from 1)."""

    changed = Signal()  # anything the heatmap draws moved
    activeChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._start: RunStart | None = None
        self._steps: list[Step] = []
        self._labels: list[str] = []  # the generated tokens' labels
        self._step = 0
        self._layer = 1
        self._head = 1
        self._active = False

    # State ---------------------------------------------------------------------
    @property
    def start(self) -> RunStart | None:
        return self._start

    @property
    def steps(self) -> list[Step]:
        return self._steps

    @property
    def step(self) -> int:
        """The selected step (from 1; 0 = the prompt alone)."""
        return self._step

    @property
    def layer(self) -> int:
        return self._layer

    @property
    def head(self) -> int:
        return self._head

    @property
    def active(self) -> bool:
        """Whether the heatmap shows the step (rather than the document's result)."""
        return self._active and self._start is not None

    def reset(self, start: RunStart) -> None:
        """A new run's prompt pass: no steps yet."""
        self._start = start
        self._steps = []
        self._labels = []
        self._step = 0
        self._layer = min(self._layer, start.layers)
        self._head = min(self._head, start.heads)
        self.changed.emit()

    def add_step(self, step: Step, label: str) -> None:
        """A new token; the view follows it when it was showing the newest step."""
        follow = self._step == len(self._steps)
        self._steps.append(step)
        self._labels.append(label)
        if follow:
            self._step = len(self._steps)
        self.changed.emit()

    def set_step(self, step: int) -> None:
        step = min(max(int(step), 0), len(self._steps))
        if step != self._step:
            self._step = step
            self.changed.emit()

    def set_layer_head(self, layer: int, head: int) -> None:
        if (layer, head) != (self._layer, self._head):
            self._layer, self._head = int(layer), int(head)
            self.changed.emit()

    def set_active(self, active: bool) -> None:
        if active != self._active:
            self._active = active
            self.activeChanged.emit(active)
            self.changed.emit()

    # What the heatmap draws ----------------------------------------------------------
    def token_ids(self, step: int | None = None) -> tuple[int, ...]:
        """Prompt + continuation up to `step` (default: the selected one)."""
        assert self._start is not None
        t = self._step if step is None else step
        return self._start.prompt_ids + tuple(s.token_id for s in self._steps[:t])

    def labels(self) -> list[str]:
        """Prompt + generated labels as shown (readable, generated ones marked)."""
        assert self._start is not None
        n = len(self._start.prompt_labels)
        shown = display_tokens([*self._start.prompt_labels, *self._labels[: self._step]])
        return [*shown[:n], *(GENERATED_MARK + label for label in shown[n:])]

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """(weights, visible) over prompt + continuation up to the selected step.

        Row i < n is the prompt pass's row i; row n + s - 1 is step s's recorded row."""
        assert self._start is not None
        layer, head = self._layer - 1, self._head - 1
        prompt = self._start.prompt_attention[layer, head]
        n = prompt.shape[0]
        size = n + self._step
        weights = np.zeros((size, size), dtype=np.float64)
        weights[:n, :n] = prompt
        for s in self._steps[: self._step]:
            assert s.attention is not None  # the runner keeps every step's attention
            row = s.attention[layer, head]
            weights[s.position, : row.shape[0]] = row
        visible = np.tril(np.ones((size, size), dtype=bool))
        return weights, visible

    def raw_labels(self) -> list[str]:
        """Prompt + generated labels up to the step, as the tokenizer spells them."""
        assert self._start is not None
        return [*self._start.prompt_labels, *self._labels[: self._step]]

    def attentions(self) -> np.ndarray:
        """(layers, heads, size, size): every layer's and head's causal matrix at the step,
        as `matrix` builds one (for the atlas)."""
        assert self._start is not None
        prompt = self._start.prompt_attention
        layers, heads, n, _ = prompt.shape
        size = n + self._step
        out = np.zeros((layers, heads, size, size), dtype=np.float32)
        out[:, :, :n, :n] = prompt
        for s in self._steps[: self._step]:
            assert s.attention is not None
            out[:, :, s.position, : s.attention.shape[-1]] = s.attention
        return out

    def title(self) -> str:
        """Says the heatmap is not the document's preset (Inputs, Results, Explain are)."""
        assert self._start is not None
        step = f"{self._step}" if self._step else "0 (the prompt)"
        return (
            f"Generation step {step} — layer {self._layer}, head {self._head} "
            "(not the preset in Inputs)"
        )

    def note(self) -> str:
        """The line above the heatmap while it shows the step."""
        return (
            f"⚠ The heatmap shows generation step {self._step} of {len(self._steps)} "
            f"(layer {self._layer}, head {self._head}; {GENERATED_MARK.strip()} = generated), "
            "not the preset in Inputs, Results and Explain."
        )

    def draw(self, heatmap: HeatmapView) -> None:
        weights, visible = self.matrix()
        labels = self.labels()
        heatmap.set_matrix(
            weights, labels, labels, kind="weights", visible=visible, title=self.title()
        )
        heatmap.select_cell(-1, -1)


class StepNote(QFrame):
    """One line above the heatmap while it shows a generation step: what it shows, and
    the two ways to make the window agree again (open the step as a preset, or back)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.open_button = QPushButton("Open this step as a preset")
        self.open_button.setToolTip(
            "Inputs, Results, Explain and the heatmap then all show this head at this step"
        )
        self.back_button = QPushButton("Back to the preset")
        self.back_button.setToolTip("The heatmap shows the preset in Inputs again")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.open_button)
        layout.addWidget(self.back_button)
        self.hide()

    def show_for(self, view: StepView) -> None:
        """Visible exactly while `view` is active (the heatmap draws the step)."""
        if view.active:
            self.label.setText(view.note())
        self.setVisible(view.active)
