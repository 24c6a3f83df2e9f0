"""File → Open bundled preset and the toolbar's preset chooser list the lessons of
resources/lessons.json in its order as "n. Name — summary" (read here with json)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt

ROOT = Path(__file__).resolve().parents[2]


def expected() -> list[tuple[str, str, str]]:
    """(preset, label, summary) in lesson order, from the index and the preset files."""
    index = json.loads((ROOT / "resources" / "lessons.json").read_text(encoding="utf-8"))
    out = []
    for number, entry in enumerate(index["lessons"], start=1):
        path = ROOT / "resources" / "presets" / f"{entry['preset']}.json"
        name = json.loads(path.read_text(encoding="utf-8"))["name"]
        out.append((entry["preset"], f"{number}. {name} — {entry['summary']}", entry["summary"]))
    return out


def test_bundled_menu_lists_the_lessons_in_order_with_summaries(window):
    actions = window.bundled_menu.actions()
    assert [(a.data(), a.text(), a.statusTip()) for a in actions] == expected()
    assert actions[0].text().startswith("1. Seed example — ")


def test_preset_combo_lists_the_same_lessons(window):
    combo = window.preset_combo
    assert combo.itemData(0) is None  # the invitation
    got = [(combo.itemData(i), combo.itemText(i)) for i in range(1, combo.count())]
    assert got == [(name, label) for name, label, _summary in expected()]
    for i, (_name, _label, summary) in enumerate(expected(), start=1):
        assert summary in combo.itemData(i, Qt.ItemDataRole.ToolTipRole)
        assert combo.itemData(i, Qt.ItemDataRole.StatusTipRole) == summary


def test_menu_entry_and_combo_open_that_lesson(window):
    name, _label, _summary = expected()[2]
    path = ROOT / "resources" / "presets" / f"{name}.json"
    window.bundled_menu.actions()[2].trigger()
    assert window.document.preset.name == json.loads(path.read_text(encoding="utf-8"))["name"]
    assert window.preset_combo.currentData() == name  # the combo names what is open
    window.preset_combo.activated.emit(1)  # the first lesson, chosen in the combo
    assert window.document.preset.name == "Seed example"
    assert window.preset_combo.currentIndex() == 1
