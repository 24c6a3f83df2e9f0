"""Starting without an argument: the seed example the first time, then the last file
opened or saved; a last file that is gone or broken gives the seed example and one
status-bar message, never a crash or a dialog (settings in a temporary scope)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import selfattn
from app.main_window import MainWindow
from app.startup import first_window, starting_point
from selfattn.bundled import load_bundled

SEED_FIRST_WEIGHTS = [0.136, 0.432, 0.432]  # the published first row of the seed example


def start_window(qtbot, settings):
    """What `selfattn-workbench` with no argument does (app/__main__.py)."""
    window, start = first_window(
        settings, lambda preset, path: MainWindow(preset, settings=settings, path=path)
    )
    qtbot.addWidget(window)
    window.files.show_bundled(start.bundled)
    if start.problem:
        window.statusBar().showMessage(start.problem, 30_000)
    return window, start


def first_weights(window) -> list[float]:
    return np.round(window.recompute.result.weights[0, 0], 3).tolist()


def test_first_start_shows_the_seed_example(qtbot, settings, dialogs):
    window, start = start_window(qtbot, settings)
    assert window.document.preset.name == "Seed example"
    assert first_weights(window) == SEED_FIRST_WEIGHTS
    assert window.document.path is None and start.problem is None
    assert window.preset_combo.currentData() == "seed-example"
    assert window.statusBar().currentMessage() == ""
    assert not window.document.undo_stack.canUndo()  # nothing to undo back to a blank
    assert dialogs.calls == []


def test_after_opening_a_file_the_next_start_shows_it(qtbot, tmp_path, settings, dialogs):
    mine = tmp_path / "mine.json"
    selfattn.save_preset(load_bundled("padding-mask"), mine)
    window, _ = start_window(qtbot, settings)
    assert window.files.open_path(mine, ask=False)
    window.close()
    again, start = start_window(qtbot, settings)
    assert start.path == mine.resolve() and start.problem is None
    assert again.document.path == mine.resolve()
    assert again.document.preset.name == "Padding mask"
    assert again.preset_combo.currentData() is None  # a file, not a bundled preset
    assert dialogs.calls == []


def test_after_saving_the_next_start_shows_the_saved_file(qtbot, tmp_path, settings, dialogs):
    window, _ = start_window(qtbot, settings)
    window.files.open_bundled("temperature", ask=False)
    saved = tmp_path / "lesson.json"
    assert window.files.save_to(saved)
    again, _ = start_window(qtbot, settings)
    assert again.document.path == saved.resolve()
    assert again.document.preset.name == "Temperature"


def test_a_last_file_that_is_gone_gives_the_seed_example_and_says_why(
    qtbot, tmp_path, settings, dialogs
):
    gone = tmp_path / "gone.json"
    settings.setValue("files/recent", [str(gone)])
    window, start = start_window(qtbot, settings)
    assert window.document.preset.name == "Seed example"
    assert first_weights(window) == SEED_FIRST_WEIGHTS
    message = window.statusBar().currentMessage()
    assert message == start.problem
    assert str(gone) in message and "seed example" in message
    assert "No such file" in message or "cannot read" in message
    assert "\n" not in message
    assert dialogs.calls == []  # no modal error at start


def test_a_last_file_that_is_not_a_preset_gives_the_seed_example(
    qtbot, tmp_path, settings, dialogs
):
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1, "tokens": ["a"]', encoding="utf-8")  # cut short
    settings.setValue("files/recent", [str(broken), str(tmp_path / "older.json")])
    window, _ = start_window(qtbot, settings)
    assert window.document.preset.name == "Seed example"
    message = window.statusBar().currentMessage()
    assert str(broken) in message and "seed example" in message
    assert dialogs.calls == []


def test_a_last_file_that_cannot_be_computed_gives_the_seed_example(
    qtbot, tmp_path, settings, dialogs
):
    seed = load_bundled("seed-example")
    w_query, w_key = seed.w_query.copy(), seed.w_key.copy()
    w_query[0, 0] = w_key[0, 0] = 1e200  # loads, but q·k overflows: the window refuses it
    huge = tmp_path / "huge.json"
    selfattn.save_preset(dataclasses.replace(seed, w_query=w_query, w_key=w_key), huge)
    with pytest.raises(selfattn.AttentionError):
        MainWindow(selfattn.load_preset(huge), settings=settings)
    settings.setValue("files/recent", [str(huge)])
    window, _ = start_window(qtbot, settings)
    assert first_weights(window) == SEED_FIRST_WEIGHTS
    assert str(huge) in window.statusBar().currentMessage()
    assert dialogs.calls == []


def test_a_settings_value_of_one_path_is_read_as_that_path(tmp_path, settings):
    """QSettings (INI) gives a one-item list back as a plain string."""
    mine = tmp_path / "one.json"
    selfattn.save_preset(load_bundled("temperature"), mine)
    settings.setValue("files/recent", str(mine))
    start = starting_point(settings)
    assert start.path == mine and start.preset.name == "Temperature"
