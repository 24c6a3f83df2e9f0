"""The Generate panel: a decoder continues a prompt step by step in the window.

Independent truth: the continuations are `transformers`' greedy `generate`
(tests/fixtures/generation_*.npz, written by tools/); each step's attention is a
full forward pass of the numpy decoder over the same ids without the key/value
cache (the cache must not change the rows the heatmap draws).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMenu

from selfattn.models import load_decoder, smollm2_path

FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY = FIXTURES / "decoders" / "tiny-llama"
TINY_REF = np.load(FIXTURES / "generation_tiny-llama.npz")
# the attention of a cached step equals the full pass within this (DESIGN.md, issue 13)
ATTENTION_TOL = 2e-5


def _panel(window, model: Path | None):
    panel = window.generate_panel
    panel.dock.show()
    panel.set_model(model)
    return panel


def _run(qtbot, panel, prompt: str, tokens: int, timeout_ms: int = 30_000) -> None:
    panel.prompt_edit.setPlainText(prompt)
    panel.tokens_spin.setValue(tokens)
    with qtbot.waitSignal(panel.runner.finished, timeout=timeout_ms):
        panel.generate()
    assert panel.stop_reason in ("limit", "eos"), panel.status.text()


def _full_pass_row(model_path: Path, ids, layer: int, head: int) -> np.ndarray:
    """The last token's attention from one uncached pass over `ids` (layer, head from 1)."""
    out = load_decoder(model_path).forward(list(ids), keep_attentions=True, logits="none")
    assert out.attentions is not None
    return out.attentions[layer - 1][head - 1][-1].astype(np.float64)


def test_generating_five_tokens_shows_five_steps(qtbot, window):
    panel = _panel(window, TINY)
    _run(qtbot, panel, str(TINY_REF["prompt_0"]), 5)
    view = panel.step_view
    assert [s.token_id for s in view.steps] == list(TINY_REF["new_ids_0"][:5])
    assert (panel.slider.minimum(), panel.slider.maximum(), panel.slider.value()) == (1, 5, 5)
    assert panel.step_label.text() == "step 5 of 5"
    n = len(TINY_REF["ids_0"])
    assert view.start is not None and view.start.prompt_ids == tuple(TINY_REF["ids_0"])
    # the heatmap shows prompt + 5 generated tokens, the generated ones marked
    assert window.heatmap.shape() == (n + 5, n + 5)
    labels = window.heatmap._row_labels
    assert [lab.startswith("▸ ") for lab in labels] == [False] * n + [True] * 5
    # the chart: ten bars, the chosen token's probability among them
    chosen = view.steps[-1]
    assert len(panel.bars.opts["width"]) == 10
    assert chosen.prob == pytest.approx(max(panel.bars.opts["width"]))  # greedy: the top bar


def test_slider_moves_the_heatmaps_last_row_to_that_steps_attention(qtbot, window):
    panel = _panel(window, TINY)
    _run(qtbot, panel, str(TINY_REF["prompt_2"]), 5)
    panel.layer_spin.setValue(2)
    panel.head_spin.setValue(3)
    view = panel.step_view
    assert view.active and (view.layer, view.head) == (2, 3)
    n = len(view.start.prompt_ids)
    last_rows = []
    for t in (1, 4, 2, 5, 3):
        panel.slider.setValue(t)
        drawn = window.heatmap.matrix.values
        assert drawn.shape == (n + t, n + t)
        expected = _full_pass_row(TINY, view.token_ids(t), 2, 3)
        np.testing.assert_allclose(drawn[-1], expected, atol=ATTENTION_TOL)
        np.testing.assert_allclose(window.heatmap.matrix.buffer[-1], expected, atol=ATTENTION_TOL)
        last_rows.append(drawn[-1].copy())
    assert not np.allclose(last_rows[0], last_rows[1][: len(last_rows[0])])  # it moved
    # unticking "show in the heatmap" gives the heatmap back to the document
    panel.show_check.setChecked(False)
    assert window.heatmap.shape() == (3, 3)


