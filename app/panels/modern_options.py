"""The Options rows of modern attention: RoPE, key/value heads and the sliding window.

Each control asks the document for one undoable change (`commands.set_options`,
`commands.set_kv_heads`) and, when the change is refused, shows the preset's value
again. The controls never hold a value of their own: `sync` copies the preset's.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QWidget,
)

from selfattn.preset import MAX_WINDOW, Preset, Rope
from selfattn.rope import check_rope

from .. import commands
from ..document import Document
from .checked_spin import CheckedDoubleSpinBox, CheckedSpinBox

ROPE_CHOICES = (
    ("off", None),
    ("half (transformers, GPT-NeoX)", "half"),
    ("interleaved (RoFormer, GPT-J, GGUF)", "interleaved"),
)
MAX_THETA = 1e12


class CompactSpinBox(CheckedDoubleSpinBox):
    """Shows 100000, not 100000.00: the shortest text of the value (up to its decimals)."""

    def textFromValue(self, value: float) -> str:
        return f"{value:.{self.decimals()}f}".rstrip("0").rstrip(".")


def divisors(n: int) -> list[int]:
    """The divisors of n, largest first: the key/value head counts n query heads allow."""
    return [g for g in range(n, 0, -1) if n % g == 0]


class ModernOptions:
    """Adds its rows to the Options form; `sync` shows the document's preset."""

    def __init__(self, document: Document, form: QFormLayout, parent: QWidget) -> None:
        self._doc = document
        self._parent = parent
        self._updating = False
        # The RoPE just switched off, and the preset that switch made: switching on again
        # right away restores it. Any other preset without RoPE (another file, a model's
        # preset left behind) shows and starts from the defaults, theta 10000 and r = d_k.
        self._switched_off: tuple[Preset, Rope] | None = None

        heading = QLabel("<b>Modern attention</b>")
        form.addRow(heading)

        self.rope_combo = QComboBox()
        for label, style in ROPE_CHOICES:
            self.rope_combo.addItem(label, style)
        self.rope_combo.setToolTip(
            "Rotary position embeddings: q and k are rotated pair by pair by their\n"
            "position before the dot product. 'half' pairs column i with i + r/2,\n"
            "'interleaved' pairs 2i with 2i + 1."
        )
        form.addRow("RoPE", self.rope_combo)

        rope_row = QHBoxLayout()
        self.theta_spin = CompactSpinBox("theta", document.report, typical="1000000")
        self.theta_spin.setDecimals(2)
        self.theta_spin.setRange(0.01, MAX_THETA)
        self.theta_spin.setKeyboardTracking(False)
        self.theta_spin.setToolTip("theta: inv_freq_i = theta^(-2i/r)")
        self.dims_spin = CheckedSpinBox("rotary dims", document.report)
        self.dims_spin.setRange(2, 2)
        self.dims_spin.setSingleStep(2)
        self.dims_spin.setKeyboardTracking(False)
        self.dims_spin.setToolTip("Rotary dims r: the first r columns of each head turn (even)")
        rope_row.addWidget(QLabel("theta"))
        rope_row.addWidget(self.theta_spin, 2)
        rope_row.addWidget(QLabel("dims"))
        rope_row.addWidget(self.dims_spin, 1)
        form.addRow("", rope_row)

        self.kv_combo = QComboBox()
        self.kv_combo.setToolTip(
            "Key/value heads G (grouped-query attention): W_K and W_V hold G head blocks;\n"
            "query head h reads key/value head h // (H/G). G = 1 is multi-query attention."
        )
        form.addRow("kv heads", self.kv_combo)

        self.window_spin = CheckedSpinBox("window", document.report, "100000")
        self.window_spin.setRange(0, min(MAX_WINDOW, 2**31 - 1))
        self.window_spin.setSpecialValueText("off")
        self.window_spin.setKeyboardTracking(False)
        self.window_spin.setToolTip(
            "Sliding window w: query i sees key j only if p_i - w < p_j (0 = off)"
        )
        form.addRow("window", self.window_spin)

        for spin in (self.theta_spin,):
            spin.setLocale(QLocale.c())
        self.rope_combo.currentIndexChanged.connect(self._on_rope_style)
        self.theta_spin.valueChanged.connect(self._on_theta)
        self.dims_spin.valueChanged.connect(self._on_dims)
        self.kv_combo.currentIndexChanged.connect(self._on_kv_heads)
        self.window_spin.valueChanged.connect(self._on_window)

    # Showing the preset ------------------------------------------------------------
    def sync(self) -> None:
        p = self._doc.preset
        o = p.options
        rope = o.rope
        self._updating = True
        try:
            styles = [style for _, style in ROPE_CHOICES]
            self.rope_combo.setCurrentIndex(styles.index(rope.style if rope else None))
            shown = rope or self._remembered_rope() or Rope()
            explicit = shown.inv_freq is not None
            self.theta_spin.setValue(float(shown.theta))
            self.theta_spin.setEnabled(rope is not None and not explicit)
            self.theta_spin.setToolTip(
                f"This preset lists {len(shown.inv_freq)} frequencies itself (inv_freq, e.g. "
                "a model's scaled RoPE): theta is not used"
                if explicit and shown.inv_freq is not None
                else "theta: inv_freq_i = theta^(-2i/r)"
            )
            d_k = p.d_k
            top = d_k - d_k % 2
            if explicit and shown.inv_freq is not None:
                top = min(top, 2 * len(shown.inv_freq))
            self.dims_spin.setRange(2, max(top, 2))
            self.dims_spin.setValue(shown.rotary_dims(d_k) if rope else top)
            self.dims_spin.setEnabled(rope is not None and top >= 2)
            self.kv_combo.clear()
            heads = o.heads
            for g in divisors(heads):
                if g == heads:
                    label = f"{g} (one per query head)"
                elif g == 1:
                    label = "1 (multi-query: all heads share it)"
                else:
                    label = f"{g} ({heads // g} query heads share each)"
                self.kv_combo.addItem(label, g)
            self.kv_combo.setCurrentIndex(max(self.kv_combo.findData(p.kv_heads), 0))
            self.kv_combo.setEnabled(heads > 1)
            self.window_spin.setValue(o.window or 0)
        finally:
            self._updating = False

    def _remembered_rope(self) -> Rope | None:
        """The RoPE switched off by the last change, if the preset is still the one it made."""
        if self._switched_off is not None and self._switched_off[0] is self._doc.preset:
            return self._switched_off[1]
        return None

    # Requests ---------------------------------------------------------------------------
    def _request(self, text: str, merge_key: str | None = None, **changes: object) -> None:
        """Ask for an option change; if refused, show the preset's value again."""
        if not commands.set_options(self._doc, text, merge_key, **changes):
            self.sync()

    def _refuse(self, reason: str) -> None:
        self._doc.report(f"Refused: {reason}. The old value stays.")
        self.sync()

    def _request_rope(self, rope: Rope | None, text: str, merge_key: str | None = None) -> None:
        if rope is not None:
            problem = check_rope(rope, self._doc.preset.d_k)
            if problem is not None:
                return self._refuse(f"rope {problem}")
        self._request(text, merge_key, rope=rope)

    def _on_rope_style(self, _index: int) -> None:
        if self._updating:
            return
        style = self.rope_combo.currentData()
        current = self._doc.preset.options.rope
        if style is None:
            self._request_rope(None, "RoPE off")
            if current is not None and self._doc.preset.options.rope is None:
                self._switched_off = (self._doc.preset, current)
                self.sync()
            return
        d_k = self._doc.preset.d_k
        rope = replace(current or self._remembered_rope() or Rope(), style=style)
        if current is None and check_rope(rope, d_k) is not None:
            # The remembered settings do not fit these heads; an odd d_k rotates all
            # but its last column.
            rope = Rope(style=style, dims=None if d_k % 2 == 0 else d_k - 1)
        self._request_rope(rope, f"RoPE {style}")

    def _on_theta(self, value: float) -> None:
        rope = self._doc.preset.options.rope
        if self._updating or rope is None or value <= 0:
            return
        theta = float(f"{value:.10g}")
        self._request_rope(replace(rope, theta=theta), f"RoPE theta {theta:g}", "rope_theta")

    def _on_dims(self, value: int) -> None:
        p = self._doc.preset
        rope = p.options.rope
        if self._updating or rope is None:
            return
        if value % 2:
            return self._refuse(f"rotary dims must be even, got {value}")
        inv = rope.inv_freq
        if inv is not None:
            if value > 2 * len(inv):
                return self._refuse(
                    f"the preset lists {len(inv)} frequencies, enough for {2 * len(inv)} dims"
                )
            inv = inv[: value // 2]
        dims = None if value == p.d_k and inv is None else value
        self._request_rope(
            replace(rope, dims=dims, inv_freq=inv), f"RoPE dims {value}", "rope_dims"
        )

    def _on_kv_heads(self, _index: int) -> None:
        if self._updating:
            return
        g = self.kv_combo.currentData()
        if isinstance(g, int) and not commands.set_kv_heads(self._doc, g):
            self.sync()

    def _on_window(self, value: int) -> None:
        if self._updating:
            return
        window = value or None
        text = f"Window {value}" if window else "Window off"
        self._request(text, "window", window=window)
