"""The window stays usable with a whole BERT-base layer (12 heads, 768 x 768, 512 tokens)."""

from __future__ import annotations

import numpy as np

import selfattn
from selfattn.incremental import IncrementalAttention
from selfattn.preset import Options, Preset


def _bert_base_layer(n: int = 512, d: int = 768, heads: int = 12) -> Preset:
    rng = np.random.default_rng(1)
    w = [rng.normal(0, 0.03, size=(d, d)) for _ in range(4)]
    return Preset(
        inputs=rng.normal(size=(n, d)),
        w_query=w[0],
        w_key=w[1],
        w_value=w[2],
        w_output=w[3],
        b_query=rng.normal(0, 0.01, d),
        b_key=rng.normal(0, 0.01, d),
        b_value=rng.normal(0, 0.01, d),
        b_output=rng.normal(0, 0.01, d),
        name="BERT-base-sized layer",
        options=Options(heads=heads, dtype="float32"),
    )


def _count_calls(monkeypatch, cls, name):
    """Wrap cls.name so every call is counted (the method still runs)."""
    calls = []
    real = getattr(cls, name)

    def counted(self, *args, **kwargs):
        calls.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, counted)
    return calls


def test_a_bert_base_layer_opens_edits_and_saves(window, tmp_path, qtbot, monkeypatch):
    preset = _bert_base_layer()
    path = tmp_path / "bert-base.json"
    selfattn.save_preset(preset, path)  # about 2.75 million cells
    assert window.files.open_path(path, ask=False)
    qtbot.waitUntil(
        lambda: window.document.path == path and not window.recompute.busy, timeout=60000
    )
    doc = window.document
    rec = window.recompute
    assert rec.result.weights.shape == (12, 512, 512)
    assert window.heatmap.image_item.image.shape == (512, 512)
    # One cell of X: the incremental path (no full recompute ran), equal to a full recompute.
    full = _count_calls(monkeypatch, IncrementalAttention, "recompute")
    cell = _count_calls(monkeypatch, IncrementalAttention, "edit_cell")
    model = window.inputs_panel.tables["inputs"].matrix_model()
    assert model.setData(model.index(3, 5), "2.5")
    rec.wait()
    assert len(cell) == 1 and cell[0][1:] == ("inputs", 3, 5)
    assert full == []  # edit_cell did not fall back to recomputing everything
    expected = selfattn.compute(doc.preset)
    np.testing.assert_allclose(rec.result.weights, expected.weights, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rec.result.output, expected.output, rtol=1e-4, atol=1e-5)
    window.select_head(11)
    np.testing.assert_allclose(
        window.heatmap.image_item.image, rec.result.weights[11], rtol=0, atol=0
    )
    window.set_view_mode("all_heads")
    assert len(window.all_heads.panels) == 12
    # Undo the edit, then save and reopen.
    doc.undo_stack.undo()
    rec.wait()
    assert doc.preset.inputs[3, 5] == preset.inputs[3, 5]
    assert window.files.save_to(tmp_path / "again.json")
