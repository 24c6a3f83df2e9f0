"""Undo and Redo keys reach the window's undo stack from the panels' spin boxes.

A focused QSpinBox (through its QLineEdit) claims Ctrl+Z, Ctrl+Y and Ctrl+Shift+Z
with a ShortcutOverride event to undo its own typing, so Edit → Undo never fired
while a dimension or option box had the focus, even right after that box changed the
document. The filter here declines the override (the window's actions then fire)
unless the box holds typing not yet committed: that typing is the box's to undo.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget

_EXTRA_KEYS = (QKeySequence("Ctrl+Y"), QKeySequence("Ctrl+Shift+Z"))


def is_undo_or_redo(event: QKeyEvent) -> bool:
    """Ctrl+Z, the platform's Redo, Ctrl+Y and Ctrl+Shift+Z (the window's undo actions)."""
    if event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo):
        return True
    return QKeySequence(event.keyCombination()) in _EXTRA_KEYS


def has_uncommitted_typing(spin: QAbstractSpinBox) -> bool:
    """True while the box shows text that is not (yet) its value: typing before Enter."""
    if not isinstance(spin, QSpinBox | QDoubleSpinBox):
        return False
    value: Any = spin.value()  # int or float, whichever its own box takes
    shown = spin.textFromValue(value)
    if spin.specialValueText() and spin.value() == spin.minimum():
        committed = spin.specialValueText()
    else:
        committed = spin.prefix() + shown + spin.suffix()
    return spin.lineEdit().text() != committed


class UndoKeysToWindow(QObject):
    """Event filter: the Undo/Redo ShortcutOverride of a spin box or line edit is declined."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.ShortcutOverride or not isinstance(event, QKeyEvent):
            return False
        if not is_undo_or_redo(event):
            return False
        if isinstance(watched, QAbstractSpinBox) and has_uncommitted_typing(watched):
            return False  # the box undoes its own typing first
        event.ignore()  # not overridden: the window's shortcut runs
        return True


def route_undo_keys(panel: QWidget) -> UndoKeysToWindow:
    """Install the filter on every spin box and line edit inside `panel` (built already)."""
    keys = UndoKeysToWindow(panel)
    for widget in panel.findChildren(QAbstractSpinBox):
        widget.installEventFilter(keys)
    for edit in panel.findChildren(QLineEdit):
        if not isinstance(edit.parent(), QAbstractSpinBox):
            edit.installEventFilter(keys)
    return keys
