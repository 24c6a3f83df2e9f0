"""selfattn.provenance: which inputs a result cell depends on, and which results an input feeds.

The independent truth is the computation itself: change one input cell, recompute
the layer, and see which result cells move. With generic random numbers (no
zeros, no ties) a cell moves exactly when it depends on the changed input, so
`feeds(...).full` must equal the set of cells that moved, and `depends_on` must
be its exact inverse.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn import Options, Preset, compute
from selfattn.explain import CellRef
from selfattn.provenance import (
    HEAD_MATRICES,
    INPUT_MATRICES,
    RESULT_MATRICES,
    CellSet,
    cell_ref,
    depends_on,
    feeds,
    runs,
)
from selfattn.rope import Rope

X = [[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]]
W_Q = [[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]]
W_K = [[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]]
W_V = [[0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]]


def seed() -> Preset:
    return Preset(inputs=X, w_query=W_Q, w_key=W_K, w_value=W_V)


def block(matrix: str, rows: range, cols: range, head: int | None = None) -> set[CellRef]:
    return {CellRef(matrix, head, r, c) for r in rows for c in cols}


# The example -----------------------------------------------------------


def test_weight_1_2_depends_on_query_row_1_key_row_2_and_the_heads_weights() -> None:
    p = seed()
    prov = depends_on(p, compute(p), CellRef("weights", 0, 0, 1))  # weight[1,2]
    expected = (
        block("inputs", range(0, 1), range(4))  # X row 1 (the query)
        | block("inputs", range(1, 2), range(4))  # X row 2 (the key)
        | block("w_query", range(4), range(3))  # W_Q's columns of the (only) head
        | block("w_key", range(4), range(3))
    )
    assert prov.direct.cells() == expected
    # The softmax divides by a sum over every visible key of row 1: X row 3 too.
    assert prov.normaliser_only() == block("inputs", range(2, 3), range(4))
    assert prov.full.cells() == expected | block("inputs", range(2, 3), range(4))


def test_weight_of_head_2_depends_on_that_heads_columns_only() -> None:
    rng = np.random.default_rng(5)
    p = Preset(
        inputs=rng.normal(size=(3, 4)),
        w_query=rng.normal(size=(4, 4)),
        w_key=rng.normal(size=(4, 4)),
        w_value=rng.normal(size=(4, 4)),
        options=Options(heads=2),
    )
    prov = depends_on(p, compute(p), CellRef("weights", 1, 0, 1))
    assert prov.direct.cells() == (
        block("inputs", range(0, 2), range(4))
        | block("w_query", range(4), range(2, 4))
        | block("w_key", range(4), range(2, 4))
    )


def test_w_value_feeds_context_and_output_but_no_score() -> None:
    p = seed().replace(w_output=np.eye(3) * 2.0)
    r = compute(p)
    for a, c in itertools.product(range(4), range(3)):
        reached = feeds(p, r, CellRef("w_value", None, a, c)).full
        kinds = {m for m, _ in reached.matrices()}
        assert kinds == {"v", "context", "output"}
        # column c of V, so column c of every context row, and through W_O every output
        assert reached.cells() == (
            block("v", range(3), range(c, c + 1))
            | block("context", range(3), range(c, c + 1), head=0)
            | block("output", range(3), range(3))
        )
    # ... and the numbers agree: an edit of W_V moves no score.
    edited = compute(p.replace(w_value=np.asarray(W_V) + 0.5))
    np.testing.assert_array_equal(edited.scores, r.scores)
    np.testing.assert_array_equal(edited.weights, r.weights)
    assert not np.any(edited.context == r.context)


def test_key_bias_does_not_reach_the_weights() -> None:
    """b_K adds q_i · b_K to the whole of row i, and a softmax ignores such a shift."""
    rng = np.random.default_rng(2)
    p = Preset(
        inputs=rng.normal(size=(3, 2)),
        w_query=rng.normal(size=(2, 2)),
        w_key=rng.normal(size=(2, 2)),
        w_value=rng.normal(size=(2, 2)),
        b_key=[0.3, -0.7],
    )
    r = compute(p)
    reached = feeds(p, r, CellRef("b_key", None, 0, 1)).full
    assert {m for m, _ in reached.matrices()} == {"k", "scores", "scaled_scores"}
    assert CellRef("b_key", None, 0, 1) not in depends_on(p, r, CellRef("weights", 0, 1, 2)).full
    assert CellRef("b_key", None, 0, 1) in depends_on(p, r, CellRef("scores", 0, 1, 2)).full


def test_masked_cells_depend_on_nothing() -> None:
    p = seed().with_options(causal=True, key_mask=(False, True, True))
    r = compute(p)
    # weight[1,3]: key 3 comes after query 1 (causal) -- and row 1 sees no key at all.
    assert not depends_on(p, r, CellRef("weights", 0, 0, 2)).full
    assert not depends_on(p, r, CellRef("scaled_scores", 0, 0, 2)).full
    assert not depends_on(p, r, CellRef("context", 0, 0, 1)).full
    # Row 2 sees key 2 only: its weight is 1 whatever the numbers; the context is V row 2.
    assert not depends_on(p, r, CellRef("weights", 0, 1, 1)).full
    assert depends_on(p, r, CellRef("context", 0, 1, 1)).full.cells() == (
        block("inputs", range(1, 2), range(4)) | block("w_value", range(4), range(1, 2))
    )
    # The raw score is computed before any mask.
    assert depends_on(p, r, CellRef("scores", 0, 0, 2)).full


def test_fully_masked_row_output_is_the_output_bias_alone() -> None:
    p = seed().replace(w_output=np.ones((3, 2)), b_output=[1.0, 2.0])
    p = p.with_options(key_mask=(False, False, False))
    r = compute(p)
    assert depends_on(p, r, CellRef("output", None, 1, 1)).full.cells() == {
        CellRef("b_output", None, 0, 1)
    }


def test_cell_sets_stay_compact_for_long_sequences() -> None:
    rng = np.random.default_rng(0)
    n, d = 512, 64
    p = Preset(
        inputs=rng.normal(size=(n, d)),
        w_query=rng.normal(size=(d, d)),
        w_key=rng.normal(size=(d, d)),
        w_value=rng.normal(size=(d, d)),
        options=Options(heads=4, causal=True),
    )
    r = compute(p)
    prov = feeds(p, r, CellRef("inputs", None, 100, 3))
    assert len(prov.full.blocks) < 60
    # The outline of head 2's weights: row 101 (as a query), column 101 (as a key, from row
    # 101 on, causal), and through the normaliser every visible weight of the rows below.
    outline = prov.full.mask_of("weights", 1, (n, n))
    expected = np.zeros((n, n), dtype=bool)
    expected[100, :101] = True
    expected[100:] |= np.tri(n, dtype=bool)[100:]
    np.testing.assert_array_equal(outline, expected)
    direct = prov.direct.mask_of("weights", 1, (n, n))
    expected_direct = np.zeros((n, n), dtype=bool)
    expected_direct[100, :101] = True
    expected_direct[100:, 100] = True
    np.testing.assert_array_equal(direct, expected_direct)


def test_cell_ref_keeps_the_head_only_where_matrices_have_heads() -> None:
    assert cell_ref("weights", 1, 2, head=3) == CellRef("weights", 3, 1, 2)
    assert cell_ref("output", 1, 2, head=3) == CellRef("output", None, 1, 2)
    assert cell_ref("w_query", 0, 1) == CellRef("w_query", None, 0, 1)


def test_runs_splits_a_boolean_vector_into_ranges() -> None:
    assert runs(np.array([True, True, False, True, False, True, True, True])) == [
        range(0, 2),
        range(3, 4),
        range(5, 8),
    ]
    assert runs(np.zeros(3, dtype=bool)) == []


def test_bad_cells_are_refused_with_a_clear_message() -> None:
    p = seed()
    r = compute(p)
    with pytest.raises(ValueError, match="input"):
        depends_on(p, r, CellRef("inputs", None, 0, 0))
    with pytest.raises(ValueError, match="result"):
        feeds(p, r, CellRef("weights", 0, 0, 0))
    with pytest.raises(IndexError, match="out of range"):
        depends_on(p, r, CellRef("weights", 0, 3, 0))
    with pytest.raises(IndexError, match="head"):
        depends_on(p, r, CellRef("weights", 1, 0, 0))
    with pytest.raises(ValueError, match="not part of this preset"):
        feeds(p, r, CellRef("w_output", None, 0, 0))
    with pytest.raises(ValueError, match="unknown matrix"):
        feeds(p, r, CellRef("nonsense", None, 0, 0))


def test_cell_set_membership_matches_its_cells() -> None:
    p = seed().with_options(causal=True)
    r = compute(p)
    prov = feeds(p, r, CellRef("w_query", None, 0, 0))
    cells = prov.full.cells()
    assert CellRef("weights", 0, 2, 1) in prov.full
    assert CellRef("weights", 0, 0, 1) not in prov.full  # masked (causal)
    assert CellRef("weights", 0, 0, 0) not in prov.full  # row 1 sees one key: weight 1
    assert len(prov.full) == len(cells) == len(list(prov.full))
    assert isinstance(prov.full, CellSet)


# Property: structure = what moves ------------------------------------------------


@st.composite
def generic_presets(draw: st.DrawFn) -> Preset:
    """A small random layer with generic (Gaussian) numbers and random options."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def normal(*shape: int) -> np.ndarray:
        # moderate numbers: no softmax row saturates to within 1e-12 of one-hot
        return rng.normal(scale=0.6, size=shape)

    n = draw(st.integers(1, 3))
    d = draw(st.integers(1, 3))
    heads = draw(st.integers(1, 2))
    kv_heads = draw(st.sampled_from([None, 1])) if heads == 2 else None
    groups = kv_heads or heads
    rope = None
    if draw(st.booleans()):
        d_k = draw(st.sampled_from([2, 4]))
        rope = Rope(
            style=draw(st.sampled_from(["half", "interleaved"])),
            theta=draw(st.sampled_from([10000.0, 10.0])),
            dims=draw(st.sampled_from([None, 2])),
            positions=draw(st.none() | st.lists(st.integers(0, 4), min_size=n, max_size=n)),
        )
    else:
        d_k = draw(st.integers(1, 2))
    d_v = draw(st.integers(1, 2))
    cross = draw(st.booleans())
    m = draw(st.integers(1, 3)) if cross else n
    parts: dict[str, object] = {
        "inputs": normal(n, d),
        "w_query": normal(d, heads * d_k),
        "w_key": normal(d, groups * d_k),
        "w_value": normal(d, groups * d_v),
    }
    if cross:
        parts["source_inputs"] = normal(m, d)
        parts["source_positions"] = draw(
            st.none() | st.lists(st.integers(0, 4), min_size=m, max_size=m)
        )
    d_out = heads * d_v
    if draw(st.booleans()):
        d_out = draw(st.integers(1, 2))
        parts["w_output"] = normal(heads * d_v, d_out)
    for name, width in (
        ("b_query", heads * d_k),
        ("b_key", groups * d_k),
        ("b_value", groups * d_v),
        ("b_output", d_out),
    ):
        if draw(st.booleans()):
            parts[name] = normal(width)
    key_mask = draw(st.none() | st.lists(st.booleans(), min_size=m, max_size=m).map(tuple))
    options = Options(
        heads=heads,
        causal=draw(st.booleans()),
        key_mask=key_mask,
        temperature=draw(st.sampled_from([0.5, 1.0, 2.0])),
        kv_heads=kv_heads,
        rope=rope,
        window=draw(st.none() | st.integers(1, 3)),
    )
    return Preset(options=options, **parts)  # type: ignore[arg-type]


