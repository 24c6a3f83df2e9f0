"""The document and its recompute without any window: edits, refusals, policy, generations."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import selfattn
from app import commands
from app.change import Change
from app.document import Document
from app.recompute import Policy, Recompute, score_cells
from selfattn.bundled import load_bundled
from selfattn.preset import Options, Preset


@pytest.fixture
def doc(qapp):
    document = Document(load_bundled("seed-example"))
    yield document
    document.deleteLater()


def test_a_document_alone_edits_undoes_and_signals_once(doc):
    seen = []
    doc.changed.connect(seen.append)
    assert commands.set_cell_text(doc, "inputs", 1, 2, "1/4")
    assert doc.preset.inputs[1, 2] == 0.25
    assert seen == [Change(structure=False, matrix="inputs", rect=(1, 2, 1, 1))]
    doc.undo_stack.undo()
    assert doc.preset.inputs[1, 2] == load_bundled("seed-example").inputs[1, 2]
    assert len(seen) == 2 and doc.is_modified is False


def test_the_recompute_follows_the_document_and_refuses_overflow(doc):
    rec = Recompute(doc)
    results, messages = [], []
    rec.resultChanged.connect(results.append)
    doc.message.connect(messages.append)
    assert commands.set_cell_text(doc, "w_value", 0, 0, "3")
    np.testing.assert_array_equal(rec.result.output, selfattn.compute(doc.preset).output)
    assert rec.result_preset is doc.preset and len(results) == 1
    # q·k = 1e200 * 1e200 overflows float64: refused before it becomes an undo step.
    assert commands.set_cell_text(doc, "w_query", 0, 0, "1e200")
    assert not commands.set_cell_text(doc, "w_key", 0, 0, "1e200")
    assert "overflow" in messages[-1] and doc.undo_stack.count() == 2
    assert doc.preset.w_key[0, 0] == load_bundled("seed-example").w_key[0, 0]


def _preset(heads: int, n: int) -> Preset:
    return Preset(
        inputs=np.ones((n, 2)),
        w_query=np.ones((2, heads)),
        w_key=np.ones((2, heads)),
        w_value=np.ones((2, heads)),
        options=Options(heads=heads),
    )


def test_the_policy_thresholds():
    policy = Policy()
    cell = Change(structure=False, matrix="inputs", rect=(0, 0, 1, 1))
    query_cell = Change(structure=False, matrix="w_query", rect=(0, 0, 1, 1))
    block = Change(structure=False, matrix="inputs", rect=(0, 0, 2, 2))
    small, medium, large = _preset(1, 255), _preset(1, 256), _preset(16, 256)
    assert (score_cells(small), score_cells(medium), score_cells(large)) == (
        65_025,
        65_536,
        1_048_576,
    )
    assert not policy.incremental(small, cell)
    assert policy.incremental(medium, cell) and not policy.incremental(medium, block)
    assert not policy.background(medium, block)
    assert policy.background(large, block) and policy.background(large, Change())
    assert policy.background(large, query_cell)  # a W_Q cell redoes a whole head
    assert not policy.background(large, cell)  # a cheap incremental edit stays here


def test_the_engine_uses_the_policys_threshold(doc):
    rec = Recompute(doc)
    assert rec._engine.min_cells == Policy.incremental_min_cells


def test_only_the_newest_of_queued_changes_is_computed_and_shown(doc, monkeypatch):
    monkeypatch.setattr(Policy, "background_min_cells", 0)
    rec = Recompute(doc)
    computed, shown = [], []
    first_started, release = threading.Event(), threading.Event()
    real = Recompute._compute

    def slow_first(self, preset, change):
        computed.append(preset)
        if len(computed) == 1:
            first_started.set()
            release.wait(10)  # the person keeps changing the temperature meanwhile
        return real(self, preset, change)

    monkeypatch.setattr(Recompute, "_compute", slow_first)
    rec.resultChanged.connect(lambda _change: shown.append(rec.result_preset))
    assert commands.set_options(doc, "T 2", temperature=2.0)  # options go to the worker
    assert first_started.wait(5)
    for value in (3.0, 4.0, 5.0):
        assert commands.set_options(doc, f"T {value}", temperature=value)
    release.set()
    rec.wait()
    assert [p.options.temperature for p in computed] == [2.0, 5.0]  # 3 and 4 were skipped
    assert shown == [doc.preset]  # the first result was already outdated: never shown
    np.testing.assert_array_equal(rec.result.weights, selfattn.compute(doc.preset).weights)


def test_a_failed_job_is_stale_until_the_next_good_compute(doc, monkeypatch):
    monkeypatch.setattr(Policy, "background_min_cells", 0)
    rec = Recompute(doc)
    reasons = []
    rec.staleChanged.connect(reasons.append)
    good = rec.result_preset

    def boom(preset, change):
        raise MemoryError("no room")

    monkeypatch.setattr(rec, "_compute", boom)
    assert commands.set_options(doc, "T", temperature=2.0)
    rec.wait()
    assert rec.result_preset is good and "MemoryError: no room" in rec.stale_reason
    monkeypatch.delattr(rec, "_compute")
    assert commands.set_options(doc, "T", temperature=3.0)
    rec.wait()
    assert rec.stale_reason == "" and rec.result_preset is doc.preset
    assert reasons == [reasons[0], ""] and "MemoryError" in reasons[0]


def test_typed_edits_lend_the_result_and_a_refusal_redraws_the_restored_numbers(qapp, monkeypatch):
    from selfattn.incremental import IncrementalAttention

    rng = np.random.default_rng(3)
    preset = Preset(  # 1 x 256 x 256 = 65,536 score cells: one-cell edits are incremental
        inputs=rng.normal(size=(256, 4)),
        w_query=np.eye(4),
        w_key=np.eye(4),  # raw scores are x_i · x_j
        w_value=rng.normal(size=(4, 4)),
    )
    doc = Document(preset)
    rec = Recompute(doc)
    released, redraws = [], []
    real_release = IncrementalAttention.release
    monkeypatch.setattr(
        IncrementalAttention, "release", lambda self: released.append(1) or real_release(self)
    )
    rec.resultChanged.connect(redraws.append)
    assert commands.set_cell_text(doc, "inputs", 3, 1, "2")
    assert released and len(redraws) == 1  # the engine may update in place: nobody keeps it
    np.testing.assert_allclose(
        rec.result.weights, selfattn.compute(doc.preset).weights, rtol=1e-12, atol=1e-15
    )
    # x4 · x4 with 1e200 in it is 1e400, beyond float64: refused, and the views are told
    # to read the (restored) result again.
    assert not commands.set_cell_text(doc, "inputs", 3, 1, "1e200")
    assert len(redraws) == 2 and doc.preset.inputs[3, 1] == 2
    np.testing.assert_allclose(
        rec.result.weights, selfattn.compute(doc.preset).weights, rtol=1e-12, atol=1e-15
    )
