"""Highlights both ways: a result cell outlines the inputs it reads, an input cell the results
it feeds, and an edit flashes the cells whose value changed (hand-worked expectations on the
seed example: 3 tokens of width 4, one head, d_k = d_v = 3, self-attention, no biases)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from app.highlights import FLASH, FOCUS, OUTLINE, changed_cells


def _click(view, row, col):
    view.setCurrentIndex(view.model().index(row, col))


def _outlined_cells(window):
    """{(matrix, head): set of (row, col)} of every outlined cell."""
    out = {}
    for key, mask in window.highlights.outlined().items():
        cells = {(int(r), int(c)) for r, c in zip(*np.nonzero(mask), strict=True)}
        if cells:
            out[key] = cells
    return out


def _all(rows, cols):
    return {(r, c) for r in rows for c in cols}


def test_selecting_weight_1_2_outlines_its_query_and_key_inputs_exactly(window):
    # weight[1,2] (1-based) = softmax of row 1 at key 2: it reads X row 1 through W_Q and
    # X row 2 through W_K -- every column of the one head -- and nothing else directly.
    _click(window.results_panel.tables["weights"], 0, 1)
    assert window.view_state.cell is not None
    assert _outlined_cells(window) == {
        ("inputs", None): _all([0, 1], range(4)),
        ("w_query", None): _all(range(4), range(3)),
        ("w_key", None): _all(range(4), range(3)),
    }
    x_table = window.inputs_panel.tables["inputs"]
    assert x_table.cell_marks(0, 0) & OUTLINE
    assert x_table.cell_marks(1, 3) & OUTLINE
    assert x_table.cell_marks(2, 0) == 0  # X row 3 is not read by weight[1,2]'s own formula
    assert window.inputs_panel.tables["w_value"].cell_marks(0, 0) == 0
    assert window.results_panel.tables["weights"].cell_marks(0, 1) & FOCUS


def test_selecting_an_input_cell_outlines_the_results_it_feeds(window):
    # W_V[1,2] (x1, v2) enters V column 2 of every key, then context column 2 of every
    # query (each reads every value row); scores and weights do not read W_V.
    _click(window.inputs_panel.tables["w_value"], 0, 1)
    got = _outlined_cells(window)
    assert got == {
        ("v", None): _all(range(3), [1]),
        ("context", 0): _all(range(3), [1]),
        ("output", None): _all(range(3), [1]),
    }
    assert window.results_panel.tables["context"].cell_marks(2, 1) & OUTLINE
    assert window.results_panel.tables["scores"].cell_marks(0, 0) == 0
    assert window.inputs_panel.tables["w_value"].cell_marks(0, 1) & FOCUS


def test_heatmap_outlines_the_weights_an_input_cell_feeds(window):
    # X[3,1] is token 3's: as a query it reaches weight row 3, as a key weight column 3
    # (a softmax row reads all its keys, so every weight of row 3 and of column 3).
    window.set_view_mode("weights")
    _click(window.inputs_panel.tables["inputs"], 2, 0)
    assert window.heatmap.highlighted_cells() == _all([2], range(3)) | _all(range(3), [2])
    # W_V feeds no weight: nothing in the heatmap is outlined.
    _click(window.inputs_panel.tables["w_value"], 0, 1)
    assert window.heatmap.highlighted_cells() == frozenset()


def test_clicking_a_q_cell_outlines_its_row_and_column(window):
    _click(window.results_panel.tables["q"], 0, 0)
    assert _outlined_cells(window) == {
        ("inputs", None): _all([0], range(4)),
        ("w_query", None): _all(range(4), [0]),
    }


def test_editing_w_v_flashes_context_and_output_not_scores(window, qtbot):
    window.inputs_panel.tables["w_value"].model().setData(
        window.inputs_panel.tables["w_value"].model().index(2, 0), "5"
    )
    flashing = window.highlights.flashing()
    # W_V[3,1] feeds V column 1 of the keys with x3 != 0 (tokens 1 and 3), then context
    # column 1 of every query and the output (no W_O: output = context).
    assert set(flashing) == {("v", None), ("context", 0), ("output", None)}
    assert {tuple(x) for x in np.argwhere(flashing[("v", None)])} == {(0, 0), (2, 0)}
    assert flashing[("context", 0)][:, 0].all() and not flashing[("context", 0)][:, 1:].any()
    assert window.results_panel.tables["context"].cell_marks(1, 0) & FLASH
    assert window.results_panel.tables["scores"].cell_marks(0, 0) & FLASH == 0
    qtbot.waitUntil(lambda: not window.highlights.flashing(), timeout=3000)


def test_b_k_edit_does_not_flash_weights(window):
    from app import commands
    from selfattn import edit

    assert commands.push_preset(
        window.document, edit.with_biases(window.document.preset, True), "biases"
    )
    assert commands.set_cell_text(window.document, "b_key", 0, 0, "0.7")
    flashing = window.highlights.flashing()
    assert ("scores", 0) in flashing  # q_i · b_K is added to the raw scores
    assert ("weights", 0) not in flashing  # ...but a softmax ignores a shift of its row
    assert ("context", 0) not in flashing


def test_flash_setting_turns_it_off(window):
    window.highlights.set_flash_enabled(False)
    assert window.settings.value("flash_changed_cells") in (False, "false")
    model = window.inputs_panel.tables["w_value"].model()
    model.setData(model.index(2, 0), "5")
    assert window.highlights.flashing() == {}


def test_changed_cells_ignores_rounding_and_sees_real_changes():
    old = np.array([[0.1, 0.2, -np.inf], [1.0, 2.0, 3.0]])
    new = old.copy()
    new[0, 0] = np.nextafter(0.1, 1.0)  # one ulp: rounding
    new[1, 2] = 3.001
    assert changed_cells(old, new, np.dtype(np.float64)).tolist() == [
        [False, False, False],
        [False, False, True],
    ]
    new[0, 2] = 0.0  # was masked, now a number
    assert changed_cells(old, new, np.dtype(np.float64))[0, 2]


@pytest.mark.parametrize("dark", [False, True])
def test_outline_pixels_show_on_light_and_dark_tables(window, qtbot, dark):
    from PySide6.QtGui import QColor, QPalette

    view = window.inputs_panel.tables["inputs"]
    window.inputs_dock.raise_()
    if dark:
        palette = view.palette()
        for role in (QPalette.ColorRole.Base, QPalette.ColorRole.AlternateBase):
            palette.setColor(role, QColor(30, 30, 30))
        palette.setColor(QPalette.ColorRole.Text, QColor(230, 230, 230))
        view.setPalette(palette)
    _click(window.results_panel.tables["weights"], 0, 1)
    view.clearSelection()
    view.setCurrentIndex(view.model().index(-1, -1))
    image = view.viewport().grab().toImage()
    rect = view.visualRect(view.model().index(0, 0))
    edge = image.pixelColor(rect.left() + 1, rect.center().y())
    assert edge.red() > 200 and 100 < edge.green() < 180 and edge.blue() < 60  # the orange line
    unmarked = view.visualRect(view.model().index(2, 0))
    inside = image.pixelColor(unmarked.left() + 1, unmarked.center().y())
    assert not (inside.red() > 200 and inside.blue() < 60 and 100 < inside.green() < 180)


def test_flash_setting_is_read_from_settings(tmp_path, qtbot):
    from app.document import Document
    from app.highlights import Highlights
    from app.recompute import Recompute
    from app.view_state import ViewState
    from selfattn.bundled import load_bundled

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue("flash_changed_cells", False)
    doc = Document(load_bundled("seed-example"))
    highlights = Highlights(Recompute(doc), ViewState(), settings)
    assert highlights.flash_enabled is False
