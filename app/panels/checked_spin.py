"""Spin boxes that say why they refuse a number instead of clamping it silently.

Qt's spin boxes refuse a keystroke that makes the number too large (typing 100000
into a box that takes at most 8192 left "1000", which Enter then committed) and put
the old value back, without a word, when the typed number is too small (temperature
0). These boxes let the typed number stand while the person types, and when editing
ends (Enter, focus leaves) Qt's fix-up step reports "tokens: at most 8192 (typed
100000); 4 stays" through `report` (the status bar) and shows the old value again.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QSize
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

Report = Callable[[str], None]
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def _typed_number(text: str, prefix: str, suffix: str, integer: bool) -> float | None:
    """The plain number typed (no prefix or suffix), None when it is not one."""
    core = text.removeprefix(prefix).removesuffix(suffix).strip()
    pattern = _INTEGER if integer else _DECIMAL
    return float(core) if pattern.fullmatch(core) else None


def range_message(
    name: str,
    typed: str,
    number: float,
    bounds: tuple[float, float],
    shown: Callable[[float], str],
    old: str,
    why_low: str = "",
) -> str | None:
    """What to tell the person when `number` lies outside `bounds`; None inside.

    shown: how the box writes a number (its decimals, no trailing zeros).
    """
    low, high = bounds
    if number > high:
        return f"{name}: at most {shown(high)} (typed {typed}); {old} stays"
    if number < low:
        because = f" — {why_low}" if why_low else ""
        return f"{name}: at least {shown(low)}{because} (typed {typed}); {old} stays"
    return None


def narrowed(hint: QSize, box: QAbstractSpinBox, widest: str, typical: str) -> QSize:
    """Qt sizes a spin box for its widest number (theta up to 1e12 is 16 digits wide);
    `typical` numbers are enough for the smallest width, so the Options dock fits its
    column. A longer number still shows, scrolled, while it is typed."""
    if not typical:
        return hint
    metrics = box.fontMetrics()
    spare = metrics.horizontalAdvance(widest) - metrics.horizontalAdvance(typical)
    return QSize(hint.width() - max(spare, 0), hint.height())


def _trimmed(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


class _RangeReporting:
    """What the integer and decimal boxes share: a name, the report, a typical width,
    and Qt's validate/fixup hooks around the box's own `_message`."""

    name: str

    def _set_up(self, name: str, report: Report, typical: str) -> None:
        self.name = name
        self._report = report
        self._typical = typical  # the widest number the box needs room for at its smallest
        if typical:  # may shrink to it (Qt's spin boxes never go below their size hint)
            self.setSizePolicy(  # type: ignore[attr-defined]
                QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed
            )

    def _message(self, text: str) -> str | None:
        raise NotImplementedError

    def minimumSizeHint(self) -> QSize:
        box: QAbstractSpinBox = self  # type: ignore[assignment]
        widest = max(
            box.textFromValue(box.minimum()),  # type: ignore[attr-defined]
            box.textFromValue(box.maximum()),  # type: ignore[attr-defined]
            key=len,
        )
        return narrowed(super().minimumSizeHint(), box, widest, self._typical)  # type: ignore[misc]

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        state, text, pos = super().validate(text, pos)  # type: ignore[misc]
        if state == QValidator.State.Invalid and self._message(text) is not None:
            state = QValidator.State.Intermediate  # let it stand: Enter reports it
        return state, text, pos

    def fixup(self, text: str) -> str:
        message = self._message(text)
        if message is not None:
            self._report(message)
        return super().fixup(text)  # type: ignore[misc,no-any-return]


class CheckedSpinBox(_RangeReporting, QSpinBox):
    """An integer box named `name` that reports a number out of its range."""

    def __init__(
        self, name: str, report: Report, typical: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._set_up(name, report, typical)

    def _message(self, text: str) -> str | None:
        number = _typed_number(text, self.prefix(), self.suffix(), integer=True)
        if number is None:
            return None
        old = self.textFromValue(self.value())
        bounds = (self.minimum(), self.maximum())
        return range_message(self.name, text.strip(), number, bounds, lambda x: f"{x:.0f}", old)


class CheckedDoubleSpinBox(_RangeReporting, QDoubleSpinBox):
    """A decimal box named `name` that reports a number out of its range.

    why_low: the reason a smaller number is refused (e.g. the scores are divided by it).
    """

    def __init__(
        self,
        name: str,
        report: Report,
        why_low: str = "",
        typical: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._set_up(name, report, typical)
        self._why_low = why_low

    def _message(self, text: str) -> str | None:
        number = _typed_number(text, self.prefix(), self.suffix(), integer=False)
        if number is None:
            return None
        old = _trimmed(self.textFromValue(self.value()))
        bounds = (self.minimum(), self.maximum())
        return range_message(
            self.name,
            text.strip(),
            number,
            bounds,
            lambda x: _trimmed(self.textFromValue(x)),
            old,
            self._why_low,
        )
