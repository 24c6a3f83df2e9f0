"""The heatmap export dialog: its defaults, the choices it returns, what it remembers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from app import export_dialog
from app.export_dialog import ExportDialog, default_title, with_format

NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def make(qtbot, settings, tmp_path, title="Seed example — attention weights, head 1", vectors=True):
    dialog = ExportDialog(None, settings, tmp_path, "seed-example-weights", title, vectors)
    qtbot.addWidget(dialog)
    return dialog


def test_default_titles_name_the_preset_and_what_is_shown():
    assert default_title("Seed example", "weights", 0, 1) == (
        "Seed example — attention weights, head 1"
    )
    assert default_title("Two heads", "scores", 1, 2) == "Two heads — raw scores, head 2"
    assert default_title("Two heads", "scaled_scores", 0, 2) == "Two heads — scaled scores, head 1"
    assert default_title("Two heads", "all_heads", 0, 2) == (
        "Two heads — attention weights, all heads"
    )
    assert default_title("  ", "weights", 0, 1) == "Attention weights, head 1"


def test_with_format_swaps_or_adds_the_ending():
    assert with_format("/a/slide.png", "svg") == "/a/slide.svg"
    assert with_format("/a/slide.SVG", "png") == "/a/slide.png"
    assert with_format("/a/slide", "svg") == "/a/slide.svg"
    assert with_format("/a.b/slide.v2", "png") == "/a.b/slide.v2.png"
    assert with_format("", "png") == ""


def test_first_time_defaults_png_white_with_the_default_title(qtbot, settings, tmp_path):
    dialog = make(qtbot, settings, tmp_path)
    choice = dialog.choice()
    assert choice.path == tmp_path / "seed-example-weights.png"
    assert choice.background == "white"
    assert choice.title == "Seed example — attention weights, head 1"
    assert "vector" in dialog.svg_note.text()


def test_choices_come_back_and_are_remembered(qtbot, settings, tmp_path):
    dialog = make(qtbot, settings, tmp_path)
    dialog.svg_button.setChecked(True)
    assert dialog.path_edit.text().endswith("seed-example-weights.svg")  # follows the format
    dialog.transparent_button.setChecked(True)
    dialog.title_edit.setText("Attention in the seed example")
    choice = dialog.choice()
    assert (choice.path.suffix, choice.background, choice.title) == (
        ".svg",
        "transparent",
        "Attention in the seed example",
    )
    dialog.remember()
    again = make(qtbot, settings, tmp_path)
    assert again.svg_button.isChecked() and again.transparent_button.isChecked()
    assert again.title_edit.text() == "Attention in the seed example"  # same picture
    other = make(qtbot, settings, tmp_path, title="Seed example — raw scores, head 1")
    assert other.title_edit.text() == "Seed example — raw scores, head 1"  # another picture


def test_no_title_when_unticked_or_empty_and_remembered(qtbot, settings, tmp_path):
    dialog = make(qtbot, settings, tmp_path)
    dialog.title_box.setChecked(False)
    assert not dialog.title_edit.isEnabled()
    assert dialog.choice().title == ""
    dialog.remember()
    again = make(qtbot, settings, tmp_path, title="Other — attention weights, head 1")
    assert not again.title_box.isChecked() and again.choice().title == ""
    again.title_box.setChecked(True)
    again.title_edit.setText("   ")
    assert again.choice().title == ""  # empty means no title


def test_large_matrices_say_the_svg_embeds_an_image(qtbot, settings, tmp_path):
    dialog = make(qtbot, settings, tmp_path, vectors=False)
    assert "64 × 64" in dialog.svg_note.text() and "image" in dialog.svg_note.text()


def test_browse_picks_the_file_and_its_format(qtbot, settings, tmp_path, monkeypatch):
    dialog = make(qtbot, settings, tmp_path)
    target = tmp_path / "slides" / "figure.svg"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), ""))
    )
    dialog._browse()
    assert dialog.svg_button.isChecked()
    assert dialog.choice().path == target


def test_export_refuses_a_missing_folder(qtbot, settings, tmp_path, dialogs):
    dialog = make(qtbot, settings, tmp_path)
    dialog.path_edit.setText(str(tmp_path / "no-such-folder" / "x.png"))
    dialog._accept_if_writable()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert dialogs.calls and "no-such-folder" in dialogs.calls[0][1]


def test_replacing_a_file_asks_first(qtbot, settings, tmp_path, dialogs):
    existing = tmp_path / "seed-example-weights.png"
    existing.write_bytes(b"old")
    dialog = make(qtbot, settings, tmp_path)
    dialogs.answers["question"] = QMessageBox.StandardButton.No
    dialog._accept_if_writable()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert dialogs.calls[-1][0] == "question" and "Replace" in dialogs.calls[-1][1]


# -- through the window -----------------------------------------------------------------------


def accept_with(monkeypatch, **set_up):
    """Make the dialog answer at once, after ``set_up(dialog)`` chose its options."""
    seen = {}

    def fake_exec(self):
        seen["dialog"] = self
        for name, value in set_up.items():
            if name == "path":
                self.path_edit.setText(str(value))
            elif name == "title":
                self.title_edit.setText(value)
            else:
                getattr(self, name).setChecked(value)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(export_dialog.ExportDialog, "exec", fake_exec)
    return seen


def test_window_exports_what_the_dialog_chose(window, monkeypatch, tmp_path):
    target = tmp_path / "slide.svg"
    seen = accept_with(
        monkeypatch, path=target, svg_button=True, transparent_button=True, title="My slide"
    )
    window.files.export_heatmap_dialog()
    dialog = seen["dialog"]
    assert dialog.title_edit.text() == "My slide"
    root = ET.parse(target).getroot()
    words = [t.text for t in root.iter(f"{NS}text")]
    assert "My slide" in words
    shown = window.heatmap.cell_texts()  # the numbers at the window's precision
    assert len(shown) == 9 and all(text in words for text in shown)
    assert root.get("viewBox")
    assert window.statusBar().currentMessage().endswith("(cells as vector rectangles)")
    assert window.settings.value("export/format") == "svg"
    assert window.settings.value("export/background") == "transparent"


def test_window_dialog_proposes_name_mode_and_head(window, monkeypatch, tmp_path):
    seen = accept_with(monkeypatch, path=tmp_path / "a.png")
    window.files.export_heatmap_dialog()
    assert seen["dialog"].title_edit.text() == "Seed example — attention weights, head 1"
    image = QImage(str(tmp_path / "a.png"))
    assert image.width() >= 1600
    # the title band: dark pixels in the top rows, above the matrix
    top = [image.pixelColor(x, y).lightness() for y in range(60) for x in range(0, 1600, 4)]
    assert min(top) < 80


def test_window_cancel_writes_nothing(window, monkeypatch, tmp_path):
    monkeypatch.setattr(
        export_dialog.ExportDialog, "exec", lambda self: QDialog.DialogCode.Rejected
    )
    window.files.export_heatmap_dialog()
    assert list(tmp_path.glob("*.png")) == [] and list(tmp_path.glob("*.svg")) == []
    assert window.settings.value("export/format") is None


def test_window_all_heads_title_and_vectors(window, monkeypatch, tmp_path):
    window.view_state.set_mode("all_heads")
    seen = accept_with(monkeypatch, path=tmp_path / "heads.svg", svg_button=True)
    window.files.export_heatmap_dialog()
    assert seen["dialog"].title_edit.text() == "Seed example — attention weights, all heads"
    root = ET.parse(tmp_path / "heads.svg").getroot()
    fills = [r.get("fill") for r in root.iter(f"{NS}rect")]
    assert sum(1 for f in fills if f and f.startswith("#") and f != "#ffffff") >= 9
    assert np.isfinite(float(root.get("width")))
