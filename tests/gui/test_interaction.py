"""Interaction depth: explain, undo/redo of every kind of change, clipboard, fills, CSV import,
drag and drop, heatmap export and remembered settings."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtCore import QItemSelection, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication

import selfattn
from app.heatmap import SEQUENTIAL_COLORMAPS
from app.main_window import MainWindow
from selfattn import edit
from selfattn.bundled import load_bundled


def _matrices(preset):
    return {
        k: None if getattr(preset, k) is None else getattr(preset, k).copy()
        for k in edit.MATRIX_KEYS
    }


def _assert_same_numbers(preset, snapshot):
    for key, value in snapshot.items():
        now = getattr(preset, key)
        assert (now is None) == (value is None), key
        if value is not None:
            assert np.array_equal(now, value), key


# Explain --------------------------------------------------------------------------------


def test_explain_weight_cell_shows_hand_worked_arithmetic(window):
    window._on_heatmap_clicked(0, 1)
    text = window.explain_panel.current_text()
    # q_0 = x_0 W_Q = [1, 0, 2]; k_1 = x_1 W_K = [4, 4, 0]; q_0 . k_1 = 4.
    # Row 0 scores [2, 4, 4] / sqrt(3); weight = 1 / (exp(-2/sqrt(3)) + 2) = 0.43193710...
    hand = 1 / (math.exp(-2 / math.sqrt(3)) + 2)
    assert abs(hand - 0.4319371) < 1e-7
    assert "0.4319371" in text
    assert "4" in text and "1.732" in text  # the dot product and sqrt(3)
    assert window.heatmap.selected_cell() == (0, 1)


def test_explain_follows_edits_and_output_cells(window):
    window.view_state.select("output", 0, 1)
    text = window.explain_panel.current_text()
    # output[0][1] = sum_j a_0j * v_j[1]: v = [[0, 2, 0]... ] -> 6.3193710...
    assert "6.31937" in text
    model = window.inputs_panel.tables["w_value"].matrix_model()
    model.setData(model.index(1, 1), "4")  # v_j[1] changes for every token with x_j[1] != 0
    assert window.explain_panel.current_text() != text


# Undo / redo ----------------------------------------------------------------------------


def _do_every_kind_of_change(win):
    panel = win.inputs_panel
    x = panel.tables["inputs"].matrix_model()
    x.setData(x.index(0, 0), "5")  # cell edit
    panel.tables["inputs"].setCurrentIndex(x.index(1, 1))
    panel.tables["inputs"].paste_text("1\t2\n3\t4\n")  # paste
    panel.tokens_model.setData(panel.tokens_model.index(0, 0), "first")  # label
    win.options_panel.causal_check.setChecked(True)  # option
    win.options_panel.temperature_spin.setValue(2.5)
    panel.spin_tokens.setValue(5)  # resize
    panel.spin_heads.setValue(3)
    panel.check_output.setChecked(True)
    panel.check_biases.setChecked(True)
    panel.check_source.setChecked(True)
    win.files.open_bundled("padding-mask", ask=False)  # load within the document


def test_undo_everything_restores_exact_numbers_and_redo_reapplies(window):
    start = window.document.preset
    start_numbers = _matrices(start)
    _do_every_kind_of_change(window)
    end = window.document.preset
    end_numbers = _matrices(end)
    stack = window.document.undo_stack
    while stack.canUndo():
        stack.undo()
    _assert_same_numbers(window.document.preset, start_numbers)
    assert window.document.preset.options == start.options
    assert window.document.preset.tokens == start.tokens
    np.testing.assert_array_equal(window.recompute.result.weights, selfattn.compute(start).weights)
    while stack.canRedo():
        stack.redo()
    _assert_same_numbers(window.document.preset, end_numbers)
    assert window.document.preset.options == end.options


@pytest.mark.parametrize("step", range(11))
def test_each_change_is_one_undo_step(window, step):
    """Undo right after change number `step` restores the numbers from just before it."""
    changes = []
    original = window.document.undo_stack.push

    def spy(command):
        changes.append((_matrices(window.document.preset), window.document.preset.options))
        original(command)

    window.document.undo_stack.push = spy  # type: ignore[method-assign]
    _do_every_kind_of_change(window)
    window.document.undo_stack.push = original  # type: ignore[method-assign]
    stack = window.document.undo_stack
    assert stack.count() >= 11
    target = min(step, stack.count() - 1)
    stack.setIndex(target)
    numbers, options = changes[target]
    _assert_same_numbers(window.document.preset, numbers)
    assert window.document.preset.options == options


def test_temperature_slider_moves_merge_into_one_undo_step(window):
    slider = window.options_panel.temperature_slider
    depth = window.document.undo_stack.count()
    for position in (220, 240, 260, 280):
        slider.setValue(position)
    assert window.document.undo_stack.count() == depth + 1
    window.document.undo_stack.undo()
    assert window.document.preset.options.temperature == 1.0


def test_undo_shortcuts_are_standard(window):
    from PySide6.QtGui import QKeySequence

    assert window.action_undo.shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    assert window.action_redo.shortcut() == QKeySequence(QKeySequence.StandardKey.Redo)


# Clipboard, Delete, arithmetic --------------------------------------------------------------


def test_paste_tsv_block_lands_in_the_right_cells(window):
    view = window.inputs_panel.tables["inputs"]
    view.setCurrentIndex(view.model().index(1, 1))
    QGuiApplication.clipboard().setText("10\t11\t12\n13\t14\t15\n")
    depth = window.document.undo_stack.count()
    assert view.paste()
    x = window.document.preset.inputs
    np.testing.assert_array_equal(x[1:3, 1:4], [[10, 11, 12], [13, 14, 15]])
    assert x[0, 0] == 1 and x[1, 0] == 0  # neighbours untouched
    assert window.document.undo_stack.count() == depth + 1


def test_paste_comma_separated_block(window):
    view = window.inputs_panel.tables["w_key"]
    view.setCurrentIndex(view.model().index(0, 0))
    assert view.paste_text("1,2\n3,4")
    np.testing.assert_array_equal(window.document.preset.w_key[:2, :2], [[1, 2], [3, 4]])


def test_paste_that_does_not_fit_is_refused(window):
    view = window.inputs_panel.tables["inputs"]
    view.setCurrentIndex(view.model().index(2, 3))
    before = window.document.preset.inputs.copy()
    assert not view.paste_text("1\t2\n3\t4")
    np.testing.assert_array_equal(window.document.preset.inputs, before)
    assert "does not fit" in window.statusBar().currentMessage()


def test_copy_selection_as_tsv(window):
    view = window.inputs_panel.tables["inputs"]
    model = view.model()
    block = QItemSelection(model.index(1, 0), model.index(2, 1))
    view.selectionModel().select(block, view.selectionModel().SelectionFlag.Select)
    text = view.copy_selection()
    assert text == "0\t2\n1\t1\n"
    assert QGuiApplication.clipboard().text() == text
    # A Ctrl+click selection that is not a rectangle is not copied (as in spreadsheets).
    view.selectionModel().select(model.index(0, 3), view.selectionModel().SelectionFlag.Select)
    assert view.copy_selection() == ""
    assert "rectangular" in window.statusBar().currentMessage()


def test_delete_sets_selection_to_zero(qtbot, window):
    view = window.inputs_panel.tables["inputs"]
    window.inputs_panel.tabs.setCurrentIndex(1)
    model = view.model()
    view.setCurrentIndex(model.index(1, 1))
    view.selectionModel().select(model.index(1, 3), view.selectionModel().SelectionFlag.Select)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    np.testing.assert_array_equal(window.document.preset.inputs[1], [0, 0, 0, 0])


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1/3", 1 / 3),
        ("2*0.5", 1.0),
        ("-1e-3", -0.001),
        ("(1+2)/4", 0.75),
        ("sqrt(2)", math.sqrt(2)),
    ],
)
def test_arithmetic_cells(window, text, value):
    model = window.inputs_panel.tables["inputs"].matrix_model()
    assert model.setData(model.index(0, 0), text)
    assert window.document.preset.inputs[0, 0] == value


@pytest.mark.parametrize("text", ["__import__('os')", "os.system('true')", "1,5", "", "nan", "1/0"])
def test_code_and_garbage_are_refused(window, text):
    model = window.inputs_panel.tables["inputs"].matrix_model()
    assert not model.setData(model.index(0, 0), text)
    assert window.document.preset.inputs[0, 0] == 1.0


# Fills ------------------------------------------------------------------------------------


def test_fill_actions(window):
    window.inputs_panel.tabs.setCurrentIndex(2)  # W_Q
    assert window.inputs_panel.fill_active("zeros")
    assert np.all(window.document.preset.w_query == 0)
    assert window.inputs_panel.fill_active("identity")
    np.testing.assert_array_equal(window.document.preset.w_query, np.eye(4, 3))
    assert window.inputs_panel.fill_active("random", seed=42)
    expected = np.random.default_rng(42).normal(0.0, 1.0, size=(4, 3))
    np.testing.assert_array_equal(window.document.preset.w_query, expected)
    assert "seed 42" in window.document.undo_stack.undoText()
    assert window.inputs_panel.fill_active("scale", factor=-2.0)
    np.testing.assert_array_equal(window.document.preset.w_query, expected * -2.0)


# CSV import -------------------------------------------------------------------------------


def test_import_csv_with_and_without_labels(window, tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("1,2,3\n4,5,6\n7,8,9\n10,11,12\n")
    assert window.inputs_panel.import_csv(plain, "w_value")
    np.testing.assert_array_equal(window.document.preset.w_value, np.arange(1, 13).reshape(4, 3))
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("token,x1,x2,x3,x4\na,0.5,0,0,0\nb,0,0.25,0,0\nc,0,0,1e-3,-2\n")
    assert window.inputs_panel.import_csv(labelled, "inputs")
    np.testing.assert_array_equal(
        window.document.preset.inputs, [[0.5, 0, 0, 0], [0, 0.25, 0, 0], [0, 0, 1e-3, -2]]
    )


def test_import_csv_of_wrong_shape_is_refused_with_message(window, tmp_path, dialogs):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("1,2\n3,4\n")
    before = window.document.preset.inputs.copy()
    assert not window.inputs_panel.import_csv(wrong, "inputs")
    np.testing.assert_array_equal(window.document.preset.inputs, before)
    assert "2 x 2" in dialogs.calls[-1][1] and "3 x 4" in dialogs.calls[-1][1]


def test_import_exported_csv_round_trips(window, tmp_path):
    """A wide CSV the program wrote (header row + label column) imports back exactly."""
    window.files.export_csv(tmp_path, "wide")
    window.files.wait()
    window.files.open_bundled("seed-example", ask=False)
    window.inputs_panel.check_output.setChecked(True)
    assert window.inputs_panel.import_csv(tmp_path / "weights.csv", "w_output")
    np.testing.assert_array_equal(
        window.document.preset.w_output, selfattn.compute(load_bundled("seed-example")).weights[0]
    )


# Drag and drop ----------------------------------------------------------------------------


def test_dropped_preset_file_opens(window, tmp_path, qtbot):
    path = tmp_path / "dropped.json"
    selfattn.save_preset(load_bundled("padding-mask"), path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(200, 200),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.document.path == path)
    assert window.document.preset.name == load_bundled("padding-mask").name


# Heatmap export ---------------------------------------------------------------------------


def test_heatmap_exports_png_and_svg(window, tmp_path):
    png = tmp_path / "heat.png"
    svg = tmp_path / "heat.svg"
    assert window.files.export_heatmap(png)
    assert window.files.export_heatmap(svg)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PySide6.QtGui import QImage

    assert QImage(str(png)).width() >= 1600
    assert svg.stat().st_size > 1000
    ET.parse(svg)  # well-formed XML


# Settings ---------------------------------------------------------------------------------


def test_settings_survive_a_restart(qtbot, settings, tmp_path, dialogs):
    first = MainWindow(load_bundled("seed-example"), settings=settings)
    qtbot.addWidget(first)
    first.show()
    first.resize(1500, 950)
    first.colormap_combo.setCurrentText("inferno")
    assert first.colormap_combo.currentText() == "inferno" != SEQUENTIAL_COLORMAPS[0]
    chosen = first.colormap_combo.currentText()
    path = tmp_path / "p.json"
    first.files.save_to(path)
    first.explain_dock.hide()
    first.close()

    second = MainWindow(load_bundled("seed-example"), settings=settings)
    qtbot.addWidget(second)
    second.show()
    # The offscreen screen is 800 x 800, so Qt clamps the restored size; check it was restored.
    assert second.geometry_restored
    assert settings.value("window/geometry") is not None
    assert second.colormap_combo.currentText() == chosen
    assert str(path.resolve()) in second.files.recent_files()
    assert second.files.last_folder() == str(tmp_path.resolve())
    assert second.explain_dock.isHidden()
    assert second.recent_menu.actions()[0].text() == str(path.resolve())
    second.document.undo_stack.setClean()


def test_output_bias_survives_toggling_w_o(window):
    panel = window.inputs_panel
    panel.check_biases.setChecked(True)
    model = panel.tables["b_output"].matrix_model()
    model.setData(model.index(0, 1), "0.5")
    panel.check_output.setChecked(True)
    assert window.document.preset.b_output.tolist() == [0.0, 0.5, 0.0]
    np.testing.assert_array_equal(window.document.preset.w_output, np.eye(3))
    panel.check_output.setChecked(False)
    assert window.document.preset.b_output.tolist() == [0.0, 0.5, 0.0]
    assert window.document.preset.w_output is None


def test_query_token_list_has_no_key_mask_under_cross_attention(window):
    window.inputs_panel.check_source.setChecked(True)
    tokens = window.inputs_panel.tokens_model
    assert not tokens.setData(
        tokens.index(0, 1), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole
    )
    assert window.document.preset.options.key_mask is None


def test_delete_on_a_ctrl_click_selection_clears_only_the_selected_cells(window):
    view = window.inputs_panel.tables["inputs"]
    model = view.model()
    flag = view.selectionModel().SelectionFlag.Select
    view.selectionModel().select(model.index(0, 0), flag)
    view.selectionModel().select(model.index(2, 3), flag)
    assert view.clear_selection_to_zero()
    x = window.document.preset.inputs
    assert x[0, 0] == 0 and x[2, 3] == 0
    np.testing.assert_array_equal(x[1], [0, 2, 0, 2])  # untouched, though inside the box
    assert x[0, 2] == 1 and x[2, 0] == 1


def test_undo_past_save_as_then_redo_names_the_saved_file(window, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    selfattn.save_preset(load_bundled("seed-example"), a)
    window.files.open_path(a, ask=False)
    model = window.inputs_panel.tables["inputs"].matrix_model()
    model.setData(model.index(0, 0), "42")
    assert window.files.save_to(b)
    stack = window.document.undo_stack
    stack.undo()
    stack.undo()
    stack.redo()
    stack.redo()
    assert not window.document.is_modified
    assert window.document.path == b  # the numbers on screen are those saved in b.json


def test_a_huge_clipboard_field_is_refused_with_a_message(window):
    view = window.inputs_panel.tables["inputs"]
    view.setCurrentIndex(view.model().index(0, 0))
    assert not view.paste_text('"' + "x" * 200_000 + '",1\n')
    assert "Refused paste" in window.statusBar().currentMessage()