def _cells_of(matrix: str, array: np.ndarray) -> list[CellRef]:
    if matrix in HEAD_MATRICES:
        return [CellRef(matrix, h, i, j) for h, i, j in np.ndindex(array.shape)]
    if array.ndim == 1:
        return [CellRef(matrix, None, 0, j) for j in range(array.shape[0])]
    return [CellRef(matrix, None, i, j) for i, j in np.ndindex(array.shape)]


def _moved(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Cells whose value changed beyond rounding (a shift the softmax ignores is rounding:
    about 1e-15 of the value; a real change of these moderate numbers is far above 1e-12)."""
    with np.errstate(invalid="ignore"):  # -inf - -inf, masked logits on both sides
        same = (before == after) | (np.abs(before - after) <= 1e-12 * np.abs(before))
    return ~same


@settings(max_examples=60, deadline=None)
@given(generic_presets())
def test_an_input_feeds_exactly_the_result_cells_that_move_when_it_changes(p: Preset) -> None:
    r = compute(p)
    results = {k: np.asarray(getattr(r, k)) for k in RESULT_MATRICES if getattr(r, k) is not None}
    fed_direct: dict[CellRef, frozenset[CellRef]] = {}
    fed_full: dict[CellRef, frozenset[CellRef]] = {}
    for name in INPUT_MATRICES:
        base = getattr(p, name)
        if base is None:
            continue
        for cell in _cells_of(name, base):
            edited = base.copy()
            edited[(cell.col,) if base.ndim == 1 else (cell.row, cell.col)] += 0.5
            r2 = compute(p.replace(**{name: edited}))
            moved = set()
            for k, before in results.items():
                changed = _moved(before, np.asarray(getattr(r2, k)))
                moved |= {
                    c
                    for c in _cells_of(k, before)
                    if changed[(c.head, c.row, c.col) if c.head is not None else (c.row, c.col)]
                }
            prov = feeds(p, r, cell)
            assert prov.full.cells() == moved, cell
            assert prov.direct.cells() <= prov.full.cells()
            fed_direct[cell] = prov.direct.cells()
            fed_full[cell] = prov.full.cells()
    # depends_on is the inverse of feeds, for both sizes of the answer.
    for k, array in results.items():
        for cell in _cells_of(k, array):
            prov = depends_on(p, r, cell)
            assert prov.direct.cells() == {i for i, f in fed_direct.items() if cell in f}, cell
            assert prov.full.cells() == {i for i, f in fed_full.items() if cell in f}, cell
            # only a weight has a normaliser part, and it is made of key rows
            assert prov.normaliser_only() == set() or cell.matrix == "weights"
            src = "inputs" if p.source_inputs is None else "source_inputs"
            assert all(c.matrix == src for c in prov.normaliser_only())
