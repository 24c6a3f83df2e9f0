"""File > Load from model…: a real transformer head becomes an ordinary, editable preset.

The model list: the bundled models (all-MiniLM-L6-v2, SmolLM2-135M-Instruct), then
the models found on this machine (`selfattn.models.discover`: the Hugging Face
cache, LM Studio, Ollama), unsupported ones greyed with the reason, then "Open
folder…" and "Open GGUF file…". Scanning, reading a model and running it to the
chosen layer all happen on the window's worker thread; the dialog never waits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from selfattn.models.origin import ModelOrigin
from selfattn.preset import Preset
from selfattn.token_display import display_tokens

from .worker import Background

DEFAULT_TEXT = "The cat sat on the mat because it was tired."

# What a model entry of the list holds (Qt.UserRole): the `model` argument of
# selfattn.models (None = the bundled MiniLM, "smollm2", or a path as text), or one
# of these actions.
OPEN_FOLDER = "\x00open-folder"
OPEN_FILE = "\x00open-file"
NOTHING = "\x00nothing"  # headings and "scanning…": never selectable
ACTIONS = (OPEN_FOLDER, OPEN_FILE, NOTHING)
TIP_ROLE = Qt.ItemDataRole.UserRole + 1  # the tooltip: a path, or why it cannot be used

# (model argument, name in selfattn.models.discover, label)
BUNDLED = (
    (None, "all-MiniLM-L6-v2", "all-MiniLM-L6-v2 (bundled, BERT)"),
    ("smollm2", "SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct (bundled, decoder)"),
)


def discover() -> tuple[list[Any], set[str]]:
    """(models found outside the bundle, names of the bundled models installed): worker only."""
    from selfattn.models.discover import discover_models

    found = discover_models()
    bundled = {m.name for m in found if m.source == "bundled"}
    return [m for m in found if m.source != "bundled"], bundled


class LoadFromModelDialog(QDialog):
    """Choose model, layer, head and sentence; the preset is built on a worker thread."""

    def __init__(self, background: Background, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Load from model")
        self.setMinimumWidth(640)
        self._background = background
        self._model: str | None = None  # the chosen model (None: the bundled MiniLM)
        self._chosen: list[tuple[str, str]] = []  # (label, path) opened by the person
        self._found: list[Any] = []  # discover.FoundModel, from the last scan
        self._installed: set[str] | None = None  # bundled names installed (None: not known yet)
        self._scan_error = ""  # why looking for models failed, said in the list
        self.preset: Preset | None = None
        self.origin: ModelOrigin | None = None  # what the preset was made of
        self.atlas_request: tuple[str | None, str] | None = None  # "whole model": (model, text)
        self.generate_request: tuple[str | None, str] | None = None  # "Generate…": (model, text)
        self.info: Any = None  # the ModelInfo of the chosen model, once read
        self._generation = 0  # of loads
        self._wanted: tuple[int, int | None] | None = None  # layer, head to show once described
        self._describing = 0  # of model descriptions: only the newest counts
        self._previewing = 0
        # Worker results can arrive after the dialog closed (and was deleted): drop them.
        self._open = [True]
        open_flag = self._open
        self.destroyed.connect(lambda *_: open_flag.__setitem__(0, False))

        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.model_combo = QComboBox()
        self.model_combo.setModel(QStandardItemModel(self.model_combo))
        self.model_combo.setMaxVisibleItems(24)
        self.model_combo.activated.connect(self._on_model_chosen)
        self.layer_spin = QSpinBox()
        self.layer_spin.setRange(1, 1)
        self.head_combo = QComboBox()
        self.text_edit = QLineEdit(DEFAULT_TEXT)
        self.text_edit.setPlaceholderText("A sentence to run through the model")
        self.pieces_label = QLabel()
        self.pieces_label.setWordWrap(True)
        self.pieces_label.setTextFormat(Qt.TextFormat.PlainText)  # "<s>" is a token, not a tag
        self.pieces_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("model", self.model_combo)
        form.addRow("layer", self.layer_spin)
        form.addRow("head", self.head_combo)
        self.atlas_check = QCheckBox("whole model (atlas): every layer and head at once")
        self.atlas_check.toggled.connect(lambda on: self.layer_spin.setDisabled(on))
        self.atlas_check.toggled.connect(lambda on: self.head_combo.setDisabled(on))
        form.addRow("", self.atlas_check)
        form.addRow("sentence", self.text_edit)
        form.addRow("tokens", self.pieces_label)
        layout.addLayout(form)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # a busy indicator, not a percentage
        self.busy_bar.setVisible(False)
        layout.addWidget(self.status)
        layout.addWidget(self.busy_bar)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Load")
        self.buttons.accepted.connect(self.load)
        self.generate_button = self.buttons.addButton(
            "Generate…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.generate_button.setToolTip(
            "Open the Generate panel: this decoder continues the sentence token by token"
        )
        self.generate_button.clicked.connect(self.generate)
        self.generate_button.setVisible(False)  # for decoders, once the model is read
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._preview_timer = QTimer(self, singleShot=True, interval=250)
        self._preview_timer.timeout.connect(self._preview)
        self.text_edit.textChanged.connect(lambda _t: self._preview_timer.start())
        self._fill_models()
        self._submit(discover, self._on_scanned, self._on_scan_failed)
        self._describe()

    # The model list -------------------------------------------------------------------
    def _add_item(self, text: str, data: str | None, tip: str = "", enabled: bool = True) -> None:
        self.model_combo.addItem(text, data)
        index = self.model_combo.count() - 1
        if tip:
            self.model_combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        model = self.model_combo.model()
        assert isinstance(model, QStandardItemModel)
        item = model.item(index)
        item.setData(tip, TIP_ROLE)
        if not enabled:
            item.setEnabled(False)

    def _fill_models(self) -> None:
        """(Re)build the list, keeping the chosen model selected."""
        combo = self.model_combo
        combo.blockSignals(True)
        combo.clear()
        installed = self._installed
        for data, name, label in BUNDLED:
            missing = installed is not None and name not in installed
            self._add_item(
                label + (" — not installed" if missing else ""),
                data,
                "Select it to see how to install it" if missing else "",
            )
        combo.insertSeparator(combo.count())
        if installed is None:
            self._add_item("Looking for models on this machine…", NOTHING, enabled=False)
        elif self._scan_error:
            text = f"Could not look for models: {self._scan_error}"
            self._add_item(text, NOTHING, text, enabled=False)
        elif not self._found:
            self._add_item(
                "No models found in the Hugging Face cache, LM Studio or Ollama",
                NOTHING,
                "Folders searched: $HF_HOME/hub (~/.cache/huggingface/hub), "
                "~/.lmstudio/models, ~/.cache/lm-studio/models, ~/.ollama/models",
                enabled=False,
            )
        for found in self._found:
            arch = f", {found.architecture}" if found.architecture else ""
            if found.supported:
                self._add_item(
                    f"{found.name} — {found.source}{arch}", str(found.path), str(found.path)
                )
            else:
                self._add_item(
                    f"{found.name} — {found.source}: {found.reason}",
                    str(found.path),
                    f"{found.path}\nNot supported: {found.reason}",
                    enabled=False,
                )
        for label, path in self._chosen:
            self._add_item(label, path, path)
        combo.insertSeparator(combo.count())
        self._add_item("Open folder…", OPEN_FOLDER, "A checkpoint folder: config.json, safetensors")
        self._add_item("Open GGUF file…", OPEN_FILE, "A .gguf file (llama.cpp, LM Studio, Ollama)")
        index = combo.findData(self._model)
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def model_entries(self) -> list[tuple[str, str | None, bool, str]]:
        """(text, model, enabled, tooltip) of every entry of the list (separators left out)."""
        model = self.model_combo.model()
        assert isinstance(model, QStandardItemModel)
        out = []
        for i in range(self.model_combo.count()):
            text = self.model_combo.itemText(i)
            if not text:
                continue  # a separator
            item = model.item(i)
            tip = str(item.data(TIP_ROLE) or "")
            out.append((text, item.data(Qt.ItemDataRole.UserRole), item.isEnabled(), tip))
        return out

    def _on_scanned(self, answer: tuple[list[Any], set[str]]) -> None:
        self._found, self._installed = answer
        self._fill_models()

    def _on_scan_failed(self, exc: BaseException) -> None:
        self._installed = {name for _, name, _ in BUNDLED}  # unknown: describing will tell
        self._found = []
        self._scan_error = str(exc)
        self._fill_models()

    def _on_model_chosen(self, index: int) -> None:
        data = self.model_combo.itemData(index)
        if data == OPEN_FOLDER:
            folder = QFileDialog.getExistingDirectory(
                self, "Checkpoint folder (config.json, model.safetensors)"
            )
            self.set_model(Path(folder) if folder else self._model)
        elif data == OPEN_FILE:
            path, _ = QFileDialog.getOpenFileName(
                self, "GGUF model file", "", "GGUF (*.gguf);;All files (*)"
            )
            self.set_model(Path(path) if path else self._model)
        elif data != NOTHING:
            self.set_model(data)

    def set_model(self, model: str | Path | None) -> None:
        """Choose a model: None (the bundled MiniLM), "smollm2", or a folder or GGUF file."""
        if isinstance(model, Path):
            text = str(model)
            if self.model_combo.findData(text) < 0 and text not in (p for _, p in self._chosen):
                kind = "file" if model.is_file() else "folder"
                self._chosen.append((f"{kind}: {text}", text))
            model = text
        changed = model != self._model
        self._model = model
        self._fill_models()
        if changed:
            self._describe()

    def start_from(self, model: str | None, text: str, layer: int, head: int | None) -> None:
        """Open on what was used last (or what the shown preset came from)."""
        self.text_edit.setText(text)
        self._wanted = (layer, head)
        if model is None or model == "smollm2":
            self.set_model(model)
        elif Path(model).exists():
            self.set_model(Path(model))
        # a model that has gone keeps the default choice; layer and head then may not fit

    def set_folder(self, folder: Path | None) -> None:
        """A checkpoint folder or GGUF file (None: the bundled example)."""
        self.set_model(folder)

    # Running things on the worker -----------------------------------------------------
    def _submit(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Run `fn` on the worker; deliver its answer only while the dialog is open."""
        open_flag = self._open

        def guarded(callback: Callable[[Any], None]) -> Callable[[Any], None]:
            def deliver(value: Any) -> None:
                if open_flag[0]:
                    callback(value)

            return deliver

        try:
            self._background.submit(fn, guarded(on_done), guarded(on_error))
        except RuntimeError:  # the window shut its worker down: it is closing
            open_flag[0] = False

    def done(self, result: int) -> None:
        """Accept, reject or close: answers still on their way are dropped."""
        self._open[0] = False
        super().done(result)

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy_bar.setVisible(busy)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not busy)
        if text:
            self.status.setText(text)

    # Model info -------------------------------------------------------------------------
    def _describe(self) -> None:
        from selfattn.models import describe_model

        model = self._model
        self._describing += 1
        token = self._describing
        self.info = None
        self.generate_button.setVisible(False)
        self._set_busy(True, "Reading the model…")

        def described(info: Any) -> None:
            if token == self._describing:
                self._on_described(info)

        def failed(exc: BaseException) -> None:
            if token == self._describing:
                self._on_error(exc)

        self._submit(lambda: describe_model(model), described, failed)

    def _on_described(self, info: Any) -> None:
        self.info = info
        self.generate_button.setVisible(info.kind == "decoder")
        kv = info.kv_heads
        heads = f"{info.n_heads} heads of {info.head_dim}"
        if kv is not None and kv != info.n_heads:
            heads = f"{info.n_heads} query heads sharing {kv} key/value heads, d_k {info.head_dim}"
        self._set_busy(
            False,
            f"{info.name}: {info.n_layers} layers × {heads}, hidden {info.hidden}, "
            f"at most {info.max_positions:,} positions",
        )
        self.layer_spin.setRange(1, info.n_layers)
        current = self.head_combo.currentData()
        self.head_combo.clear()
        self.head_combo.addItem("all heads (the whole layer)", None)
        group = info.n_heads // kv if kv else 1
        for h in range(1, info.n_heads + 1):
            label = f"head {h}"
            if group > 1:
                label += f" (reads key/value head {(h - 1) // group + 1})"
            self.head_combo.addItem(label, h)
        if current is not None and current <= info.n_heads:
            self.head_combo.setCurrentIndex(current)
        if self._wanted is not None:
            layer, head = self._wanted
            self._wanted = None
            if layer <= info.n_layers and (head is None or head <= info.n_heads):
                self.layer_spin.setValue(layer)
                self.head_combo.setCurrentIndex(0 if head is None else head)
        self._preview()

    def _preview(self) -> None:
        from selfattn.models import tokenize

        model, text = self._model, self.text_edit.text()
        self._previewing += 1
        token = self._previewing

        def show(pieces: tuple[str, ...]) -> None:
            if token == self._previewing:
                self.pieces_label.setText(f"{len(pieces)}: " + " ".join(display_tokens(pieces)))

        def failed(exc: BaseException) -> None:
            if token == self._previewing:
                self.pieces_label.setText(str(exc))

        self._submit(lambda: tokenize(model, text), show, failed)

    def _on_error(self, exc: BaseException) -> None:
        self._set_busy(False, f"⚠ {exc}")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            self.info is not None and "install" not in str(exc)
        )

    # Loading ----------------------------------------------------------------------------
    def selection(self) -> tuple[str | None, int, int | None, str]:
        return (
            self._model,
            self.layer_spin.value(),
            self.head_combo.currentData(),
            self.text_edit.text(),
        )

    def generate(self) -> None:
        """Close with a request: the Generate panel continues the sentence with this model."""
        if self.info is None or self.info.kind != "decoder":
            return
        model, _layer, _head, text = self.selection()
        self.generate_request = (model, text)
        self.accept()

    def load(self) -> None:
        from selfattn.models import preset_from_model

        model, layer, head, text = self.selection()
        if self.atlas_check.isChecked():  # the window's Atlas view runs the model itself
            self.atlas_request = (model, text)
            self.accept()
            return
        self._generation += 1
        generation = self._generation
        self._set_busy(True, "Running the model up to the chosen layer…")

        def done(preset: Preset) -> None:
            if generation == self._generation:
                self.preset = preset
                decoder = self.info is not None and self.info.kind == "decoder"
                self.origin = ModelOrigin(model, text, layer, head, decoder)
                self._set_busy(False, "")
                self.accept()

        self._submit(lambda: preset_from_model(model, layer, head, text), done, self._on_error)
