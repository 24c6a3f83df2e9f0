"""Large recomputes and file loads run off the GUI thread; edits made meanwhile are kept."""

from __future__ import annotations

import numpy as np

import selfattn
from app.recompute import Policy
from selfattn import edit
from selfattn.bundled import load_bundled


def test_edits_during_a_background_recompute_are_kept_and_the_newest_wins(
    qtbot, window, monkeypatch
):
    monkeypatch.setattr(Policy, "background_min_cells", 0)  # everything goes to the worker
    doc = window.document
    rec = window.recompute
    seen = []
    rec.busyChanged.connect(seen.append)
    model = window.inputs_panel.tables["w_query"].matrix_model()
    for k, value in enumerate(("1", "2", "3", "4", "5")):
        assert model.setData(model.index(k % 4, k % 3), value)
    window.options_panel.temperature_spin.setValue(0.5)
    assert rec.busy or seen  # the work went to the worker
    qtbot.waitUntil(lambda: not rec.busy, timeout=10000)
    expected_preset = load_bundled("seed-example")
    for k, value in enumerate((1.0, 2.0, 3.0, 4.0, 5.0)):
        expected_preset = edit.with_block(
            expected_preset, "w_query", k % 4, k % 3, np.array([[value]])
        )
    expected_preset = expected_preset.with_options(temperature=0.5)
    for key in edit.MATRIX_KEYS:
        a, b = getattr(doc.preset, key), getattr(expected_preset, key)
        assert (a is None and b is None) or np.array_equal(a, b), key
    np.testing.assert_allclose(
        rec.result.weights, selfattn.compute(expected_preset).weights, rtol=1e-12, atol=0
    )
    np.testing.assert_allclose(
        window.heatmap.image_item.image, rec.result.weights[0].astype(np.float32)
    )
    assert seen[0] is True and seen[-1] is False
    assert not window.busy_bar.isVisible()
    # Undo walks back through every edit, in order.
    while doc.undo_stack.canUndo():
        doc.undo_stack.undo()
    rec.wait()
    np.testing.assert_array_equal(doc.preset.w_query, load_bundled("seed-example").w_query)
    np.testing.assert_allclose(
        rec.result.weights, selfattn.compute(load_bundled("seed-example")).weights, rtol=1e-12
    )


def test_big_file_opens_on_the_worker(qtbot, window, tmp_path, monkeypatch):
    import app.files

    monkeypatch.setattr(app.files, "BACKGROUND_LOAD_BYTES", 0)
    path = tmp_path / "p.json"
    selfattn.save_preset(load_bundled("padding-mask"), path)
    assert window.files.open_path(path, ask=False)
    qtbot.waitUntil(lambda: window.document.path == path, timeout=10000)
    assert window.document.preset.name == load_bundled("padding-mask").name


def test_an_edit_that_would_overflow_is_refused_before_reaching_the_worker(
    qtbot, window, monkeypatch
):
    """Found in review: a failed worker job used to undo whatever command was on top."""
    monkeypatch.setattr(Policy, "background_min_cells", 0)
    doc = window.document
    rec = window.recompute
    wq = window.inputs_panel.tables["w_query"].matrix_model()
    wk = window.inputs_panel.tables["w_key"].matrix_model()
    wv = window.inputs_panel.tables["w_value"].matrix_model()
    assert wq.setData(wq.index(0, 0), "1e200")  # large but finite scores: accepted
    assert not wk.setData(wk.index(0, 0), "1e200")  # q·k overflows: refused at once
    assert "overflow" in window.statusBar().currentMessage()
    window.inputs_panel.tables["w_value"].setCurrentIndex(wv.index(0, 0))
    assert window.inputs_panel.tables["w_value"].paste_text("7\t7")
    rec.wait()
    assert doc.preset.w_query[0, 0] == 1e200
    assert doc.preset.w_key[0, 0] == load_bundled("seed-example").w_key[0, 0]
    assert doc.preset.w_value[0, :2].tolist() == [7.0, 7.0]
    assert doc.undo_stack.count() == 2 and doc.undo_stack.index() == 2
    np.testing.assert_array_equal(rec.result.weights, selfattn.compute(doc.preset).weights)


def test_views_show_a_consistent_pair_while_the_worker_runs(qtbot, window, monkeypatch):
    """Found in review: the new preset's labels were drawn with the old result."""
    monkeypatch.setattr(Policy, "background_min_cells", 0)
    doc = window.document
    rec = window.recompute
    window.inputs_panel.spin_tokens.setValue(2)  # structural change, computed on the worker
    assert rec.result.weights.shape[1:] == (rec.result_preset.n_tokens, rec.result_preset.n_keys)
    window.set_view_mode("scaled_scores")  # a redraw while busy must not mix the two
    window._on_heatmap_clicked(2, 2)
    window.select_head(0)
    rec.wait()
    assert rec.result_preset is doc.preset
    assert rec.result.weights.shape == (1, 2, 2)


def test_a_failed_job_keeps_the_last_good_result_and_the_undo_stack(qtbot, window, monkeypatch):
    monkeypatch.setattr(Policy, "background_min_cells", 0)
    doc = window.document
    rec = window.recompute
    good_preset, good_weights = doc.preset, rec.result.weights.copy()

    def boom(preset, change):
        raise MemoryError("pretend the machine ran out")

    monkeypatch.setattr(rec, "_compute", boom)
    window.options_panel.temperature_spin.setValue(3.0)
    rec.wait()
    assert "MemoryError" in window.statusBar().currentMessage()
    assert rec.result_preset is good_preset
    np.testing.assert_array_equal(rec.result.weights, good_weights)
    assert doc.undo_stack.count() == 1  # the edit stays; nothing was undone behind the person
    monkeypatch.delattr(rec, "_compute")  # the real computation again
    window.options_panel.temperature_spin.setValue(4.0)
    rec.wait()
    np.testing.assert_allclose(
        rec.result.weights, selfattn.compute(doc.preset).weights, rtol=1e-12, atol=0
    )
