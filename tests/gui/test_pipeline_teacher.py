"""A teacher's polish: the preset's name and description are edited in the window (undoable)
and Save As proposes and writes them; every Results tab is in sight at the default size."""

from __future__ import annotations

import json

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialog, QFileDialog

from app.preset_info import PresetInfoDialog, set_name_and_description


def test_name_and_description_edits_are_one_undo_step_each(window):
    doc = window.document
    assert set_name_and_description(doc, "Lesson 1: dot products", "Three tokens, one head.")
    assert (doc.preset.name, doc.preset.description) == (
        "Lesson 1: dot products",
        "Three tokens, one head.",
    )
    assert set_name_and_description(doc, "Lesson 1b", "Three tokens, one head.")
    doc.undo_stack.undo()
    assert doc.preset.name == "Lesson 1: dot products"
    doc.undo_stack.undo()
    assert (doc.preset.name, doc.preset.description) == ("Seed example", doc.preset.description)
    assert doc.preset.description.startswith("The classic hand-worked example")
    doc.undo_stack.redo()
    assert doc.preset.name == "Lesson 1: dot products"


def test_an_empty_name_is_refused_and_nothing_changes(window):
    steps = window.document.undo_stack.count()
    assert not set_name_and_description(window.document, "   ", "anything")
    assert window.document.preset.name == "Seed example"
    assert window.document.undo_stack.count() == steps
    assert "needs a name" in window.statusBar().currentMessage()


def test_the_dialog_applies_both_fields(window):
    dialog = PresetInfoDialog(window.document, window)
    assert dialog.name_edit.text() == "Seed example"
    dialog.name_edit.setText("Attention by hand")
    dialog.description_edit.setPlainText("For Tuesday's class")
    dialog.accept()
    assert window.document.preset.name == "Attention by hand"
    assert window.document.preset.description == "For Tuesday's class"
    assert window.action_preset_info.text().startswith("&Name and description")


def test_save_as_proposes_the_name_and_writes_name_and_description(window, tmp_path, monkeypatch):
    set_name_and_description(window.document, "Attention by hand", "For Tuesday's class")
    proposed = []

    def fake_dialog(_parent, _title, suggested, _filter):
        proposed.append(suggested)
        return str(tmp_path / "lesson"), "Presets (*.json)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_dialog))
    assert window.files.save_as()
    assert proposed[0].endswith("attention-by-hand.json")
    data = json.loads((tmp_path / "lesson.json").read_text(encoding="utf-8"))
    assert data["name"] == "Attention by hand"
    assert data["description"] == "For Tuesday's class"


def test_every_results_tab_is_in_sight_at_the_default_size(window):
    tabs = window.results_panel.tabs
    bar = tabs.tabBar()
    assert not tabs.usesScrollButtons()
    for i in range(tabs.count()):
        rect = bar.tabRect(i)
        assert rect.right() <= bar.width(), tabs.tabText(i)
        assert "…" not in tabs.tabText(i)
    assert [tabs.tabText(i) for i in range(tabs.count())][-2:] == ["Context", "Output"]


# Slide-ready exports ----------------------------------------------------------------------


def _export_with_and_without_selection(window, tmp_path, suffix, background):
    """(with the weight[1,2] outline on screen, with nothing selected) exports of one view."""
    window.center_tabs.setCurrentWidget(window.heatmap_stack)
    window._on_heatmap_clicked(0, 1)
    assert window.heatmap._matrix.selected == (0, 1)  # the outline is on screen
    selected = tmp_path / f"selected-{background}{suffix}"
    assert window.files.export_heatmap(selected, background)
    assert window.heatmap._matrix.selected == (0, 1)  # the screen keeps its outline
    window.view_state.clear_cell()
    assert window.heatmap._matrix.selected is None
    plain = tmp_path / f"plain-{background}{suffix}"
    assert window.files.export_heatmap(plain, background)
    return selected, plain


def test_exported_png_has_no_outline_a_white_background_and_tight_margins(window, tmp_path):
    from app.heatmap.export import content_box

    selected, plain = _export_with_and_without_selection(window, tmp_path, ".png", "white")
    image = QImage(str(selected))
    assert image == QImage(str(plain))  # pixel for pixel: the outline left no trace
    assert image.width() >= 1600
    corners = [
        image.pixelColor(x, y) for x in (0, image.width() - 1) for y in (0, image.height() - 1)
    ]
    assert all((c.red(), c.green(), c.blue(), c.alpha()) == (255, 255, 255, 255) for c in corners)
    box = content_box(image, None)  # tight: the drawing reaches within 3 % of every edge
    assert box.left() <= 0.03 * image.width()
    assert image.width() - 1 - box.right() <= 0.03 * image.width()
    assert box.top() <= 0.03 * image.height()
    assert image.height() - 1 - box.bottom() <= 0.03 * image.height()


def test_the_outline_would_show_in_an_export_if_it_were_drawn(window, tmp_path):
    """The comparison above can fail: an export of the raw scene keeps the outline."""
    from app.heatmap.export import export_png

    window.center_tabs.setCurrentWidget(window.heatmap_stack)
    glw = window.heatmap.graphics_widget
    window._on_heatmap_clicked(0, 1)
    export_png(glw, str(tmp_path / "raw-selected.png"), 800)
    window.view_state.clear_cell()
    export_png(glw, str(tmp_path / "raw-plain.png"), 800)
    assert QImage(str(tmp_path / "raw-selected.png")) != QImage(str(tmp_path / "raw-plain.png"))


def test_exported_png_can_be_transparent(window, tmp_path):
    selected, plain = _export_with_and_without_selection(window, tmp_path, ".png", "transparent")
    image = QImage(str(selected))
    assert image == QImage(str(plain))
    assert image.hasAlphaChannel()
    assert image.pixelColor(0, 0).alpha() == 0
    assert image.pixelColor(image.width() - 1, image.height() - 1).alpha() == 0


def test_exported_svg_background_as_chosen_and_no_outline(window, tmp_path):
    import re

    for background in ("white", "transparent"):
        selected, plain = _export_with_and_without_selection(window, tmp_path, ".svg", background)
        text = selected.read_text(encoding="utf-8")
        assert text == plain.read_text(encoding="utf-8")
        first_rect = re.search(r"<rect[^>]*>", text).group(0).lower()
        if background == "white":
            assert "#ffffff" in first_rect
        else:  # no background rectangle: the first one is a cell (vector SVG)
            assert "#ffffff" not in first_rect, first_rect


def test_the_export_dialog_offers_white_and_transparent(window, monkeypatch, tmp_path):
    from app import export_dialog

    def choose_transparent(dialog):
        assert dialog.white_button.isChecked()  # white first, transparent offered
        dialog.transparent_button.setChecked(True)
        dialog.path_edit.setText(str(tmp_path / "slide"))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(export_dialog.ExportDialog, "exec", choose_transparent)
    window.files.export_heatmap_dialog()
    assert QImage(str(tmp_path / "slide.png")).pixelColor(0, 0).alpha() == 0
