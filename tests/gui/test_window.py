"""The window as a person uses it: edits, options, files, and what the heatmap shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

import selfattn
from selfattn import edit
from selfattn.bundled import bundled_names, load_bundled


def _cell_text(model, row, col):
    return model.data(model.index(row, col), Qt.ItemDataRole.DisplayRole)


def _type_into(qtbot, view, row, col, text):
    """Type into a cell through the view's editor, the way a person does."""
    index = view.model().index(row, col)
    view.setCurrentIndex(index)
    view.edit(index)
    editor = view.findChild(QLineEdit)
    assert editor is not None, "the cell did not open an editor"
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    # The delegate commits through a queued call: let the event loop run it.
    qtbot.waitUntil(lambda: view.findChild(QLineEdit) is None or not editor.isVisible())


def test_typing_into_x_updates_weights_table_and_heatmap_exactly(qtbot, window):
    view = window.inputs_panel.tables["inputs"]
    window.inputs_panel.tabs.setCurrentIndex(1)
    _type_into(qtbot, view, 0, 1, "2.5")

    expected_preset = edit.with_block(
        load_bundled("seed-example"), "inputs", 0, 1, np.array([[2.5]])
    )
    expected = selfattn.compute(expected_preset)
    assert window.document.preset.inputs[0, 1] == 2.5
    np.testing.assert_array_equal(window.recompute.result.weights, expected.weights)
    table = window.results_panel.tables["weights"].matrix_model()
    for i in range(3):
        for j in range(3):
            shown = table.data(table.index(i, j), Qt.ItemDataRole.EditRole)
            assert float(shown) == expected.weights[0, i, j]
    image = window.heatmap.image_item.image
    np.testing.assert_allclose(image, expected.weights[0].astype(np.float32), rtol=0, atol=0)


def test_non_numeric_cell_is_refused_and_old_value_stays(qtbot, window):
    view = window.inputs_panel.tables["inputs"]
    window.inputs_panel.tabs.setCurrentIndex(1)
    before = window.document.preset.inputs.copy()
    _type_into(qtbot, view, 1, 1, "abc")
    np.testing.assert_array_equal(window.document.preset.inputs, before)
    assert "Not a number" in window.statusBar().currentMessage()
    assert not window.document.is_modified


def test_arithmetic_cell_is_accepted(window):
    model = window.inputs_panel.tables["inputs"].matrix_model()
    assert model.setData(model.index(0, 0), "1/3")
    assert window.document.preset.inputs[0, 0] == 1 / 3


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_preset_loads_and_renders(window, name):
    assert window.files.open_bundled(name, ask=False)
    preset = window.document.preset
    expected = selfattn.compute(preset)
    np.testing.assert_array_equal(window.recompute.result.weights, expected.weights)
    image = window.heatmap.image_item.image
    assert image.shape == (preset.n_tokens, preset.n_keys)
    pixmap = window.grab()
    assert pixmap.width() >= 1200


def test_causal_option_zeroes_the_upper_triangle(window):
    window.options_panel.causal_check.setChecked(True)
    weights = window.recompute.result.weights[0]
    assert np.all(np.triu(weights, k=1) == 0)
    assert window.document.preset.options.causal
    # Row 0 can only see itself.
    assert weights[0, 0] == 1.0


def test_higher_temperature_flattens_rows(window):
    before = window.recompute.result.weights[0].max(axis=1)
    window.options_panel.temperature_spin.setValue(10.0)
    after = window.recompute.result.weights[0]
    assert window.document.preset.options.temperature == 10.0
    assert np.all(after.max(axis=1) < before)
    # A very high temperature tends to uniform rows of 1/3.
    window.options_panel.temperature_spin.setValue(10000.0)
    np.testing.assert_allclose(window.recompute.result.weights[0], 1 / 3, atol=1e-3)


