"""The Generate panel: watch a decoder write, and see where each new token looks.

Prompt, number of tokens, greedy or sampled; the run happens on its own thread
(`app.generate_run`) and its steps arrive one by one. A slider picks a step: the
bar chart shows that step's ten likeliest next tokens, and the window's heatmap
shows the chosen layer and head over prompt + continuation so far through the
`StepView` (`app.generate_view`). "Open this step as a preset" builds that head
at that step with the decoder preset builder, as one undoable load.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from selfattn.generate import Step, chat_template_of, open_model
from selfattn.models.origin import ModelOrigin
from selfattn.preset import Preset
from selfattn.sampling import Sampling
from selfattn.token_display import visible

from ..document import Document
from ..generate_run import TOP, GenerationRunner, RunSettings, RunStart
from ..generate_view import NextTokenChart, StepView
from ..worker import Background

DEFAULT_PROMPT = "The capital of France is"
BUNDLED_MODEL_NAME = "SmolLM2-135M-Instruct"


def generation_model(model: str | None) -> Path | None:
    """The model the panel runs for a decoder named as ModelOrigin.model names it
    ("smollm2" or a path; None and the bundled file give None: the bundled SmolLM2)."""
    from selfattn.models.discover import smollm2_path  # noqa: PLC0415

    if model is None or model.lower() == "smollm2":
        return None
    path = Path(model)
    bundled = smollm2_path()
    return None if bundled is not None and path == bundled else path


def why_no_generation(origin: ModelOrigin | None) -> str:
    """Why the document's preset cannot be continued ("" when it can)."""
    if origin is None:
        return (
            "This preset was not made from a model. Load a decoder's head with "
            "File → Load from model… (SmolLM2, Llama, Qwen2, GPT-2), or open View → Generate…"
        )
    if not origin.is_decoder:
        return (
            "This preset comes from an encoder (BERT family): it does not write text. "
            "Load a decoder's head (SmolLM2, Llama, Qwen2, GPT-2) to continue its text"
        )
    return ""


