"""Options panel: scale, temperature, causal mask, dtype, and modern attention (RoPE,
key/value heads, sliding window). Heads live with the dimensions in the Inputs panel."""

from __future__ import annotations

import math

from PySide6.QtCore import QLocale, QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QWidget,
)

from selfattn.attention import resolve_scale

from .. import commands
from ..change import Change
from ..document import Document
from ..undo_keys import route_undo_keys
from .checked_spin import CheckedDoubleSpinBox
from .modern_options import ModernOptions

# The slider spans temperatures 0.01 .. 100 on a log scale.
_SLIDER_STEPS = 400
_LOG_MIN, _LOG_MAX = -2.0, 2.0


def slider_to_temperature(position: int) -> float:
    return 10 ** (_LOG_MIN + (_LOG_MAX - _LOG_MIN) * position / _SLIDER_STEPS)


def temperature_to_slider(temperature: float) -> int:
    t = min(max(math.log10(temperature), _LOG_MIN), _LOG_MAX)
    return round((t - _LOG_MIN) / (_LOG_MAX - _LOG_MIN) * _SLIDER_STEPS)


def fit_combos_to_narrow_dock(panel: QWidget) -> None:
    """Combo boxes as narrow as 8 characters (their lists still show the whole entries):
    sized for their longest entry, the RoPE and key/value rows made the Options dock
    scroll sideways at the default window size."""
    for combo in panel.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(8)
        combo.view().setTextElideMode(Qt.TextElideMode.ElideNone)


class OptionsScrollArea(QScrollArea):
    """The Options dock's content: scrolls up and down, never sideways.

    Its smallest width is the panel's smallest width (plus the vertical scroll bar),
    so the dock is never made narrower than its content; zooming updates both.
    """

    def __init__(self, panel: QWidget) -> None:
        super().__init__()
        self.setWidget(panel)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self) -> QSize:
        panel = self.widget()
        hint = super().minimumSizeHint()
        if panel is None:
            return hint
        width = panel.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QSize(width + 2 * self.frameWidth(), hint.height())


