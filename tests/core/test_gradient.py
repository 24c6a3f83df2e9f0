"""selfattn.gradient: exact partial derivatives, checked against central finite differences
(each a pair of full recomputations through `selfattn.compute`) and against the seed
example worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selfattn import Options, Preset, compute
from selfattn.explain import CellRef
from selfattn.gradient import gradient
from selfattn.provenance import HEAD_MATRICES, INPUT_MATRICES, depends_on
from selfattn.rope import Rope

X = [[1, 0, 1, 0], [0, 2, 0, 2], [1, 1, 1, 1]]
W_Q = [[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 1]]
W_K = [[0, 0, 1], [1, 1, 0], [0, 1, 0], [1, 1, 0]]
W_V = [[0, 2, 0], [0, 3, 0], [1, 0, 3], [1, 1, 0]]
SQRT3 = math.sqrt(3)


def seed() -> Preset:
    return Preset(inputs=X, w_query=W_Q, w_key=W_K, w_value=W_V)


def value_of(preset: Preset, cell: CellRef) -> float:
    array = getattr(compute(preset), cell.matrix)
    if cell.matrix in HEAD_MATRICES:
        return float(array[cell.head, cell.row, cell.col])
    return float(array[cell.row, cell.col])


def finite_differences(preset: Preset, cell: CellRef, name: str, step: float = 1e-5) -> np.ndarray:
    """∂ cell / ∂ every entry of input `name`, by central differences of full recomputations."""
    base = getattr(preset, name)
    out = np.zeros(base.shape)
    for index in np.ndindex(base.shape):
        up, down = base.copy(), base.copy()
        up[index] += step
        down[index] -= step
        high = value_of(preset.replace(**{name: up}), cell)
        low = value_of(preset.replace(**{name: down}), cell)
        # a masked logit stays -inf: a constant, derivative 0
        out[index] = 0.0 if high == low else (high - low) / (2 * step)
    return out


# Worked by hand on the seed example -------------------------------------------------
#   k_0 = [0, 1, 1], k_1 = [4, 4, 0], k_2 = [2, 3, 1];  scores row 1 = [2, 4, 4]
#   a = softmax([2, 4, 4] / sqrt 3): a_0 = e/(e + 2), a_1 = a_2 = 1/(e + 2), e = exp(-2/sqrt 3)
#   weight[1,2] = a_1;  ∂a_1/∂q_0 = a_1 (k_1 − Σ_k a_k k_k) / sqrt 3
#   ∂a_1/∂W_Q[r, c] = x_0[r] ∂a_1/∂q_0[c],  x_0 = [1, 0, 1, 0]


def test_weight_1_2_by_hand() -> None:
    e = math.exp(-2 / SQRT3)
    a = np.array([e, 1, 1]) / (e + 2)
    k = np.array([[0, 1, 1], [4, 4, 0], [2, 3, 1]], dtype=float)
    d_q0 = a[1] * (k[1] - a @ k) / SQRT3
    g = gradient(seed(), CellRef("weights", 0, 0, 1))
    assert g.value == pytest.approx(1 / (e + 2), abs=1e-15)
    expected = np.outer([1, 0, 1, 0], d_q0)
    np.testing.assert_allclose(g.wrt["w_query"], expected, atol=1e-15)
    assert g.at(CellRef("w_query", None, 2, 0)) == pytest.approx(d_q0[0], abs=1e-15)
    assert g.at(CellRef("w_query", None, 1, 2)) == 0.0  # x_0[1] = 0


def test_q_cell_by_hand() -> None:
    g = gradient(seed(), CellRef("q", None, 0, 0))  # Q[1,q1] = X row 1 · W_Q column 1
    expected_w = np.zeros((4, 3))
    expected_w[:, 0] = X[0]
    np.testing.assert_array_equal(g.wrt["w_query"], expected_w)
    expected_x = np.zeros((3, 4))
    expected_x[0] = np.asarray(W_Q)[:, 0]
    np.testing.assert_array_equal(g.wrt["inputs"], expected_x)
    assert not g.wrt["w_key"].any() and not g.wrt["w_value"].any()


def test_output_without_w_o_is_the_context_and_bias_counts_once() -> None:
    p = seed().replace(b_output=[0.5, -1.0, 2.0])
    g_out = gradient(p, CellRef("output", None, 1, 2))
    g_ctx = gradient(p, CellRef("context", 0, 1, 2))
    for name in ("inputs", "w_query", "w_key", "w_value"):
        np.testing.assert_array_equal(g_out.wrt[name], g_ctx.wrt[name])
    np.testing.assert_array_equal(g_out.wrt["b_output"], [0, 0, 1])


def test_a_float32_preset_is_differentiated_in_float64() -> None:
    p = seed().with_options(dtype="float32")
    g = gradient(p, CellRef("weights", 0, 0, 1), compute(p))
    assert g.wrt["w_query"].dtype == np.float64
    assert g.value == pytest.approx(1 / (math.exp(-2 / SQRT3) + 2), abs=1e-15)


def test_inputs_are_refused_as_targets() -> None:
    with pytest.raises(ValueError, match="input"):
        gradient(seed(), CellRef("w_query", None, 0, 0))
    with pytest.raises(ValueError, match="not an input"):
        gradient(seed(), CellRef("q", None, 0, 0)).at(CellRef("w_output", None, 0, 0))


# Against finite differences on random layers -----------------------------------------


def entries(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Moderate magnitudes: central differences with step 1e-5 stay accurate to ~1e-8."""
    return hnp.arrays(np.float64, shape, elements=st.floats(-1.5, 1.5, width=64))


