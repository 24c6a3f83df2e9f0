"""Explicit ownership of result buffers: memory is reused only after the owner gives it
back (ResultBuffers.give_back, IncrementalAttention.release); nothing rests on
reference counts, so a result someone holds never changes."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from selfattn.attention import ResultBuffers, attention
from selfattn.incremental import IncrementalAttention
from selfattn.preset import Options, Preset, Rope, compute

SELFATTN = Path(__file__).resolve().parents[2] / "selfattn"
BIG = ("scores", "scaled_scores", "weights")


@pytest.fixture(autouse=True)
def _always_incremental(monkeypatch):
    monkeypatch.setattr(IncrementalAttention, "min_cells", 0)


def layer(seed: int, n: int = 6, d: int = 4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), *(rng.standard_normal((d, d)) for _ in range(3))


def test_no_module_consults_reference_counts():
    for path in sorted(SELFATTN.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert "getrefcount" not in names, path


def test_results_without_buffers_get_arrays_of_their_own():
    first = attention(*layer(0))
    kept = {name: getattr(first, name).copy() for name in BIG}
    for seed in range(1, 4):
        attention(*layer(seed))
    for name in BIG:
        np.testing.assert_array_equal(getattr(first, name), kept[name])


def test_buffers_are_reused_only_after_they_are_given_back():
    buffers = ResultBuffers()
    first = attention(*layer(0), buffers=buffers)
    kept = first.weights.copy()
    second = attention(*layer(1), buffers=buffers)
    assert not np.shares_memory(second.weights, first.weights)  # first was not given back
    np.testing.assert_array_equal(first.weights, kept)
    buffers.give_back(first)
    assert buffers.free_count == 3
    third = attention(*layer(2), buffers=buffers)
    assert third.weights is first.weights or third.scores is first.scores  # recycled
    np.testing.assert_array_equal(third.weights, attention(*layer(2)).weights)


def test_giving_back_twice_or_foreign_results_does_nothing():
    buffers = ResultBuffers()
    mine = attention(*layer(0), buffers=buffers)
    buffers.give_back(mine)
    buffers.give_back(mine)
    assert buffers.free_count == 3
    reused = attention(*layer(1), buffers=buffers)
    buffers.give_back(mine)  # its arrays are now lent to `reused`: not free again
    assert buffers.free_count == 0
    buffers.give_back(attention(*layer(2)))  # never lent by these buffers
    assert buffers.free_count == 0
    np.testing.assert_array_equal(reused.weights, attention(*layer(1)).weights)


def test_buffers_of_another_shape_are_not_kept_idle():
    buffers = ResultBuffers()
    buffers.give_back(attention(*layer(0), buffers=buffers))
    assert buffers.free_count == 3
    attention(*layer(1, n=9), buffers=buffers)
    assert buffers.free_count == 0


def preset(style: str | None = None) -> Preset:
    x, w_q, w_k, w_v = layer(5, n=8, d=4)
    rope = None if style is None else Rope(style=style)
    return Preset(
        inputs=x, w_query=w_q, w_key=w_k, w_value=w_v, options=Options(heads=2, rope=rope)
    )


def edited(p: Preset, row: int, col: int, value: float) -> Preset:
    x = np.array(p.inputs)
    x[row, col] = value
    return p.replace(inputs=x)


@pytest.mark.parametrize("style", [None, "half"])
def test_an_edit_after_release_updates_the_arrays_in_place(style):
    p = preset(style)
    inc = IncrementalAttention(p)
    arrays = {name: getattr(inc.result, name) for name in BIG}
    inc.release()
    p2 = edited(p, 3, 1, 4.0)
    new = inc.edit_cell(p2, "inputs", 3, 1)
    for name in BIG:
        assert getattr(new, name) is arrays[name], name  # the in-place path ran
    np.testing.assert_allclose(new.weights, compute(p2).weights, rtol=1e-12, atol=1e-15)
    assert not new.weights.flags.writeable


@pytest.mark.parametrize("style", [None, "interleaved"])
def test_an_edit_without_release_copies_and_leaves_the_held_result_alone(style):
    p = preset(style)
    inc = IncrementalAttention(p)
    held = inc.result
    kept = {name: getattr(held, name).copy() for name in BIG}
    new = inc.edit_cell(edited(p, 3, 1, 4.0), "inputs", 3, 1)
    for name in BIG:
        assert getattr(new, name) is not getattr(held, name)
        np.testing.assert_array_equal(getattr(held, name), kept[name])


def test_release_covers_only_the_results_handed_out_before_it():
    p = preset()
    inc = IncrementalAttention(p)
    inc.release()
    p2 = edited(p, 1, 1, 2.0)
    held = inc.edit_cell(p2, "inputs", 1, 1)  # a new result, lent again
    kept = held.weights.copy()
    inc.edit_cell(edited(p2, 2, 2, -3.0), "inputs", 2, 2)
    np.testing.assert_array_equal(held.weights, kept)


def test_recompute_reuses_buffers_of_released_results_only():
    p = preset()
    inc = IncrementalAttention(p)
    first = inc.result
    kept = first.weights.copy()
    inc.recompute(p.with_options(temperature=2.0))
    np.testing.assert_array_equal(first.weights, kept)  # not released: untouched
    inc.release()
    second = inc.result
    inc.recompute(p.with_options(temperature=3.0))
    inc.release()
    third = inc.recompute(p.with_options(temperature=4.0))
    assert third.weights is second.weights  # given back by the release before
    np.testing.assert_array_equal(first.weights, kept)
    np.testing.assert_allclose(
        third.weights, compute(p.with_options(temperature=4.0)).weights, rtol=0, atol=0
    )


def test_a_refused_recompute_after_release_keeps_the_old_result():
    p = preset().replace(w_query=np.eye(4), w_key=np.eye(4))
    inc = IncrementalAttention(p)
    want = inc.result.weights.copy()
    inc.release()
    bad = edited(p, 2, 0, 1e200)  # its score overflows
    with pytest.raises(Exception, match="overflow"):
        inc.edit_cell(bad, "inputs", 2, 0)
    assert inc.preset is p
    np.testing.assert_allclose(inc.result.weights, want, rtol=1e-12, atol=1e-15)