def test_scale_none_and_custom(window):
    combo = window.options_panel.scale_combo
    combo.setCurrentIndex(1)  # none
    assert window.document.preset.options.scale == "none"
    raw = window.recompute.result.scores[0]
    np.testing.assert_array_equal(window.recompute.result.scaled_scores[0], raw)
    combo.setCurrentIndex(2)  # custom
    window.options_panel.custom_scale.setValue(4.0)
    assert window.document.preset.options.scale == 4.0
    np.testing.assert_allclose(window.recompute.result.scaled_scores[0], raw / 4.0)


def test_resize_keeps_overlapping_values(window):
    x_before = window.document.preset.inputs.copy()
    wq_before = window.document.preset.w_query.copy()
    window.inputs_panel.spin_tokens.setValue(5)
    window.inputs_panel.spin_d_model.setValue(6)
    p = window.document.preset
    assert p.inputs.shape == (5, 6)
    np.testing.assert_array_equal(p.inputs[:3, :4], x_before)
    assert np.all(p.inputs[3:] == 0) and np.all(p.inputs[:, 4:] == 0)
    np.testing.assert_array_equal(p.w_query[:4, :3], wq_before)
    assert p.tokens[:3] == ("input_1", "input_2", "input_3")
    window.inputs_panel.spin_tokens.setValue(2)
    np.testing.assert_array_equal(window.document.preset.inputs[:2, :4], x_before[:2])
    assert window.heatmap.image_item.image.shape == (2, 2)


def test_save_and_reopen_round_trip(window, tmp_path, monkeypatch):
    model = window.inputs_panel.tables["w_value"].matrix_model()
    model.setData(model.index(2, 2), "0.1")
    path = tmp_path / "mine.json"
    assert window.files.save_to(path)
    assert not window.document.is_modified
    saved = window.document.preset
    window.files.open_bundled("seed-example", ask=False)
    assert window.files.open_path(path, ask=False)
    reopened = window.document.preset
    for key in edit.MATRIX_KEYS:
        a, b = getattr(saved, key), getattr(reopened, key)
        assert (a is None and b is None) or np.array_equal(a, b)
    assert reopened.w_value[2, 2] == 0.1
    assert str(path.resolve()) in window.files.recent_files()


def test_csv_export_equals_command_line_output(window, tmp_path):
    window.files.open_bundled(
        next(n for n in bundled_names() if "two-head" in n or "head" in n), ask=False
    )
    preset_path = tmp_path / "doc.json"
    window.files.save_to(preset_path)
    for fmt in ("wide", "long"):
        gui_dir = tmp_path / f"gui-{fmt}"
        cli_dir = tmp_path / f"cli-{fmt}"
        assert window.files.export_csv(gui_dir, fmt)
        window.files.wait()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "selfattn",
                "compute",
                str(preset_path),
                "--out",
                str(cli_dir),
                "--format",
                fmt,
            ],
            check=True,
            capture_output=True,
        )
        gui_files = sorted(p.name for p in gui_dir.iterdir())
        assert gui_files == sorted(p.name for p in cli_dir.iterdir())
        for name in gui_files:
            assert (gui_dir / name).read_bytes() == (cli_dir / name).read_bytes(), name


def test_bad_file_leaves_document_untouched(window, tmp_path, dialogs):
    bad = tmp_path / "bad.json"
    data = json.loads(
        (Path(selfattn.__file__).parent.parent / "resources/presets/seed-example.json").read_text()
    )
    data["inputs"][1][2] = "oops"
    bad.write_text(json.dumps(data))
    model = window.inputs_panel.tables["inputs"].matrix_model()
    model.setData(model.index(0, 0), "7")
    before = window.document.preset
    depth = window.document.undo_stack.count()
    assert not window.files.open_path(bad, ask=False)
    assert window.document.preset is before
    assert window.document.undo_stack.count() == depth
    assert window.document.is_modified
    assert dialogs.calls and "inputs[1][2]" in dialogs.calls[-1][1]


def test_unsaved_changes_prompt_on_open_and_cancel_keeps_work(window, dialogs):
    from PySide6.QtWidgets import QMessageBox

    model = window.inputs_panel.tables["inputs"].matrix_model()
    model.setData(model.index(0, 0), "9")
    dialogs.answers["question"] = QMessageBox.StandardButton.Cancel
    assert not window.files.open_bundled("seed-example")
    assert window.document.preset.inputs[0, 0] == 9
    assert dialogs.calls[-1][0] == "question"