@st.composite
def layers(draw: st.DrawFn, two_heads_with_w_o: bool = False, modern: bool = True) -> Preset:
    """A random layer: masks, heads, W_O, biases, cross-attention; grouped heads, RoPE
    and a sliding window when `modern`."""
    n = draw(st.integers(1, 4))
    d = draw(st.integers(1, 3))
    heads = 2 if two_heads_with_w_o else draw(st.integers(1, 2))
    kv_heads = draw(st.sampled_from([None, 1])) if modern and heads == 2 else None
    groups = kv_heads or heads
    rope = None
    if modern and draw(st.booleans()):
        d_k = draw(st.sampled_from([2, 4]))
        rope = Rope(
            style=draw(st.sampled_from(["half", "interleaved"])),
            theta=draw(st.sampled_from([10000.0, 10.0])),
            dims=draw(st.sampled_from([None, 2])),
            positions=draw(st.none() | st.lists(st.integers(0, 9), min_size=n, max_size=n)),
        )
    else:
        d_k = draw(st.integers(1, 2))
    d_v = draw(st.integers(1, 2))
    cross = draw(st.booleans())
    m = draw(st.integers(1, 4)) if cross else n
    parts: dict[str, object] = {
        "inputs": draw(entries((n, d))),
        "w_query": draw(entries((d, heads * d_k))),
        "w_key": draw(entries((d, groups * d_k))),
        "w_value": draw(entries((d, groups * d_v))),
    }
    if cross:
        parts["source_inputs"] = draw(entries((m, d)))
        if modern:
            parts["source_positions"] = draw(
                st.none() | st.lists(st.integers(0, 9), min_size=m, max_size=m)
            )
    d_out = heads * d_v
    if two_heads_with_w_o or draw(st.booleans()):
        d_out = draw(st.integers(1, 2))
        parts["w_output"] = draw(entries((heads * d_v, d_out)))
    for name, width in (
        ("b_query", heads * d_k),
        ("b_key", groups * d_k),
        ("b_value", groups * d_v),
        ("b_output", d_out),
    ):
        if draw(st.booleans()):
            parts[name] = draw(entries((width,)))
    options = Options(
        heads=heads,
        causal=draw(st.booleans()),
        key_mask=draw(st.none() | st.lists(st.booleans(), min_size=m, max_size=m).map(tuple)),
        temperature=draw(st.sampled_from([0.5, 1.0, 1.7])),
        scale=draw(st.sampled_from(["sqrt_dk", "none", 2.5])),
        kv_heads=kv_heads,
        rope=rope,
        window=draw(st.none() | st.integers(1, 3)) if modern else None,
    )
    return Preset(options=options, **parts)  # type: ignore[arg-type]


@st.composite
def layer_and_cell(draw: st.DrawFn, matrix: str, two_heads_with_w_o: bool = False):  # type: ignore[no-untyped-def]
    p = draw(layers(two_heads_with_w_o, modern=not two_heads_with_w_o))
    r = compute(p)
    assume(getattr(r, matrix) is not None)  # q_rot and k_rot exist with RoPE only
    shape = getattr(r, matrix).shape
    index = tuple(draw(st.integers(0, s - 1)) for s in shape)
    if matrix in HEAD_MATRICES:
        return p, CellRef(matrix, index[0], index[1], index[2])
    return p, CellRef(matrix, None, index[0], index[1])


def check_against_finite_differences(p: Preset, cell: CellRef) -> None:
    g = gradient(p, cell)
    for name in INPUT_MATRICES:
        if getattr(p, name) is None:
            continue
        np.testing.assert_allclose(
            g.wrt[name], finite_differences(p, cell, name), rtol=0, atol=1e-6, err_msg=name
        )


@settings(max_examples=60, deadline=None)
@given(layer_and_cell("weights"))
def test_weight_gradient_matches_finite_differences(case: tuple[Preset, CellRef]) -> None:
    check_against_finite_differences(*case)


@settings(max_examples=60, deadline=None)
@given(layer_and_cell("output"))
def test_output_gradient_matches_finite_differences(case: tuple[Preset, CellRef]) -> None:
    check_against_finite_differences(*case)


@settings(max_examples=30, deadline=None)
@given(layer_and_cell("weights", two_heads_with_w_o=True))  # classic: masks, 2 heads, W_O
def test_two_heads_weight_gradient_matches_finite_differences(
    case: tuple[Preset, CellRef],
) -> None:
    check_against_finite_differences(*case)


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(
        ["q", "k", "v", "q_rot", "k_rot", "scores", "scaled_scores", "context"]
    ).flatmap(layer_and_cell)
)
def test_every_other_result_matches_finite_differences(case: tuple[Preset, CellRef]) -> None:
    check_against_finite_differences(*case)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["weights", "context", "output"]).flatmap(layer_and_cell))
def test_nonzero_derivatives_lie_inside_the_dependency_set(case: tuple[Preset, CellRef]) -> None:
    p, cell = case
    r = compute(p)
    g = gradient(p, cell, r)
    full = depends_on(p, r, cell).full
    for name, array in g.wrt.items():
        for index in zip(*np.nonzero(np.abs(array) > 1e-12), strict=True):
            row, col = (0, int(index[0])) if array.ndim == 1 else (int(index[0]), int(index[1]))
            assert CellRef(name, None, row, col) in full
