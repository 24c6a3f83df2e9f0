"""IncrementalAttention: every one-cell edit must equal a full recompute (1e-12 relative)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn.attention import AttentionError
from selfattn.incremental import EDITABLE, IncrementalAttention
from selfattn.preset import Options, Preset, compute


@pytest.fixture(autouse=True)
def _always_incremental(monkeypatch):
    """Exercise the incremental path even on the small presets used here."""
    monkeypatch.setattr(IncrementalAttention, "min_cells", 0)


ARRAYS = ("q", "k", "v", "scores", "scaled_scores", "weights", "context", "output")


def make_preset(
    n: int = 12,
    d: int = 8,
    heads: int = 2,
    *,
    m: int | None = None,
    causal: bool = False,
    key_mask: bool = False,
    w_o: bool = True,
    biases: bool = True,
    dtype: str = "float64",
    seed: int = 0,
) -> Preset:
    rng = np.random.default_rng(seed)
    n_keys = n if m is None else m

    def mat(r: int, c: int) -> np.ndarray:
        return rng.standard_normal((r, c))

    return Preset(
        inputs=mat(n, d),
        source_inputs=None if m is None else mat(m, d),
        w_query=mat(d, d),
        w_key=mat(d, d),
        w_value=mat(d, d),
        w_output=mat(d, 5) if w_o else None,
        b_query=rng.standard_normal(d) if biases else None,
        b_key=rng.standard_normal(d) if biases else None,
        b_value=rng.standard_normal(d) if biases else None,
        b_output=rng.standard_normal(5 if w_o else d) if biases else None,
        options=Options(
            heads=heads,
            causal=causal,
            key_mask=tuple(bool(b) for b in rng.random(n_keys) > 0.25) if key_mask else None,
            dtype=dtype,
        ),
    )


def assert_matches_full(result, preset: Preset, rtol: float = 1e-12) -> None:
    full = compute(preset)
    for name in ARRAYS:
        got, want = getattr(result, name), getattr(full, name)
        assert got.shape == want.shape, name
        assert got.dtype == want.dtype, name
        finite = np.isfinite(want)
        scale = float(np.max(np.abs(want[finite]), initial=1.0))
        np.testing.assert_array_equal(np.isfinite(got), finite, err_msg=name)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=name)
    np.testing.assert_array_equal(result.mask, full.mask)
    np.testing.assert_array_equal(result.fully_masked, full.fully_masked)
    assert not any(getattr(result, name).flags.writeable for name in ARRAYS)


def edited(preset: Preset, matrix: str, row: int, col: int, value: float) -> Preset:
    a = np.array(getattr(preset, matrix))
    if a.ndim == 1:
        a[col] = value
    else:
        a[row, col] = value
    return preset.replace(**{matrix: a})


def random_edit(rng: np.random.Generator, preset: Preset, matrices: tuple[str, ...]):
    names = [m for m in matrices if getattr(preset, m) is not None]
    matrix = names[rng.integers(len(names))]
    a = getattr(preset, matrix)
    row = 0 if a.ndim == 1 else int(rng.integers(a.shape[0]))
    col = int(rng.integers(a.shape[-1]))
    value = float(rng.standard_normal() * 2)
    return edited(preset, matrix, row, col, value), matrix, row, col


@pytest.mark.parametrize(
    ("matrix", "cross"),
    [(m, False) for m in EDITABLE if m != "source_inputs"] + [(m, True) for m in EDITABLE],
)
def test_single_edit_of_each_matrix_equals_full_recompute(matrix, cross):
    p = make_preset(m=9 if cross else None, causal=not cross, key_mask=True)
    inc = IncrementalAttention(p)
    for row, col in ((0, 0), (3, 4), (7, 4)):
        p = edited(p, matrix, row, col, 4.25)
        assert_matches_full(inc.edit_cell(p, matrix, row, col), p)
        assert inc.preset is p


def test_thousand_random_edits_stay_within_1e_12_of_full_recompute():
    rng = np.random.default_rng(7)
    p = make_preset(n=64, d=16, heads=2, causal=True, key_mask=True)
    inc = IncrementalAttention(p)
    for i in range(1000):
        # Mostly X cells (the incremental path), the rest spread over all matrices.
        matrices = ("inputs",) if i % 4 else EDITABLE
        p, matrix, row, col = random_edit(rng, p, matrices)
        inc.edit_cell(p, matrix, row, col)
        if i % 250 == 0:
            assert_matches_full(inc.result, p)
    assert_matches_full(inc.result, p)


def test_thousand_random_edits_with_a_source_sequence():
    rng = np.random.default_rng(8)
    p = make_preset(n=20, m=48, d=16, heads=4, key_mask=True)
    inc = IncrementalAttention(p)
    for _ in range(1000):
        p, matrix, row, col = random_edit(rng, p, ("inputs", "source_inputs", "w_value"))
        inc.edit_cell(p, matrix, row, col)
    assert_matches_full(inc.result, p)


def test_edit_of_the_key_holding_every_row_max_falls_back_correctly():
    # Token 0's key dominates every row; shrinking it removes every row's maximum.
    p = make_preset(n=10, d=4, heads=1, biases=False)
    x = np.array(p.inputs)
    x[0] = [30.0, 30.0, 30.0, 30.0]
    p = p.replace(inputs=x, w_query=np.eye(4), w_key=np.eye(4))
    inc = IncrementalAttention(p)
    for value in (-30.0, 0.0, 60.0, 1e-3):
        p = edited(p, "inputs", 0, 2, value)
        assert_matches_full(inc.edit_cell(p, "inputs", 0, 2), p)


def test_a_held_result_never_changes():
    p = make_preset()
    inc = IncrementalAttention(p)
    old = inc.result
    snapshot = {name: getattr(old, name).copy() for name in ARRAYS}
    p2 = edited(p, "inputs", 2, 1, 9.0)
    new = inc.edit_cell(p2, "inputs", 2, 1)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(old, name), snapshot[name], err_msg=name)
    assert not np.array_equal(new.weights, old.weights)


def test_a_held_array_of_an_old_result_never_changes():
    p = make_preset()
    inc = IncrementalAttention(p)
    weights = inc.result.weights
    snapshot = weights.copy()
    p2 = edited(p, "inputs", 2, 1, 9.0)
    inc.edit_cell(p2, "inputs", 2, 1)
    np.testing.assert_array_equal(weights, snapshot)
    assert_matches_full(inc.result, p2)


def test_an_edit_of_more_than_one_cell_is_recomputed_in_full():
    p = make_preset()
    inc = IncrementalAttention(p)
    x = np.array(p.inputs)
    x[1, 1] += 1.0
    x[5, 2] += 1.0
    p2 = p.replace(inputs=x)
    assert_matches_full(inc.edit_cell(p2, "inputs", 1, 1), p2)
    p3 = p2.with_options(temperature=0.5)
    assert_matches_full(inc.edit_cell(p3, "inputs", 1, 1), p3)


def test_an_edit_that_overflows_is_refused_and_the_old_result_kept():
    # With W_Q = W_K = I, score (2, 2) is |x_2|^2, which overflows to +inf.
    p = make_preset(n=6, d=4, heads=1, biases=False).replace(w_query=np.eye(4), w_key=np.eye(4))
    inc = IncrementalAttention(p)
    before = inc.result.weights.copy()
    bad = edited(p, "inputs", 2, 0, 1e200)
    with pytest.raises(AttentionError):
        inc.edit_cell(bad, "inputs", 2, 0)
    assert inc.preset is p
    np.testing.assert_array_equal(inc.result.weights, before)


def test_float32_edits_track_float32_recompute():
    rng = np.random.default_rng(3)
    p = make_preset(n=32, d=8, dtype="float32", causal=True)
    inc = IncrementalAttention(p)
    for _ in range(200):
        p, matrix, row, col = random_edit(rng, p, ("inputs",))
        inc.edit_cell(p, matrix, row, col)
    assert_matches_full(inc.result, p, rtol=1e-4)


edit_step = st.tuples(
    st.sampled_from(EDITABLE),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.floats(-8, 8, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(edit_step, min_size=1, max_size=25),
    heads=st.sampled_from([1, 2]),
    causal=st.booleans(),
    key_mask=st.booleans(),
    cross=st.booleans(),
)
def test_random_edit_sequences_equal_full_recompute(steps, heads, causal, key_mask, cross):
    p = make_preset(n=7, d=4, heads=heads, m=5 if cross else None, causal=causal and not cross)
    if key_mask:
        p = p.with_options(key_mask=(True, False) + (True,) * (p.n_keys - 2))
    inc = IncrementalAttention(p)
    for matrix, i, j, value in steps:
        a = getattr(p, matrix)
        if a is None:
            continue
        row = 0 if a.ndim == 1 else i % a.shape[0]
        col = j % a.shape[-1]
        p = edited(p, matrix, row, col, value)
        inc.edit_cell(p, matrix, row, col)
    assert_matches_full(inc.result, p)


# Modern attention: RoPE, grouped heads and windows take the same row updates -----------


def modern_preset(heads: int, kv_heads: int, style: str | None, window: int | None, cross: bool):
    from selfattn.preset import Rope

    rng = np.random.default_rng(heads * 7 + kv_heads)
    d, d_k, d_v, n, m = 4, 2, 3, 7, 5

    def mat(r: int, c: int) -> np.ndarray:
        return rng.standard_normal((r, c))

    rope = (
        None if style is None else Rope(style=style, theta=30.0, positions=(2, 3, 5, 6, 7, 9, 10))
    )
    return Preset(
        inputs=mat(n, d),
        source_inputs=mat(m, d) if cross else None,
        source_positions=(0, 4, 5, 8, 9) if cross else None,
        w_query=mat(d, heads * d_k),
        w_key=mat(d, kv_heads * d_k),
        w_value=mat(d, kv_heads * d_v),
        w_output=mat(heads * d_v, 3),
        b_query=rng.standard_normal(heads * d_k),
        b_key=rng.standard_normal(kv_heads * d_k),
        b_value=rng.standard_normal(kv_heads * d_v),
        options=Options(heads=heads, kv_heads=kv_heads, causal=not cross, window=window, rope=rope),
    )


def assert_rotations_match(result, preset: Preset) -> None:
    full = compute(preset)
    for name in ("q_rot", "k_rot"):
        got, want = getattr(result, name), getattr(full, name)
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(edit_step, min_size=1, max_size=20),
    grouping=st.sampled_from([(4, 2), (4, 1), (2, 2), (3, 3)]),
    style=st.sampled_from([None, "half", "interleaved"]),
    window=st.sampled_from([None, 1, 3]),
    cross=st.booleans(),
    release=st.booleans(),
)
def test_random_edits_with_rope_groups_and_windows_equal_full_recompute(
    steps, grouping, style, window, cross, release
):
    p = modern_preset(*grouping, style, window, cross)
    inc = IncrementalAttention(p)
    for matrix, i, j, value in steps:
        a = getattr(p, matrix)
        if a is None:
            continue
        row = 0 if a.ndim == 1 else i % a.shape[0]
        col = j % a.shape[-1]
        p = edited(p, matrix, row, col, value)
        if release:
            inc.release()
        inc.edit_cell(p, matrix, row, col)
    assert_matches_full(inc.result, p)
    assert_rotations_match(inc.result, p)


def test_a_rope_edit_rotates_only_the_edited_row_by_its_own_position():
    p = modern_preset(4, 2, "half", None, False)
    inc = IncrementalAttention(p)
    before = inc.result.q_rot.copy()
    p2 = edited(p, "inputs", 3, 1, 5.0)
    r = inc.edit_cell(p2, "inputs", 3, 1)
    changed = np.flatnonzero(np.any(r.q_rot != before, axis=1))
    assert changed.tolist() == [3]
    assert_rotations_match(r, p2)


def test_changing_positions_is_recomputed_in_full():
    from selfattn.preset import Rope

    p = modern_preset(2, 1, "interleaved", 2, False)
    inc = IncrementalAttention(p)
    p2 = p.with_options(rope=Rope(style="interleaved", theta=30.0, positions=tuple(range(7))))
    assert_matches_full(inc.edit_cell(p2, "inputs", 0, 0), p2)
    cross = modern_preset(2, 1, "half", None, True)
    inc = IncrementalAttention(cross)
    moved = cross.replace(source_positions=(1, 2, 3, 4, 5))
    assert_matches_full(inc.edit_cell(moved, "source_inputs", 0, 0), moved)