def test_title_shows_name_and_modified_marker(window):
    assert "Seed example" in window.windowTitle()
    assert not window.isWindowModified()
    model = window.inputs_panel.tables["inputs"].matrix_model()
    model.setData(model.index(0, 0), "3")
    assert window.isWindowModified()
    window.document.undo_stack.undo()
    assert not window.isWindowModified()


def test_heads_selector_and_all_heads_view(window):
    window.inputs_panel.spin_heads.setValue(3)
    assert window.recompute.result.heads == 3
    window.select_head(2)
    np.testing.assert_array_equal(
        window.heatmap.image_item.image, window.recompute.result.weights[2].astype(np.float32)
    )
    window.set_view_mode("all_heads")
    assert window.heatmap_stack.currentWidget() is window.all_heads
    assert len(window.all_heads.panels) == 3


def test_scores_view_uses_symmetric_levels(window):
    window.set_view_mode("scaled_scores")
    low, high = window.heatmap.levels()
    assert low == -high and high > 0
    np.testing.assert_allclose(
        window.heatmap.image_item.image, window.recompute.result.scaled_scores[0], rtol=1e-6
    )


def test_token_label_rename_and_key_mask_checkbox(window):
    tokens = window.inputs_panel.tokens_model
    assert tokens.setData(tokens.index(1, 0), "cat")
    assert window.document.preset.tokens[1] == "cat"
    assert (
        window.results_panel.tables["weights"].matrix_model().headerData(1, Qt.Orientation.Vertical)
        == "cat"
    )
    assert tokens.setData(
        tokens.index(2, 1), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole
    )
    weights = window.recompute.result.weights[0]
    assert np.all(weights[:, 2] == 0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)


def test_model_tester_passes_on_every_table_model(qtmodeltester, window):
    window.inputs_panel.check_output.setChecked(True)
    window.inputs_panel.check_biases.setChecked(True)
    window.inputs_panel.check_source.setChecked(True)
    models = [v.model() for v in window.inputs_panel.tables.values()]
    models += [v.model() for v in window.results_panel.tables.values()]
    models += [window.inputs_panel.tokens_model, window.inputs_panel.source_tokens_model]
    for model in models:
        qtmodeltester.check(model, force_py=True)


def test_weight_range_combo_switches_levels_to_the_largest_weight(window):
    window.range_combo.setCurrentIndex(window.range_combo.findData("max"))
    low, high = window.heatmap.levels()
    assert low == 0 and high == pytest.approx(float(window.recompute.result.weights.max()))
    window.range_combo.setCurrentIndex(window.range_combo.findData("fixed"))
    assert window.heatmap.levels() == (0.0, 1.0)


def test_result_tables_are_read_only(window):
    depth = window.document.undo_stack.count()
    before = window.document.preset
    for key, view in window.results_panel.tables.items():
        model = view.matrix_model()
        index = model.index(0, 0)
        assert not (model.flags(index) & Qt.ItemFlag.ItemIsEditable), key
        assert not model.setData(index, "5"), key
        assert not view.paste_text("1\t2"), key
    assert window.document.preset is before
    assert window.document.undo_stack.count() == depth


def test_dtype_option_computes_in_float32_and_undo_restores_float64(window):
    combo = window.options_panel.dtype_combo
    combo.setCurrentIndex(combo.findData("float32"))
    result = window.recompute.result
    assert window.document.preset.options.dtype == "float32"
    assert result.weights.dtype == np.float32 and result.output.dtype == np.float32
    table = window.results_panel.tables["weights"].matrix_model()
    shown = float(table.data(table.index(0, 1), Qt.ItemDataRole.EditRole))
    assert shown == float(np.float32(result.weights[0, 0, 1]))
    assert abs(shown - 0.43193710) < 1e-6  # the published float32 value
    window.document.undo_stack.undo()
    assert window.recompute.result.weights.dtype == np.float64
    assert combo.currentData() == "float64"
