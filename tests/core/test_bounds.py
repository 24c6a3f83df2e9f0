"""selfattn.bounds: cheap refusals and overflow proofs before computing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import selfattn
from selfattn.attention import AttentionError
from selfattn.bounds import check_shapes, surely_finite
from selfattn.bundled import bundled_names, load_bundled
from selfattn.preset import Options, Preset


def _preset(x, w, *, heads=1, dtype="float64", temperature=1.0, w_output=None, b=None):
    return Preset(
        inputs=np.asarray(x, dtype=float),
        w_query=np.asarray(w, dtype=float),
        w_key=np.asarray(w, dtype=float),
        w_value=np.asarray(w, dtype=float),
        w_output=w_output,
        b_query=b,
        b_key=b,
        b_value=b,
        options=Options(heads=heads, dtype=dtype, temperature=temperature),
    )


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_preset_is_proven_finite(name):
    assert surely_finite(load_bundled(name))


def test_scores_beyond_float64_are_not_proven_finite():
    # q = k = 1e200 (one token, W = 1): the score q·k = 1e400 overflows float64.
    preset = _preset([[1e200]], [[1.0]])
    assert not surely_finite(preset)
    with pytest.raises(AttentionError, match="overflow"):
        selfattn.compute(preset)


def test_float32_is_judged_by_its_own_range():
    # Scores 1e20 * 1e20 = 1e40: fine in float64, beyond float32's 3.4e38.
    assert surely_finite(_preset([[1e20]], [[1.0]]))
    assert not surely_finite(_preset([[1e20]], [[1.0]], dtype="float32"))


def test_a_tiny_temperature_is_counted_in_the_logits():
    # Score 1, divided by temperature 1e-320 (a subnormal): the logit overflows float64.
    assert surely_finite(_preset([[1.0]], [[1.0]]))
    assert not surely_finite(_preset([[1.0]], [[1.0]], temperature=1e-320))


def test_the_output_projection_is_counted():
    # V = 1e300 is finite; W_O = 1e10 makes the output 1e310, beyond float64.
    preset = _preset([[1.0]], [[1.0]], w_output=np.array([[1e10]]))
    assert surely_finite(preset)
    assert not surely_finite(preset.replace(w_value=np.array([[1e300]])))


def test_heads_that_do_not_divide_the_widths_are_refused_with_the_numbers():
    preset = _preset(np.eye(2, 4), np.eye(4, 3))
    check_shapes(preset)
    with pytest.raises(AttentionError, match="2 heads do not divide the query/key width 3"):
        check_shapes(preset.with_options(heads=2))


def test_a_key_mask_of_the_wrong_length_is_refused():
    preset = _preset(np.eye(2, 4), np.eye(4, 2)).with_options(key_mask=(True,))
    with pytest.raises(AttentionError, match="1 entries for 2 keys"):
        check_shapes(preset)


def test_what_check_shapes_refuses_compute_refuses_too():
    preset = _preset(np.eye(3, 4), np.eye(4, 6)).with_options(heads=4)
    with pytest.raises(AttentionError):
        check_shapes(preset)
    with pytest.raises(AttentionError):
        selfattn.compute(preset)


_magnitudes = st.sampled_from([0.0, 1e-300, 1e-5, 1.0, 3.0, 1e5, 1e18, 1e40, 1e100, 1e160])


@st.composite
def _presets(draw):
    n = draw(st.integers(1, 4))
    d = draw(st.integers(1, 4))
    heads = draw(st.sampled_from([1, 2]))
    d_k = heads * draw(st.integers(1, 2))
    shape_scale = draw(_magnitudes)
    signs = st.floats(-1, 1, allow_nan=False)
    x = np.array(draw(st.lists(signs, min_size=n * d, max_size=n * d))).reshape(n, d)
    ws = [
        np.array(draw(st.lists(signs, min_size=d * d_k, max_size=d * d_k))).reshape(d, d_k)
        * draw(_magnitudes)
        for _ in range(3)
    ]
    dtype = draw(st.sampled_from(["float64", "float32"]))
    temperature = draw(st.sampled_from([1e-30, 1e-3, 1.0, 100.0]))
    w_output = None
    if draw(st.booleans()):
        w_output = np.ones((d_k, d)) * draw(_magnitudes)
    return Preset(
        inputs=x * shape_scale,
        w_query=ws[0],
        w_key=ws[1],
        w_value=ws[2],
        w_output=w_output,
        options=Options(heads=heads, dtype=dtype, temperature=temperature),
    )


@settings(max_examples=300, deadline=None)
@given(_presets())
def test_a_preset_proven_finite_computes_without_overflow(preset):
    """The proof is sound: whenever it says finite, compute succeeds with finite numbers."""
    if not surely_finite(preset):
        return
    result = selfattn.compute(preset)  # must not raise AttentionError (overflow)
    for name in ("q", "k", "v", "scores", "context", "output"):
        assert np.isfinite(getattr(result, name)).all(), name
    assert np.isfinite(result.scaled_scores[:, result.mask]).all()


# The overflow refusal in words: matrix, row and dtype ----------------------------------


def _refusal(preset: Preset) -> str:
    with pytest.raises(AttentionError) as caught:
        selfattn.compute(preset)
    return str(caught.value)


def test_values_of_source_inputs_that_overflow_float32_are_said_in_words():
    """Cross-attention in float32: source row 2 = [0, 1e30] times W_V = diag(1, 1e20) is
    1e50 > 3.4e38; the keys (W_K = I) and the queries stay small."""
    eye = np.eye(2)
    preset = Preset(
        inputs=eye, w_query=eye, w_key=eye, w_value=np.diag([1.0, 1e20]),
        source_inputs=np.array([[1.0, 0.0], [0.0, 1e30]]),
        options=Options(dtype="float32", scale="none"),
    )  # fmt: skip
    assert _refusal(preset) == (
        "the values (source inputs × W_V + b_V) overflow float32 in row 2 (key 2): "
        "the source inputs or W_V are too large"
    )


def test_queries_that_overflow_name_their_row():
    """Row 3 of X = [0, 1e30] times W_Q = diag(1, 1e10) = 1e40 > float32's 3.4e38."""
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1e30]])
    preset = Preset(
        inputs=x, w_query=np.diag([1.0, 1e10]), w_key=np.eye(2) * 1e-30, w_value=np.eye(2),
        options=Options(dtype="float32"),
    )  # fmt: skip
    message = _refusal(preset)
    assert message.startswith("the queries (inputs × W_Q + b_Q) overflow float32 in row 3")
    assert "(query 3)" in message and "V = " not in message and "Xs" not in message


def test_an_output_that_overflows_names_the_query_row():
    """X = V = I, so each context row is its weights row, which adds up to 1; with
    W_O = [[1e308], [1e308]] each output is 1 × 1e308, and b_O = 1e308 makes it 2e308,
    beyond float64's 1.8e308, from row 1 on."""
    eye = np.eye(2)
    preset = Preset(
        inputs=eye, w_query=eye, w_key=eye, w_value=eye,
        w_output=np.array([[1e308], [1e308]]), b_output=np.array([1e308]),
    )  # fmt: skip
    assert _refusal(preset) == (
        "the output (context × W_O + b_O) overflows float64 in row 1 (query 1): "
        "W_O or the values are too large"
    )
