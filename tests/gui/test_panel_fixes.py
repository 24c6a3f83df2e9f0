"""Fixes a tester found on a real desktop in the Inputs and Options panels.

Each test drives the widgets the way a person does (real key events, combo choices)
and checks the document's preset or the status bar against values worked out here.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractSpinBox, QApplication

from app import commands

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def active(window, qtbot):
    """The window in front (shortcuts of the window fire only in the active window)."""
    window.activateWindow()
    qtbot.waitActive(window)
    return window


def _type_into(spin: QAbstractSpinBox, text: str, enter: bool = True) -> None:
    spin.setFocus()
    QApplication.processEvents()
    spin.selectAll()
    QTest.keyClicks(spin, text)
    if enter:
        QTest.keyClick(spin, Qt.Key.Key_Return)


# 1. Undo and Redo keys from a focused spin box ------------------------------------------
def test_ctrl_z_in_the_d_k_box_undoes_the_resize(active):
    doc, spin = active.document, active.inputs_panel.spin_d_k
    assert doc.preset.d_k == 3  # the seed example
    _type_into(spin, "2")
    assert doc.preset.d_k == 2 and spin.hasFocus()
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert doc.preset.d_k == 3
    assert spin.value() == 3
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL | SHIFT)
    assert doc.preset.d_k == 2
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert doc.preset.d_k == 3
    QTest.keyClick(spin, Qt.Key.Key_Y, CTRL)
    assert doc.preset.d_k == 2


def test_ctrl_z_in_the_temperature_box_undoes_the_temperature(active):
    doc, spin = active.document, active.options_panel.temperature_spin
    before = doc.preset.options.temperature
    _type_into(spin, "2.5")
    assert doc.preset.options.temperature == 2.5
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert doc.preset.options.temperature == before


def test_every_spin_box_of_both_panels_hands_undo_to_the_window(active):
    """Whatever box has the focus, Ctrl+Z undoes the document's last step."""
    doc = active.document
    boxes = [
        box
        for panel in (active.inputs_panel, active.options_panel)
        for box in panel.findChildren(QAbstractSpinBox)
    ]
    assert len(boxes) >= 10
    for box in boxes:
        assert commands.set_options(doc, "Causal on", causal=not doc.preset.options.causal)
        before_index = doc.undo_stack.index()
        box.setEnabled(True)  # a disabled box cannot take the focus
        box.setFocus()
        QApplication.processEvents()
        assert box.hasFocus(), box.toolTip()
        QTest.keyClick(box, Qt.Key.Key_Z, CTRL)
        assert doc.undo_stack.index() == before_index - 1, box.toolTip()


def test_typing_not_yet_entered_is_undone_in_the_box_first(active):
    """Before Enter, Ctrl+Z takes back the typing; the document's steps stay."""
    doc, spin = active.document, active.inputs_panel.spin_tokens
    assert commands.set_options(doc, "Causal on", causal=True)
    index = doc.undo_stack.index()
    _type_into(spin, "7", enter=False)
    assert spin.lineEdit().text() == "7"
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert doc.undo_stack.index() == index
    assert spin.lineEdit().text() == str(doc.preset.n_tokens)
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)  # now committed text: the document's step
    assert doc.undo_stack.index() == index - 1
    assert doc.preset.options.causal is False
