"""File > Load from model…: a real transformer head becomes an ordinary, editable preset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
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

from selfattn.preset import Preset

from .worker import Background

DEFAULT_TEXT = "The cat sat on the mat because it was tired."


class LoadFromModelDialog(QDialog):
    """Choose model, layer, head and sentence; the preset is built on a worker thread."""

    def __init__(self, background: Background, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Load from model")
        self.setMinimumWidth(560)
        self._background = background
        self._folder: Path | None = None  # None: the bundled example
        self.preset: Preset | None = None
        self._generation = 0
        # Worker results can arrive after the dialog closed (and was deleted): drop them.
        self._open = [True]
        open_flag = self._open
        self.destroyed.connect(lambda *_: open_flag.__setitem__(0, False))

        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.model_combo = QComboBox()
        self.model_combo.addItem("all-MiniLM-L6-v2 (bundled example)", None)
        self.model_combo.addItem("Choose a folder…", "choose")
        self.model_combo.activated.connect(self._on_model_chosen)
        self.layer_spin = QSpinBox()
        self.layer_spin.setRange(1, 1)
        self.head_combo = QComboBox()
        self.text_edit = QLineEdit(DEFAULT_TEXT)
        self.text_edit.setPlaceholderText("A sentence to run through the model")
        self.pieces_label = QLabel()
        self.pieces_label.setWordWrap(True)
        self.pieces_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("model", self.model_combo)
        form.addRow("layer", self.layer_spin)
        form.addRow("head", self.head_combo)
        form.addRow("sentence", self.text_edit)
        form.addRow("word pieces", self.pieces_label)
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
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._preview_timer = QTimer(self, singleShot=True, interval=250)
        self._preview_timer.timeout.connect(self._preview)
        self.text_edit.textChanged.connect(lambda _t: self._preview_timer.start())
        self._describe()

    # Model info -------------------------------------------------------------
    def _on_model_chosen(self, index: int) -> None:
        if self.model_combo.itemData(index) == "choose":
            folder = QFileDialog.getExistingDirectory(
                self, "Checkpoint folder (config.json, model.safetensors)"
            )
            if not folder:
                self.model_combo.setCurrentIndex(0)
                return
            self.set_folder(Path(folder))
        else:
            self.set_folder(None)

    def set_folder(self, folder: Path | None) -> None:
        self._folder = folder
        if folder is not None:
            label = f"folder: {folder}"
            if self.model_combo.count() > 2:
                self.model_combo.setItemText(2, label)
                self.model_combo.setItemData(2, str(folder))
            else:
                self.model_combo.addItem(label, str(folder))
            self.model_combo.setCurrentIndex(2)
        self._describe()

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

        self._background.submit(fn, guarded(on_done), guarded(on_error))

    def done(self, result: int) -> None:
        """Accept, reject or close: answers still on their way are dropped."""
        self._open[0] = False
        super().done(result)

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy_bar.setVisible(busy)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not busy)
        if text:
            self.status.setText(text)

    def _describe(self) -> None:
        from selfattn.models import describe_model

        folder = self._folder
        self._set_busy(True, "Reading the model…")
        self._submit(lambda: describe_model(folder), self._on_described, self._on_error)

    def _on_described(self, info) -> None:
        self._set_busy(
            False,
            f"{info.name}: {info.n_layers} layers × {info.n_heads} heads of {info.head_dim}, "
            f"hidden {info.hidden}, at most {info.max_positions} positions",
        )
        self.layer_spin.setRange(1, info.n_layers)
        current = self.head_combo.currentData()
        self.head_combo.clear()
        self.head_combo.addItem("all heads (the whole layer)", None)
        for h in range(1, info.n_heads + 1):
            self.head_combo.addItem(f"head {h}", h)
        if current is not None and current <= info.n_heads:
            self.head_combo.setCurrentIndex(current)
        self._preview()

    def _preview(self) -> None:
        from selfattn.models import tokenize

        folder, text = self._folder, self.text_edit.text()
        self._submit(
            lambda: tokenize(folder, text),
            lambda pieces: self.pieces_label.setText(f"{len(pieces)}: " + " ".join(pieces)),
            lambda exc: self.pieces_label.setText(str(exc)),
        )

    def _on_error(self, exc: BaseException) -> None:
        self._set_busy(False, f"⚠ {exc}")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            not isinstance(exc, ValueError) or "install" not in str(exc)
        )

    # Loading ----------------------------------------------------------------
    def selection(self) -> tuple[Path | None, int, int | None, str]:
        return (
            self._folder,
            self.layer_spin.value(),
            self.head_combo.currentData(),
            self.text_edit.text(),
        )

    def load(self) -> None:
        from selfattn.models import preset_from_model

        folder, layer, head, text = self.selection()
        self._generation += 1
        generation = self._generation
        self._set_busy(True, "Running the model up to the chosen layer…")

        def done(preset: Preset) -> None:
            if generation == self._generation:
                self.preset = preset
                self._set_busy(False, "")
                self.accept()

        self._submit(lambda: preset_from_model(folder, layer, head, text), done, self._on_error)