class GeneratePanel(QWidget):
    """Settings, Generate/Stop, the continuation, the step slider and the top-10 chart."""

    decoderLoaded = Signal(bool)  # the document's preset came from a decoder this panel can run
    message = Signal(str)

    def __init__(
        self,
        document: Document,
        background: Background,
        load_preset: Callable[[Preset, ModelOrigin | None], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._doc = document
        self._background = background
        self._load_preset = load_preset
        self._model: Path | None = None  # None: the bundled SmolLM2
        self._own_origin: ModelOrigin | None = None  # of the last step opened here
        self._wanted: tuple[int, int | None] | None = None  # layer, head to show once known
        self._described = 0
        self.runner = GenerationRunner(self)
        self.step_view = StepView(self)
        self.stop_reason = ""
        # set by app.generate_dock when the panel lives in a window
        self.dock: QDockWidget | None = None
        self.action: QAction | None = None  # View → Generate…
        self.tool_action: QAction | None = None  # the toolbar button
        self.step_note: QWidget | None = None  # the line above the heatmap

        # In a scroll area: a short window scrolls the panel instead of growing taller
        # than the screen; across, the rows are narrow enough to need no scrolling.
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self._build_settings())
        layout.addWidget(self._build_steps(), 1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(content)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setMinimumWidth(
            content.minimumSizeHint().width()
            + self.scroll_area.verticalScrollBar().sizeHint().width()
        )
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)

        self.runner.started.connect(self._on_started)
        self.runner.stepMade.connect(self._on_step)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.step_view.changed.connect(self._show_step)
        document.changed.connect(self._on_document_changed)
        document.originChanged.connect(self._on_origin_changed)
        self._set_running(False)
        self.open_button.setEnabled(False)  # until a run's prompt is there
        self._needs_describe = True  # read the model when the panel is first shown

    def showEvent(self, event: QShowEvent) -> None:  # Qt API name
        super().showEvent(event)
        if self._needs_describe:
            self._describe()

    # Construction ------------------------------------------------------------------
    def _build_settings(self) -> QGroupBox:
        """Model, prompt, Generate/Stop; the sampling settings only while "sample" is on
        (rows stay narrow: the panel shares the window with the other docks)."""
        box = QGroupBox("Prompt and settings")
        layout = QVBoxLayout(box)
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_combo.setMinimumContentsLength(12)  # long names are elided, not widening
        self.model_combo.addItem(f"{BUNDLED_MODEL_NAME} (bundled)", None)
        self.model_combo.addItem("Choose a GGUF file…", "gguf")
        self.model_combo.addItem("Choose a model folder…", "folder")
        self.model_combo.activated.connect(self._on_model_chosen)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.prompt_edit = QPlainTextEdit(DEFAULT_PROMPT)
        self.prompt_edit.setFixedHeight(46)
        self.chat_check = QCheckBox("as a chat message")
        self.chat_check.setToolTip("Wrap the prompt in the model's chat template (sandboxed)")
        self.tokens_spin = QSpinBox()
        self.tokens_spin.setRange(1, 512)
        self.tokens_spin.setValue(20)
        self.tokens_spin.setSuffix(" new tokens")
        self.sample_check = QCheckBox("sample")
        self.sample_check.setToolTip("Off: greedy (the likeliest token each step)")
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(0.05, 5.0)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setValue(0.8)
        self.temperature_spin.setPrefix("T ")
        self.top_k_spin = QSpinBox()
        self.top_k_spin.setRange(0, 100000)
        self.top_k_spin.setPrefix("top-k ")
        self.top_k_spin.setSpecialValueText("top-k off")
        self.top_p_spin = QDoubleSpinBox()
        self.top_p_spin.setRange(0.01, 1.0)
        self.top_p_spin.setSingleStep(0.05)
        self.top_p_spin.setValue(1.0)
        self.top_p_spin.setPrefix("top-p ")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setPrefix("seed ")
        self.sampling_box = QWidget()
        sampling_grid = QGridLayout(self.sampling_box)
        sampling_grid.setContentsMargins(0, 0, 0, 0)
        sampling_grid.addWidget(self.temperature_spin, 0, 0)
        sampling_grid.addWidget(self.top_k_spin, 0, 1)
        sampling_grid.addWidget(self.top_p_spin, 1, 0)
        sampling_grid.addWidget(self.seed_spin, 1, 1)
        self.sample_check.toggled.connect(self._enable_sampling)
        self._enable_sampling(False)
        self.generate_button = QPushButton("Generate")
        self.generate_button.clicked.connect(self.generate)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        model_row = QHBoxLayout()
        model_row.addWidget(QLabel("model"))
        model_row.addWidget(self.model_combo, 1)
        how_row = QHBoxLayout()
        how_row.addWidget(self.tokens_spin)
        how_row.addWidget(self.sample_check)
        how_row.addStretch(1)
        run_row = QHBoxLayout()
        run_row.addStretch(1)
        run_row.addWidget(self.generate_button)
        run_row.addWidget(self.stop_button)
        layout.addLayout(model_row)
        layout.addWidget(self.model_info)
        layout.addWidget(self.prompt_edit)
        layout.addLayout(how_row)
        layout.addWidget(self.sampling_box)
        layout.addWidget(self.chat_check)
        layout.addLayout(run_row)
        return box

    def _build_steps(self) -> QGroupBox:
        box = QGroupBox("Continuation")
        layout = QVBoxLayout(box)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.text_view = QTextEdit()
        self.text_view.setReadOnly(True)
        self.text_view.setMinimumHeight(44)
        self.text_view.setMaximumHeight(64)
        slider_row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("The step the chart and the heatmap show")
        self.slider.valueChanged.connect(self.step_view.set_step)
        self.step_label = QLabel("step 0 of 0")
        slider_row.addWidget(QLabel("step"))
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.step_label)
        head_row = QHBoxLayout()
        self.layer_spin = QSpinBox()
        self.layer_spin.setPrefix("layer ")
        self.layer_spin.setRange(1, 1)
        self.head_spin = QSpinBox()
        self.head_spin.setPrefix("head ")
        self.head_spin.setRange(1, 1)
        for spin in (self.layer_spin, self.head_spin):
            spin.valueChanged.connect(self._on_layer_head)
        self.show_check = QCheckBox("in the heatmap")
        self.show_check.setToolTip(
            "The heatmap shows this layer and head at this step (instead of the preset)"
        )
        self.show_check.toggled.connect(self.step_view.set_active)
        self.step_view.activeChanged.connect(self._on_active_changed)
        self.open_button = QPushButton("Open this step as a preset")
        self.open_button.setToolTip(
            "This head over prompt + continuation so far becomes an ordinary, editable preset"
        )
        self.open_button.clicked.connect(self.open_step_as_preset)
        head_row.addWidget(self.layer_spin)
        head_row.addWidget(self.head_spin)
        head_row.addStretch(1)
        open_row = QHBoxLayout()
        open_row.addWidget(self.show_check)
        open_row.addStretch(1)
        open_button_row = QHBoxLayout()
        open_button_row.addStretch(1)
        open_button_row.addWidget(self.open_button)
        self.chart = NextTokenChart(self.palette().base().color(), self._text_colour(), TOP)
        layout.addWidget(self.status)
        layout.addWidget(self.text_view)
        layout.addLayout(slider_row)
        layout.addLayout(head_row)
        layout.addLayout(open_row)
        layout.addLayout(open_button_row)
        layout.addWidget(self.chart, 1)
        return box

    def _enable_sampling(self, on: bool) -> None:
        for w in (self.temperature_spin, self.top_k_spin, self.top_p_spin, self.seed_spin):
            w.setEnabled(on)
        self.sampling_box.setVisible(on)

    # Model ------------------------------------------------------------------------
    @property
    def model(self) -> Path | None:
        return self._model

    def set_model(self, model: Path | None) -> None:
        """Run `model` (a GGUF file or a folder; None: the bundled SmolLM2) from now on."""
        self._model = model
        self._needs_describe = True
        if model is None:
            self.model_combo.setCurrentIndex(0)
        else:
            index = self.model_combo.findData(str(model))
            if index < 0:
                self.model_combo.addItem(model.name, str(model))
                index = self.model_combo.count() - 1
            self.model_combo.setCurrentIndex(index)
        if self.isVisible():
            self._describe()

    def _on_model_chosen(self, index: int) -> None:
        data = self.model_combo.itemData(index)
        if data in ("gguf", "folder"):
            if data == "gguf":
                path, _ = QFileDialog.getOpenFileName(
                    self, "A decoder's GGUF file", "", "GGUF (*.gguf);;All files (*)"
                )
            else:
                path = QFileDialog.getExistingDirectory(self, "A decoder checkpoint folder")
            if path:
                self.set_model(Path(path))
            else:
                self.set_model(self._model)
            return
        self.set_model(None if data is None else Path(data))

    def _describe(self) -> None:
        """Read the model's shape and chat template on the worker (never on the GUI thread)."""
        self._needs_describe = False
        self._described += 1
        number, model = self._described, self._model
        self.model_info.setText("Reading the model…")
        self.chat_check.setEnabled(False)

        def read() -> tuple[str, int, int, int, bool]:
            m = open_model(model)
            c = m.config
            template, _special = chat_template_of(m)
            return m.display_name, c.n_layers, c.n_heads, c.max_positions, template is not None

        def done(info: tuple[str, int, int, int, bool]) -> None:
            if number != self._described:
                return
            name, layers, heads, positions, chat = info
            self.model_info.setText(
                f"{name}: {layers} layers × {heads} heads, at most {positions} positions"
                + ("; has a chat template" if chat else "")
            )
            self.layer_spin.setMaximum(layers)
            self.head_spin.setMaximum(heads)
            self._show_wanted()
            self.chat_check.setEnabled(chat)
            if not chat:
                self.chat_check.setChecked(False)

        def failed(exc: BaseException) -> None:
            if number == self._described:
                self.model_info.setText(f"⚠ {exc}")

        self._background.submit(read, done, failed)

    # Running ------------------------------------------------------------------------
    def settings(self) -> RunSettings:
        sampling = None
        if self.sample_check.isChecked():
            sampling = Sampling(
                temperature=self.temperature_spin.value(),
                top_k=self.top_k_spin.value() or None,
                top_p=None if self.top_p_spin.value() >= 1.0 else self.top_p_spin.value(),
                seed=self.seed_spin.value(),
            )
        return RunSettings(
            model=self._model,
            text=self.prompt_edit.toPlainText(),
            chat=self.chat_check.isChecked() and self.chat_check.isEnabled(),
            max_new_tokens=self.tokens_spin.value(),
            sampling=sampling,
        )

    def generate(self) -> None:
        self.stop_reason = ""
        self.runner.start(self.settings())
        self._set_running(True)
        self.status.setText("Reading the model and running the prompt…")

    def stop(self) -> None:
        self.runner.stop()
        self.status.setText("Stopping…")

    @property
    def running(self) -> bool:
        return not self.generate_button.isEnabled()

    def shutdown(self) -> None:
        """The window closes: end the run."""
        self.runner.stop()
        self.runner.join(2.0)

    def _set_running(self, running: bool) -> None:
        self.generate_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def _on_started(self, run: int, start: RunStart) -> None:
        if run != self.runner.run:
            return
        self.layer_spin.setMaximum(start.layers)
        self.head_spin.setMaximum(start.heads)
        self._show_wanted()
        self.step_view.set_layer_head(self.layer_spin.value(), self.head_spin.value())
        self.step_view.reset(start)
        self.show_check.setChecked(True)
        self.status.setText(f"Generating with {start.model_name}…")

    def _on_step(self, run: int, step: Step, label: str) -> None:
        if run == self.runner.run:
            self.step_view.add_step(step, label)

    def _on_finished(self, run: int, reason: str) -> None:
        if run != self.runner.run:
            return
        self.stop_reason = reason
        self._set_running(False)
        n = len(self.step_view.steps)
        why = {
            "eos": "it wrote the end-of-sequence token",
            "limit": "the number of new tokens was reached",
            "stopped": "you pressed Stop",
        }[reason]
        self.status.setText(f"{n} new tokens; stopped because {why}.")

    def _on_failed(self, run: int, text: str) -> None:
        if run != self.runner.run:
            return
        self.stop_reason = "failed"
        self._set_running(False)
        self.status.setText(f"⚠ {text}")
        self.message.emit(f"Generation failed: {text}")

    # The selected step ----------------------------------------------------------------
    def _on_layer_head(self, _value: int) -> None:
        self.step_view.set_layer_head(self.layer_spin.value(), self.head_spin.value())

    def _on_active_changed(self, active: bool) -> None:
        self.show_check.blockSignals(True)
        self.show_check.setChecked(active)
        self.show_check.blockSignals(False)

    def _show_step(self) -> None:
        view = self.step_view
        total = len(view.steps)
        self.slider.blockSignals(True)
        self.slider.setRange(0 if total == 0 else 1, total)
        self.slider.setValue(view.step)
        self.slider.blockSignals(False)
        self.step_label.setText(f"step {view.step} of {total}")
        self.open_button.setEnabled(view.start is not None)
        self._show_text()
        self._show_chart()

    def _show_text(self) -> None:
        view = self.step_view
        if view.start is None:
            self.text_view.clear()
            return
        prompt = html.escape(visible(view.start.prompt_text, spaces=False))
        parts = [f'<span style="color: gray">{prompt}</span>']
        for s in view.steps:
            text = html.escape(visible(s.token, spaces=False) or "∅")
            style = "font-weight: bold"
            if s.step == view.step:
                style += "; background: #ffd27f; color: black"
            parts.append(f'<span style="{style}">{text}</span>')
        self.text_view.setHtml("".join(parts))

    def _show_chart(self) -> None:
        view = self.step_view
        if view.step == 0:
            self.chart.clear_step()
        else:
            self.chart.show_step(view.steps[view.step - 1])

    @property
    def bars(self) -> pg.BarGraphItem:
        return self.chart.bars

    def _text_colour(self) -> QColor:
        return self.palette().text().color()

    # Opening a step ----------------------------------------------------------------------
    def open_step_as_preset(self) -> None:
        """Build the selected head at the selected step on the worker; load it (one undo step)."""
        from selfattn.models.decoder_preset import preset_from_decoder  # noqa: PLC0415

        view = self.step_view
        if view.start is None:
            return
        path, layer, head = view.start.model_path, view.layer, view.head
        ids = view.token_ids()
        decode = open_model(path).tokenizer.decode  # cached: the run opened it
        text = decode(list(ids))
        self.open_button.setEnabled(False)
        self.status.setText(f"Building layer {layer} head {head} at step {view.step}…")

        def done(preset: Preset) -> None:
            self.open_button.setEnabled(True)
            origin = ModelOrigin(str(path), text, layer, head, is_decoder=True)
            self._own_origin = origin  # keeps the panel's model and prompt as they are
            self._load_preset(preset, origin)
            self.status.setText(f"Opened step {view.step} as a preset: {preset.name}")

        def failed(exc: BaseException) -> None:
            self.open_button.setEnabled(True)
            self.status.setText(f"⚠ {exc}")

        self._background.submit(
            lambda: preset_from_decoder(path, layer, head, text, ids=ids), done, failed
        )

    # The document ----------------------------------------------------------------------
    def _on_document_changed(self, _change: object) -> None:
        """An edit or a load: the heatmap shows the document again."""
        self.step_view.set_active(False)

    def _on_origin_changed(self, origin: ModelOrigin | None) -> None:
        """A model preset loaded (or undone): a decoder's becomes the panel's model, its
        text the prompt, its layer and head the ones shown; says whether one can continue."""
        runnable = not why_no_generation(origin)
        if origin is not None and runnable and origin != self._own_origin:
            model = generation_model(origin.model)
            if model != self._model:
                self.set_model(model)
            if not self.running:
                self.prompt_edit.setPlainText(origin.text)
                self.chat_check.setChecked(False)  # the text is the model's input as it is
        if origin is not None and runnable:
            self._wanted = (origin.layer, origin.head)
            # after the load: the spins redraw the heatmap, whose result is not yet there
            QTimer.singleShot(0, self._show_wanted)
        self.decoderLoaded.emit(runnable)

    def _show_wanted(self) -> None:
        """Select the origin's layer and head (again once the model's sizes are known)."""
        if self._wanted is None:
            return
        layer, head = self._wanted
        self.layer_spin.setValue(layer)
        if head is not None:
            self.head_spin.setValue(head)
        if self.layer_spin.value() == layer and head in (None, self.head_spin.value()):
            self._wanted = None  # shown: later model changes leave the spins alone

    def generation_refusal(self) -> str:
        """Why the toolbar's Generate button is off for the document ("" when it is on)."""
        return why_no_generation(self._doc.origin)

    def continue_from(self, model: str | None, text: str) -> None:
        """Ready to continue `text` with `model` ("smollm2" or a path: the model dialog's
        Generate…)."""
        self.set_model(generation_model(model))
        if not self.running:
            self.prompt_edit.setPlainText(text)
            self.chat_check.setChecked(False)
