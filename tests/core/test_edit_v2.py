"""Resizing keeps the version-2 options: grouped key/value blocks, positions, window, rope."""

from __future__ import annotations

import numpy as np
import pytest

from selfattn import PresetError, compute
from selfattn.edit import resized, with_source
from selfattn.preset import Options, Preset, Rope


def grouped() -> Preset:
    """4 query heads of d_k = 1, 2 key/value heads (W_K columns = the kv head numbers)."""
    return Preset(
        inputs=np.ones((3, 2)),
        w_query=np.arange(8.0).reshape(2, 4),
        w_key=np.array([[1.0, 2.0], [1.0, 2.0]]),
        w_value=np.array([[10.0, 20.0], [10.0, 20.0]]),
        options=Options(heads=4, kv_heads=2, window=2, rope=Rope(dims=None, positions=(5, 6, 7))),
    )


def test_growing_d_k_keeps_each_key_value_head_block():
    p = resized(grouped().with_options(rope=None), d_k=2)
    # kv head 1 keeps column 1, kv head 2's number moves to its new block start (column 3)
    np.testing.assert_array_equal(p.w_key, [[1, 0, 2, 0], [1, 0, 2, 0]])
    assert p.w_query.shape == (2, 8)
    assert p.options.kv_heads == 2 and p.options.window == 2
    compute(p)  # a consistent preset


def test_more_tokens_continue_the_positions():
    p = resized(grouped(), n_tokens=5)
    assert p.options.rope.positions == (5, 6, 7, 8, 9)
    assert resized(grouped(), n_tokens=2).options.rope.positions == (5, 6)


def test_heads_that_kv_heads_does_not_divide_are_refused():
    with pytest.raises(PresetError, match="kv_heads=2 must divide heads=3"):
        resized(grouped(), heads=3)
    p = resized(grouped(), heads=6, kv_heads=3)
    assert p.w_key.shape == (2, 3) and p.w_value.shape == (2, 3)
    assert p.options.kv_heads == 3


def test_switching_grouping_off_gives_one_key_value_head_per_query_head():
    p = resized(grouped(), kv_heads=None)
    assert p.options.kv_heads is None
    assert p.w_key.shape == (2, 4) and p.w_value.shape == (2, 4)
    np.testing.assert_array_equal(p.w_key[0], [1, 2, 0, 0])


def test_leaving_cross_attention_drops_the_source_positions():
    p = grouped().replace(source_inputs=np.ones((2, 2)), source_positions=(0, 1))
    assert with_source(p, False).source_positions is None


def test_output_projection_and_biases_of_grouped_heads_are_h_times_d_v_wide():
    """4 query heads, 2 key/value heads of d_v = 1: the contexts side by side are 4 wide,
    though W_V has only 2 columns."""
    from selfattn.edit import with_biases, with_output_projection

    p = with_output_projection(grouped().with_options(rope=None), True)
    np.testing.assert_array_equal(p.w_output, np.eye(4))
    r = compute(p)
    np.testing.assert_array_equal(r.output, np.concatenate(list(r.context), axis=1))
    no_wo = with_biases(grouped().with_options(rope=None), True)
    assert no_wo.b_output.shape == (4,) and no_wo.b_value.shape == (2,)
    compute(no_wo)