class OptionsPanel(QWidget):
    """Every option is one undoable document change; the controls only mirror the preset."""

    SCALES = (("sqrt(d_k)", "sqrt_dk"), ("none (1)", "none"), ("custom", "custom"))

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc = document
        self._updating = False
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        scale_row = QHBoxLayout()
        self.scale_combo = QComboBox()
        for label, value in self.SCALES:
            self.scale_combo.addItem(label, value)
        self.scale_combo.setToolTip("Raw scores are divided by scale x temperature")
        divides = "the scores are divided by it"
        self.custom_scale = CheckedDoubleSpinBox("scale", document.report, divides, "10.000000")
        self.custom_scale.setDecimals(6)
        self.custom_scale.setRange(1e-6, 1e6)
        self.custom_scale.setKeyboardTracking(False)
        self.custom_scale.setToolTip("Custom divisor of the raw scores")
        scale_row.addWidget(self.scale_combo, 1)
        scale_row.addWidget(self.custom_scale, 1)
        form.addRow("scale", scale_row)

        temp_row = QHBoxLayout()
        self.temperature_slider = QSlider(Qt.Orientation.Horizontal)
        self.temperature_slider.setRange(0, _SLIDER_STEPS)
        self.temperature_slider.setToolTip(
            "Temperature (log scale 0.01 to 100): high flattens rows"
        )
        self.temperature_spin = CheckedDoubleSpinBox(
            "temperature", document.report, divides, "100.0000"
        )
        self.temperature_spin.setDecimals(4)
        self.temperature_spin.setRange(1e-4, 1e4)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setKeyboardTracking(False)
        temp_row.addWidget(self.temperature_slider, 2)
        temp_row.addWidget(self.temperature_spin, 1)
        form.addRow("temperature", temp_row)

        self.causal_check = QCheckBox("causal (key j ≤ query i)")
        form.addRow("mask", self.causal_check)

        self.dtype_combo = QComboBox()
        self.dtype_combo.addItem("float64 (exact digits)", "float64")
        self.dtype_combo.addItem("float32 (like a GPU)", "float32")
        form.addRow("dtype", self.dtype_combo)

        self.modern = ModernOptions(document, form, self)

        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setTextFormat(Qt.TextFormat.PlainText)
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.description.setToolTip("The preset's description (saved with the preset)")
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        form.addRow(self.title)
        form.addRow(self.description)

        fit_combos_to_narrow_dock(self)

        # Numbers are typed with '.' whatever the desktop's locale, like the table cells.
        for spin in (self.custom_scale, self.temperature_spin):
            spin.setLocale(QLocale.c())

        self.scale_combo.currentIndexChanged.connect(self._on_scale)
        self.custom_scale.valueChanged.connect(self._on_scale)
        self.temperature_slider.valueChanged.connect(self._on_slider)
        self.temperature_spin.valueChanged.connect(self._on_temperature_spin)
        self.causal_check.toggled.connect(self._on_causal)
        self.dtype_combo.currentIndexChanged.connect(self._on_dtype)
        document.changed.connect(self._on_changed)
        self._sync()
        route_undo_keys(self)  # Ctrl+Z in a box undoes the document's last step

    def _on_changed(self, _change: Change) -> None:
        self._sync()

    def _sync(self) -> None:
        o = self._doc.preset.options
        self._updating = True
        try:
            if isinstance(o.scale, str):
                self.scale_combo.setCurrentIndex(0 if o.scale == "sqrt_dk" else 1)
                self.custom_scale.setEnabled(False)
                shown = resolve_scale(
                    "sqrt_dk" if o.scale == "sqrt_dk" else "none", self._doc.preset.d_k
                )
                self.custom_scale.setValue(shown)
            else:
                self.scale_combo.setCurrentIndex(2)
                self.custom_scale.setEnabled(True)
                self.custom_scale.setValue(float(o.scale))
            self.temperature_spin.setValue(o.temperature)
            self.temperature_slider.setValue(temperature_to_slider(o.temperature))
            self.causal_check.setChecked(o.causal)
            self.dtype_combo.setCurrentIndex(0 if o.dtype == "float64" else 1)
            self.modern.sync()
            self.title.setText(self._doc.preset.name)
            self.description.setText(self._doc.preset.description)
        finally:
            self._updating = False

    def _request(self, text: str, merge_key: str | None = None, **changes: object) -> None:
        """Ask the document for an option change; if refused, show its value again."""
        if not commands.set_options(self._doc, text, merge_key, **changes):
            self._sync()

    def _on_scale(self, *_args: object) -> None:
        if self._updating:
            return
        choice = self.scale_combo.currentData()
        if choice == "custom":
            if self.sender() is self.scale_combo:
                # Switching to custom keeps the exact divisor in use (sqrt(3), not the
                # box's 1.732051): the results move only when the person types a value.
                value = self._current_scale()
            else:
                value = float(self.custom_scale.value())
            self._request(f"Scale: divide by {value:g}", "scale", scale=value)
        else:
            self._request(f"Scale: {self.scale_combo.currentText()}", scale=choice)

    def _current_scale(self) -> float:
        """The exact number the preset's scale divides the scores by."""
        p = self._doc.preset
        scale = p.options.scale
        if isinstance(scale, str):
            return resolve_scale("none" if scale == "none" else "sqrt_dk", p.d_k)
        return float(scale)

    def _on_slider(self, position: int) -> None:
        if self._updating:
            return
        t = float(f"{slider_to_temperature(position):.4g}")
        self._request(f"Temperature {t:g}", "temperature", temperature=t)

    def _on_temperature_spin(self, value: float) -> None:
        if self._updating or value <= 0:
            return
        self._request(f"Temperature {value:g}", "temperature", temperature=float(value))

    def _on_causal(self, checked: bool) -> None:
        if not self._updating:
            self._request("Causal mask " + ("on" if checked else "off"), causal=checked)

    def _on_dtype(self, _index: int) -> None:
        if not self._updating:
            dtype = self.dtype_combo.currentData()
            self._request(f"dtype {dtype}", dtype=dtype)
