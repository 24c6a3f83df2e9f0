"""Byte-level token labels read as text in the window; the preset keeps them raw."""

from __future__ import annotations

from PySide6.QtCore import Qt

from selfattn.bundled import load_bundled

RAW = ("ĠThe", "Ċ", "Ã©")
SHOWN = ["␣The", "↵", "é"]


def _load(window):
    seed = load_bundled("seed-example")
    preset = seed.replace(tokens=(*RAW, *seed.tokens[3:]))
    window.files.load_model_preset(preset)
    return preset


def test_heatmap_axes_and_table_headers_show_readable_tokens(qtbot, window) -> None:
    preset = _load(window)
    qtbot.waitUntil(lambda: window.heatmap.shape() == (preset.n_tokens, preset.n_keys))
    left = [text for _, text in window.heatmap.plot_item.getAxis("left")._tickLevels[0]]
    top = [text for _, text in window.heatmap.plot_item.getAxis("top")._tickLevels[0]]
    assert left[:3] == SHOWN and top[:3] == SHOWN
    assert left[3:] == list(preset.tokens[3:])  # plain labels unchanged
    weights = window.results_panel.tables["weights"].matrix_model()
    rows = [weights.headerData(i, Qt.Orientation.Vertical) for i in range(3)]
    cols = [weights.headerData(j, Qt.Orientation.Horizontal) for j in range(3)]
    assert rows == SHOWN and cols == SHOWN
    inputs = window.inputs_panel.tables["inputs"].matrix_model()
    assert [inputs.headerData(i, Qt.Orientation.Vertical) for i in range(3)] == SHOWN
    assert inputs.headerData(0, Qt.Orientation.Horizontal) == "x1"
    # the document, and so Save and CSV export, keep the tokenizer's spelling
    assert window.document.preset.tokens[:3] == RAW
