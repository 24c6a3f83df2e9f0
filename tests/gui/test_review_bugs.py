"""Regression tests for the bugs a review found (issue 14), one behaviour each."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from app.model_dialog import LoadFromModelDialog
from app.recompute import Policy
from selfattn.bundled import load_bundled
from selfattn.explain import explain_cell


def _two_heads(window):
    assert window.files.open_bundled("two-heads-self-and-previous", ask=False)
    return window.recompute.result


def _explained_title(window, kind, head, row, col):
    rec = window.recompute
    return explain_cell(rec.result_preset, rec.result, kind, head, row, col).title


# Selected head and cell: one state for every view -------------------------------------


def test_changing_the_head_after_a_click_moves_explain_to_that_head(window):
    _two_heads(window)
    window.heatmap.cellClicked.emit(2, 1)
    assert window.explain_panel.title.text() == _explained_title(window, "weights", 0, 2, 1)
    window.head_spin.setValue(2)
    assert window.heatmap.selected_cell() == (2, 1)
    assert window.explain_panel.title.text() == _explained_title(window, "weights", 1, 2, 1)


def test_clicking_a_head_in_the_grid_moves_results_and_explain_to_it(window):
    r = _two_heads(window)
    window.heatmap.cellClicked.emit(2, 1)  # explain head 1's weight
    window.set_view_mode("all_heads")
    window.all_heads.headClicked.emit(1)
    assert window.heatmap_stack.currentWidget() is window.heatmap
    np.testing.assert_array_equal(window.heatmap.image_item.image, r.weights[1].astype(np.float32))
    table = window.results_panel.tables["weights"].matrix_model()
    np.testing.assert_array_equal(table.array(), r.weights[1])
    assert table.index(2, 0).data() == f"{r.weights[1][2, 0]:.6g}"
    assert "head 2" in window.explain_panel.title.text()


# A refused option shows the document's value again ---------------------------------------


def test_a_refused_dtype_leaves_the_options_showing_the_kept_dtype(window):
    x = window.inputs_panel.tables["inputs"].matrix_model()
    assert x.setData(x.index(0, 0), "1e20")  # fine in float64: scores about 1e40
    combo = window.options_panel.dtype_combo
    combo.setCurrentIndex(combo.findData("float32"))  # scores overflow float32: refused
    assert window.document.preset.options.dtype == "float64"
    assert combo.currentData() == "float64"


# A failed background job is shown until the next good compute ---------------------------


def _visible_labels_mentioning(window, text):
    return [w for w in window.findChildren(QLabel) if w.isVisible() and text in w.text()]


def test_a_failed_background_job_shows_stale_results_until_the_next_good_compute(
    window, monkeypatch
):
    monkeypatch.setattr(Policy, "background_min_cells", 0)
    rec = window.recompute

    def boom(preset, change):
        raise MemoryError("pretend the machine ran out")

    monkeypatch.setattr(rec, "_compute", boom)
    window.options_panel.temperature_spin.setValue(3.0)
    rec.wait()
    window.statusBar().clearMessage()  # the transient message has timed out
    assert _visible_labels_mentioning(window, "MemoryError")
    monkeypatch.delattr(rec, "_compute")
    window.options_panel.temperature_spin.setValue(4.0)
    rec.wait()
    assert not _visible_labels_mentioning(window, "MemoryError")


# Long jobs leave the GUI thread; nothing outlives the window ------------------------------


def test_export_results_as_csv_computes_on_the_worker(window, tmp_path, monkeypatch, qtbot):
    import selfattn.export as export

    threads = []
    real_compute = export.compute

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(export, "compute", spy)
    window.files.export_csv(tmp_path, "wide")
    qtbot.waitUntil(lambda: (tmp_path / "weights.csv").exists(), timeout=10000)
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert (tmp_path / "weights.csv").exists()


def test_closing_the_window_stops_the_documents_worker(window, monkeypatch):
    monkeypatch.setattr(Policy, "background_min_cells", 0)
    workers = []
    rec = window.recompute
    window.options_panel.temperature_spin.setValue(2.0)  # a job on the document's worker
    rec.wait()
    rec._background.submit(lambda: workers.append(threading.current_thread()), print, print)
    rec._background.wait()
    QCoreApplication.processEvents()
    assert workers and workers[-1] is not threading.main_thread()
    window.close()
    workers[-1].join(timeout=5)
    assert not workers[-1].is_alive()


def test_cancelled_load_from_model_dialogs_are_deleted(window, monkeypatch):
    monkeypatch.setattr(LoadFromModelDialog, "exec", lambda self: 0)
    window.files.load_from_model_dialog()
    window.files.load_from_model_dialog()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    assert window.findChildren(LoadFromModelDialog) == []


# Table columns fit their numbers after every change ---------------------------------------


def _cut_cells(view):
    model = view.model()
    cut = []
    for c in range(model.columnCount()):
        for r in range(model.rowCount()):
            index = model.index(r, c)
            if view.sizeHintForIndex(index).width() > view.columnWidth(c):
                cut.append((r, c, index.data()))
    return cut


def test_columns_fit_their_numbers_after_an_edit(window):
    x = window.inputs_panel.tables["inputs"].matrix_model()
    assert x.setData(x.index(1, 1), "1/3")
    for key, view in window.results_panel.tables.items():
        window.results_panel.show_table(key)
        assert _cut_cells(view) == [], key
    assert _cut_cells(window.inputs_panel.tables["inputs"]) == []


def test_columns_fit_their_numbers_after_a_head_change(window):
    _two_heads(window)
    w = window.inputs_panel.tables["w_query"].matrix_model()
    assert w.setData(w.index(0, 2), "0.000123456789")  # head 2's scores get long digits
    window.head_spin.setValue(2)
    for key, view in window.results_panel.tables.items():
        window.results_panel.show_table(key)
        assert _cut_cells(view) == [], key


# The window counts from 1 ---------------------------------------------------------------


def test_an_overflow_message_names_the_query_as_the_window_counts_it(window):
    combo = window.options_panel.dtype_combo
    combo.setCurrentIndex(combo.findData("float32"))
    x = window.inputs_panel.tables["inputs"].matrix_model()
    # Row 2 (index 1) of X gets huge: q2·k2 overflows float32 first, q1·k2 does not.
    assert not x.setData(x.index(1, 1), "1e20")
    message = window.statusBar().currentMessage()
    assert "query 2" in message, message


# Spreadsheet keys -----------------------------------------------------------------------


def _type_into(view, text, key):
    view.setFocus()
    QTest.keyClicks(view, text)
    QTest.keyClick(QCoreApplication.instance().focusWidget(), key)


def test_enter_commits_and_moves_down_tab_moves_right(window):
    view = window.inputs_panel.tables["inputs"]
    window.inputs_panel.tabs.setCurrentWidget(view)
    model = view.matrix_model()
    view.setCurrentIndex(model.index(0, 0))
    _type_into(view, "7", Qt.Key.Key_Return)
    assert window.document.preset.inputs[0, 0] == 7
    assert (view.currentIndex().row(), view.currentIndex().column()) == (1, 0)
    _type_into(view, "8", Qt.Key.Key_Tab)
    assert window.document.preset.inputs[1, 0] == 8
    assert (view.currentIndex().row(), view.currentIndex().column()) == (1, 1)
    assert view.state() != view.State.EditingState
    QTest.keyClick(view, Qt.Key.Key_Return)  # not editing: Enter moves down too
    assert (view.currentIndex().row(), view.currentIndex().column()) == (2, 1)


def test_a_refused_entry_keeps_the_cursor_on_its_cell(window):
    # Enter after "abc" must not walk away from the cell that still holds the old value:
    # the person retypes it where the red outline and the reason are.
    view = window.inputs_panel.tables["inputs"]
    window.inputs_panel.tabs.setCurrentWidget(view)
    model = view.matrix_model()
    view.setCurrentIndex(model.index(1, 0))
    _type_into(view, "abc", Qt.Key.Key_Return)
    assert window.document.preset.inputs[1, 0] == 0  # the old value stays
    assert (view.currentIndex().row(), view.currentIndex().column()) == (1, 0)
    _type_into(view, "5", Qt.Key.Key_Return)
    assert window.document.preset.inputs[1, 0] == 5
    assert (view.currentIndex().row(), view.currentIndex().column()) == (2, 0)


def test_ctrl_y_redoes(window):
    assert QKeySequence("Ctrl+Y") in window.action_redo.shortcuts()
    assert QKeySequence("Ctrl+Shift+Z") in window.action_redo.shortcuts()
    x = window.inputs_panel.tables["inputs"].matrix_model()
    assert x.setData(x.index(0, 0), "5")
    window.document.undo_stack.undo()
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert window.document.preset.inputs[0, 0] == 5
    assert load_bundled("seed-example").inputs[0, 0] != 5