def test_stop_ends_a_run_after_the_layer_it_is_in(qtbot, window, monkeypatch):
    """Every layer is slowed to 20 ms, so the 50-token run would take at least 3 s; Stop
    after the second step must end it (finished delivered on the GUI thread) once the
    layer in progress is done: at most one more layer runs. (How long that takes is a
    benchmark's business, not a unit test's: a loaded machine stretches any bound.)"""
    model = load_decoder(TINY)
    real_mlp = type(model).mlp
    layers_run = [0]

    def slow_mlp(self, number, h):
        time.sleep(0.02)
        layers_run[0] += 1
        return real_mlp(self, number, h)

    monkeypatch.setattr(type(model), "mlp", slow_mlp)
    panel = _panel(window, TINY)
    panel.prompt_edit.setPlainText("hello")
    panel.tokens_spin.setValue(50)
    panel.generate()
    qtbot.waitUntil(lambda: len(panel.step_view.steps) >= 2, timeout=20_000)
    with qtbot.waitSignal(panel.runner.finished, timeout=20_000) as blocker:
        at_stop = layers_run[0]
        panel.stop()
    assert blocker.args[1] == "stopped"
    assert panel.stop_reason == "stopped" and not panel.running
    assert len(panel.step_view.steps) < 50
    assert layers_run[0] - at_stop <= 1  # only the layer that was running when Stop came
    # the window stayed live and can run again at once
    monkeypatch.setattr(type(model), "mlp", real_mlp)
    _run(qtbot, panel, "hello", 2)
    assert len(panel.step_view.steps) == 2


def test_open_this_step_as_a_preset_and_undo(qtbot, window):
    panel = _panel(window, TINY)
    _run(qtbot, panel, str(TINY_REF["prompt_0"]), 5)
    panel.layer_spin.setValue(3)
    panel.head_spin.setValue(2)
    panel.slider.setValue(3)
    step_weights, _visible = panel.step_view.matrix()
    before = window.document.preset
    undo_count = window.document.undo_stack.count()
    with qtbot.waitSignal(window.document.changed, timeout=10_000):
        panel.open_button.click()
    preset = window.document.preset
    assert window.document.undo_stack.count() == undo_count + 1
    n = len(TINY_REF["ids_0"])
    assert preset.n_tokens == n + 3 and preset.options.heads == 1 and preset.options.causal
    weights = window.recompute.result.weights[0]
    np.testing.assert_allclose(weights, step_weights, atol=ATTENTION_TOL)
    # the heatmap now draws the ordinary preset (its own numbers, editable)
    assert not panel.step_view.active
    np.testing.assert_allclose(window.heatmap.matrix.values, weights)
    assert panel.tool_action is not None and panel.tool_action.isEnabled()  # a decoder head
    window.document.undo_stack.undo()
    assert window.document.preset is before
    assert not panel.tool_action.isEnabled()
    assert "not made from a model" in panel.tool_action.toolTip()


def test_chat_switch_only_with_a_chat_template(qtbot, window):
    panel = window.generate_panel
    assert not panel.dock.isVisible()  # closed until asked for: View → Generate…
    view_menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&View")
    assert panel.action in view_menu.actions()
    panel.action.trigger()
    assert panel.dock.isVisible()
    panel = _panel(window, TINY)
    qtbot.waitUntil(lambda: "layers" in panel.model_info.text(), timeout=10_000)
    assert not panel.chat_check.isEnabled()  # the tiny checkpoint has no chat template


SMOLLM2 = smollm2_path()
REQUIRE = os.environ.get("SELFATTN_REQUIRE_MODEL") == "1"


@pytest.mark.skipif(SMOLLM2 is None and not REQUIRE, reason="the bundled SmolLM2 is not installed")
def test_smollm2_chat_continuation_equals_transformers(qtbot, window):
    assert SMOLLM2 is not None, "SELFATTN_REQUIRE_MODEL=1 but SmolLM2 is not installed"
    ref = np.load(FIXTURES / "generation_smollm2.npz")
    assert bool(ref["chat_3"])
    panel = _panel(window, None)  # the bundled SmolLM2
    qtbot.waitUntil(lambda: panel.chat_check.isEnabled(), timeout=60_000)
    panel.chat_check.setChecked(True)
    _run(qtbot, panel, str(ref["prompt_3"]), 3, timeout_ms=180_000)
    steps = panel.step_view.steps
    assert panel.step_view.start.prompt_ids == tuple(ref["ids_3"])
    assert [s.token_id for s in steps] == list(ref["new_ids_3"][:3])
    np.testing.assert_allclose([s.prob for s in steps], ref["chosen_probs_3"][:3], atol=1e-4)
    # a SmolLM2 head opened as a preset turns the toolbar's Generate button on
    with qtbot.waitSignal(window.document.changed, timeout=60_000):
        panel.open_button.click()
    assert panel.tool_action.isEnabled()
