"""Move through a loaded model without the dialog: a layer and head bar above the heatmap.

Shown only while the document's preset came from a model (`Document.origin`). A new
layer or head is built on the worker by preset_from_model, which takes the layer
inputs from the kept forward pass (selfattn.models.layer_cache), and replaces the
preset as one undo step (commands.move_in_model). While it works, a busy bar runs
and the heatmaps are greyed out so nobody reads the old numbers. Quick repeats
coalesce: one job runs at a time, and only the newest request is applied.

Page Up / Page Down step the layer, Ctrl+Page Up / Ctrl+Page Down the head,
anywhere in the window except in widgets that use those keys themselves (tables
and their editors, text boxes, sliders, other spin boxes).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QSpinBox,
    QTextEdit,
    QWidget,
)

from selfattn.models.origin import ModelOrigin
from selfattn.preset import Preset

from . import commands
from .document import Document
from .heatmap.base import HeatmapBase
from .worker import Background

TEXT_CHARS = 48  # of the model's text shown in the bar (all of it in the tooltip)
# Focus in one of these (or inside one, like a table's cell editor): Page Up/Down are theirs.
PAGE_KEY_WIDGETS = (QAbstractItemView, QTextEdit, QPlainTextEdit, QAbstractSlider, QAbstractSpinBox)
LAYER_KEYS = ("PgUp", "PgDown")  # previous, next layer
HEAD_KEYS = ("Ctrl+PgUp", "Ctrl+PgDown")  # previous, next head


def keys_text(keys: Sequence[str]) -> str:
    return " / ".join(
        QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in keys
    )


class ModelNavigator(QWidget):
    """Model name, layer spin box, head combo and a busy bar for the document's model preset."""

    message = Signal(str)  # for the status bar (errors, what was opened)
    busyChanged = Signal(bool)  # `busy` changed

    def __init__(
        self,
        document: Document,
        background: Background,
        views: Sequence[HeatmapBase] = (),
        recompute: Any = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._doc = document
        self._background = background
        self._views = list(views)  # greyed out while a move computes
        self._recompute = recompute  # its busy state keeps the views greyed until drawn
        self._infos: dict[str | None, Any] = {}  # ModelInfo per model, once read
        self._describing: str | None | bool = False  # the model being read (False: none)
        self._wanted: ModelOrigin | None = None  # the newest request not yet applied
        self._generation = 0  # of requests: an older job's result is dropped
        self._running = False  # a job is on the worker
        self._computing = False  # a move is being built
        self._drawing = False  # the moved-to preset is still being computed by `recompute`
        self._stale = False  # what the views and the busy bar show: computing or drawing
        self._model_name = ""

        self.model_label = QLabel()
        self.layer_spin = QSpinBox()
        self.layer_spin.setPrefix("layer ")
        self.layer_spin.setKeyboardTracking(False)  # typed numbers count on Enter
        self.layer_spin.setToolTip(
            f"Layer of the model the preset came from ({keys_text(LAYER_KEYS)}: "
            "previous / next layer)"
        )
        self.head_combo = QComboBox()
        self.head_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.head_combo.setToolTip(
            f"One head, or the whole layer ({keys_text(HEAD_KEYS)}: previous / next head)"
        )
        self.text_label = QLabel()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # a busy indicator, not a percentage
        self.busy_bar.setMaximumWidth(90)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setToolTip("Running the model to the chosen layer…")
        self.busy_bar.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.model_label)
        layout.addWidget(self.layer_spin)
        layout.addWidget(self.head_combo)
        layout.addWidget(self.text_label, 1)
        layout.addWidget(self.busy_bar)

        self.layer_spin.valueChanged.connect(lambda _v: self._on_selectors())
        self.head_combo.activated.connect(lambda _i: self._on_selectors())
        self.shortcuts = {
            keys: QShortcut(QKeySequence(keys), self, context=Qt.ShortcutContext.WindowShortcut)
            for keys in LAYER_KEYS + HEAD_KEYS
        }
        self.shortcuts[LAYER_KEYS[0]].activated.connect(lambda: self.step_layer(-1))
        self.shortcuts[LAYER_KEYS[1]].activated.connect(lambda: self.step_layer(+1))
        self.shortcuts[HEAD_KEYS[0]].activated.connect(lambda: self.step_head(-1))
        self.shortcuts[HEAD_KEYS[1]].activated.connect(lambda: self.step_head(+1))
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus_changed)
        document.originChanged.connect(self._on_origin_changed)
        if recompute is not None:
            recompute.busyChanged.connect(self._on_recompute_busy)
        self._on_origin_changed(document.origin)

    # State ----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A move is being built, or its preset's results are still being computed."""
        return self._stale

    def wanted(self) -> tuple[int, int | None]:
        """(layer, head) the selectors show: the document's, or the one being computed."""
        return self.layer_spin.value(), self.head_combo.currentData()

    # Moving ---------------------------------------------------------------------------
    def step_layer(self, delta: int) -> None:
        """The previous (-1) or next (+1) layer, same head; nothing past either end."""
        if self._ready():
            layer = self.layer_spin.value() + delta
            if self.layer_spin.minimum() <= layer <= self.layer_spin.maximum():
                self.go_to(layer, self.head_combo.currentData())

    def step_head(self, delta: int) -> None:
        """The previous or next entry of the head list ("all heads", head 1, head 2…)."""
        if self._ready():
            index = self.head_combo.currentIndex() + delta
            if 0 <= index < self.head_combo.count():
                self.go_to(self.layer_spin.value(), self.head_combo.itemData(index))

    def go_to(self, layer: int, head: int | None) -> None:
        """Build (layer, head) of the document's model and text; replace the preset when done."""
        origin = self._doc.origin
        if origin is None:
            return
        target = origin.moved(layer, head)
        self._show_selection(target)
        self._generation += 1
        if target == origin:  # back where the document is: drop what is on its way
            self._wanted = None
            self._set_busy(False)
            return
        self._wanted = target
        self._set_busy(True)
        if not self._running:
            self._start()

    def _ready(self) -> bool:
        return self._doc.origin is not None and self.layer_spin.isEnabled()

    def _on_selectors(self) -> None:
        if self._ready():
            self.go_to(self.layer_spin.value(), self.head_combo.currentData())

    def _start(self) -> None:
        from selfattn.models import preset_from_model  # the model readers load when used

        target = self._wanted
        assert target is not None
        generation = self._generation
        self._running = True

        def job() -> Preset:
            return preset_from_model(target.model, target.layer, target.head, target.text)

        self._background.submit(
            job,
            lambda preset: self._finished(generation, target, preset, None),
            lambda exc: self._finished(generation, target, None, exc),
        )

    def _finished(
        self,
        generation: int,
        target: ModelOrigin,
        preset: Preset | None,
        error: BaseException | None,
    ) -> None:
        self._running = False
        if generation != self._generation:  # a newer request came meanwhile
            if self._wanted is not None:
                self._start()
            return
        self._wanted = None
        current = self._doc.origin
        if error is not None or preset is None:
            self._set_busy(False)
            self._show_selection(current)
            self.message.emit(f"Cannot open {target.describe()}: {error}")
            return
        if current is None or (current.model, current.text) != (target.model, target.text):
            self._set_busy(False)  # the document moved on to something else
            return
        if commands.move_in_model(self._doc, preset, target):
            self._drawing = self._recompute is not None and bool(self._recompute.busy)
            self.message.emit(f"Opened {target.describe()} of {self._model_name}")
        else:
            self._show_selection(current)
        self._set_busy(False)

    # Busy and greyed ------------------------------------------------------------------
    def _set_busy(self, busy: bool) -> None:
        self._computing = busy
        self._show_stale()

    def _on_recompute_busy(self, busy: bool) -> None:
        if not busy and self._drawing:
            self._drawing = False
            self._show_stale()

    def _show_stale(self) -> None:
        stale = self._computing or self._drawing
        self.busy_bar.setVisible(stale)
        wanted = self._wanted
        note = f"Computing {wanted.describe()}…" if wanted is not None else "Computing…"
        for view in self._views:
            view.set_stale(stale, note)
        if stale != self._stale:
            self._stale = stale
            self.busyChanged.emit(stale)

    # Following the document -----------------------------------------------------------
    def _on_origin_changed(self, origin: ModelOrigin | None) -> None:
        """A load, undo or redo: show its layer and head; requests for the old one lapse."""
        if self._wanted is not None and origin != self._wanted:
            self._generation += 1  # whatever runs was asked for another preset
            self._wanted = None
            self._set_busy(False)
        self.setVisible(origin is not None)
        if origin is None:
            return
        info = self._infos.get(origin.model)
        if info is None:
            self._describe(origin.model)
        else:
            self._fill(info)
        self._show_selection(origin)

    def _describe(self, model: str | None) -> None:
        from selfattn.models import describe_model

        if self._describing is not False and self._describing == model:
            return
        self._describing = model
        self.layer_spin.setEnabled(False)
        self.head_combo.setEnabled(False)
        self.model_label.setText("reading the model…")

        def described(info: Any) -> None:
            self._describing = False
            self._infos[model] = info
            origin = self._doc.origin
            if origin is not None and origin.model == model:
                self._fill(info)
                self._show_selection(origin)

        def failed(exc: BaseException) -> None:
            self._describing = False
            self.model_label.setText("⚠ model not readable")
            self.message.emit(f"Cannot read the model: {exc}")

        self._background.submit(lambda: describe_model(model), described, failed)

    def _fill(self, info: Any) -> None:
        """Ranges and head list of the model."""
        self._model_name = str(info.name)
        self.model_label.setText(f"<b>{html.escape(self._model_name)}</b>")
        self.layer_spin.blockSignals(True)
        self.layer_spin.setRange(1, info.n_layers)
        self.layer_spin.setSuffix(f" of {info.n_layers}")
        self.layer_spin.blockSignals(False)
        if self.head_combo.count() != info.n_heads + 1:
            self.head_combo.blockSignals(True)
            self.head_combo.clear()
            self.head_combo.addItem("all heads", None)
            for h in range(1, info.n_heads + 1):
                self.head_combo.addItem(f"head {h} of {info.n_heads}", h)
            self.head_combo.blockSignals(False)
        self.layer_spin.setEnabled(True)
        self.head_combo.setEnabled(True)

    def _show_selection(self, origin: ModelOrigin | None) -> None:
        """Put the selectors on `origin` without asking for anything."""
        if origin is None:
            return
        self.layer_spin.blockSignals(True)
        self.layer_spin.setValue(origin.layer)
        self.layer_spin.blockSignals(False)
        index = self.head_combo.findData(origin.head)
        if index >= 0:
            self.head_combo.blockSignals(True)
            self.head_combo.setCurrentIndex(index)
            self.head_combo.blockSignals(False)
        text = origin.text
        shown = text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"
        self.text_label.setText(f"on “{shown}”")
        self.text_label.setToolTip(text)

    # Keys -----------------------------------------------------------------------------
    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        self._enable_shortcuts(new)

    def _enable_shortcuts(self, focus: QWidget | None) -> None:
        """Page keys belong to the focused widget when it uses them (tables, editors…)."""
        on = not self.uses_page_keys(focus)
        for shortcut in self.shortcuts.values():
            shortcut.setEnabled(on)

    def uses_page_keys(self, widget: QWidget | None) -> bool:
        """Whether `widget` (or what holds it, like a table holds its cell editor) pages.

        Also true inside a panel with its own Page Up/Down shortcuts (the walk-through):
        two shortcuts for one key would make Qt run neither.
        """
        own = (self.layer_spin, self.head_combo)
        keys = {QKeySequence(k) for k in LAYER_KEYS + HEAD_KEYS}
        while widget is not None:
            if widget in own:
                return False  # on the bar itself the keys move through the model
            if isinstance(widget, PAGE_KEY_WIDGETS):
                return True
            children = widget.findChildren(
                QShortcut, options=Qt.FindChildOption.FindDirectChildrenOnly
            )
            if any(sc.key() in keys for sc in children if sc.parent() is not self):
                return True
            widget = widget.parentWidget()
        return False


def install_model_nav(window: Any) -> ModelNavigator:
    """Put the navigator above the window's heatmap; its messages go to the status bar."""
    nav = ModelNavigator(
        window.document,
        window.background,
        (window.heatmap, window.all_heads),
        window.recompute,
        window,
    )
    nav.message.connect(window.show_message)
    layout = window.centralWidget().layout()
    layout.insertWidget(layout.indexOf(window.center_tabs), nav)
    return nav
