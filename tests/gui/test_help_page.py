"""Help → What am I looking at?: the page describes the window as it is, and every menu
entry and key it names exists in the window with that key."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMenu

from app.help_page import HelpPage


def _page_text(window) -> str:
    window.walk.action_help.trigger()
    (page,) = window.findChildren(HelpPage)
    return " ".join(page.browser.toPlainText().split())


def _menu_actions(window, *path: str):
    """The action at File → … → name (menu texts without their & accelerators)."""
    actions = window.menuBar().actions()
    action = None
    for name in path:
        action = next(a for a in actions if a.text().replace("&", "") == name)
        menu = action.menu()
        actions = menu.actions() if isinstance(menu, QMenu) else []
    return action


def _shortcuts(action) -> list[str]:
    return [k.toString(QKeySequence.SequenceFormat.PortableText) for k in action.shortcuts()]


def test_the_page_describes_the_pipeline_in_front_of_the_heatmap(window):
    text = _page_text(window)
    # The seed example is small: the Pipeline tab is in front, as the page says.
    assert window.center_tabs.tabText(window.center_tabs.currentIndex()) == "Pipeline"
    assert "Pipeline (the first tab, in front for small presets)" in text
    assert "Heatmap (the second tab, in front for large presets" in text
    assert "The heatmap (centre)" not in text
    for panel in ("Inputs", "Options", "Results", "Explain"):
        assert panel in text


def test_every_menu_entry_the_page_names_exists_with_its_key(window):
    text = _page_text(window)
    named = {
        ("File", "Load from model…"): "Ctrl+M",
        ("View", "Generate…"): "Ctrl+G",
        ("View", "Atlas"): None,
        ("View", "Number precision"): None,
        ("View", "Zoom in"): "Ctrl+=",
        ("View", "Zoom out"): "Ctrl+-",
        ("View", "Actual size"): "Ctrl+0",
        ("Help", "Walk through"): None,
        ("File", "Import matrix from CSV…"): None,
        ("File", "Export walk-through…"): None,
    }
    for path, key in named.items():
        action = _menu_actions(window, *path)
        assert action is not None, path
        if key is not None:
            assert key in _shortcuts(action), (path, _shortcuts(action))
            assert key in text, key
    for phrase in (
        "File → Load from model…",
        "View → Generate…",
        "View → Atlas",
        "The Atlas",
        "View → Number precision",
        "View → Zoom in / Zoom out",
        "Help → Walk through",
        "File → Import matrix from CSV…",
        "File → Export walk-through…",
    ):
        assert phrase in text, phrase


def test_the_model_navigator_keys_are_the_ones_the_page_gives(window):
    text = _page_text(window)
    keys = {shortcut.key() for shortcut in window.findChildren(QShortcut)}
    for key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
        assert QKeySequence(key) in keys
        assert QKeySequence(Qt.Modifier.CTRL | key) in keys
    assert "Page Up / Page Down step through the layers" in text
    assert "Ctrl+Page Up / Ctrl+Page Down through the heads" in text
