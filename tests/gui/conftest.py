"""Fixtures for window tests: a window with throwaway settings and no modal dialogs."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from app.main_window import MainWindow
from selfattn.bundled import load_bundled


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def dialogs(monkeypatch):
    """Record QMessageBox calls instead of blocking on them; answers can be set per test."""
    calls: list[tuple[str, str]] = []
    answers = {"question": QMessageBox.StandardButton.Discard}

    def record(kind):
        def fn(_parent, title, text, *args, **kwargs):
            calls.append((kind, f"{title}: {text}"))
            return answers.get(kind, QMessageBox.StandardButton.Ok)

        return fn

    for kind in ("warning", "critical", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(record(kind)))
    return type("Dialogs", (), {"calls": calls, "answers": answers})()


@pytest.fixture
def window(qtbot, settings, dialogs):
    win = MainWindow(load_bundled("seed-example"), settings=settings)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.document.undo_stack.setClean()  # never prompt on teardown
