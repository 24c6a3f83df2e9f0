"""One number-formatting module: each format against hand-written texts and properties.

Round trips must read back exactly; no display text may lose a number's sign or its
exponent (a weight of 9.188e-08 must never read as 9.188).
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selfattn.numbers import (
    EXPLAIN_DIGITS,
    MINUS,
    cell_text,
    cell_texts,
    compact_exponent,
    editor_text,
    round_trip,
    significant,
)

any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
finite_nonzero = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != 0)


def _read(text: str) -> float:
    """What a person reads: real minus signs as "-", "∞" as infinity."""
    return float(text.replace(MINUS, "-").replace("∞", "inf"))


def _off_by(text: str, x: float) -> Decimal:
    """|shown - x| relative to |x|, exactly (no overflow next to the largest double)."""
    shown = Decimal(text.replace(MINUS, "-"))
    return abs(shown - Decimal(x)) / abs(Decimal(x))


def _half_unit(digits: int) -> Decimal:
    """Half a unit in the last of ``digits`` significant digits, relative."""
    return Decimal(5) * Decimal(10) ** (-digits)


# -- round trip (CSV, editor) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.1, "0.1"), (1.0, "1.0"), (1 / 3, "0.3333333333333333"), (1e-05, "1e-05"),
     (-0.0, "-0.0"), (-2.5, "-2.5"), (1.2345678901234568e17, "1.2345678901234568e+17"),
     (math.inf, "inf"), (-math.inf, "-inf"), (np.float32(0.1), "0.10000000149011612")],
)  # fmt: skip
def test_round_trip_is_the_shortest_exact_text(value: float, text: str) -> None:
    assert round_trip(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (-2.0, "-2"), (100.0, "100"), (0.5, "0.5"), (1e16, "1e+16"),
     (1e-05, "1e-05"), (-math.inf, "-inf"), (math.inf, "inf"), (0.0, "0"), (-0.0, "-0")],
)  # fmt: skip
def test_editor_text_drops_only_a_trailing_point_zero(value: float, text: str) -> None:
    assert editor_text(value) == text


@given(any_float)
def test_round_trip_and_editor_text_read_back_exactly(x: float) -> None:
    for text in (round_trip(x), editor_text(x)):
        back = float(text)
        if math.isnan(x):
            assert math.isnan(back)  # the sign of a NaN means nothing
            continue
        assert back == x
        assert math.copysign(1.0, back) == math.copysign(1.0, x)  # -0.0 stays -0.0


# -- significant digits (tables, hover, CLI, explain) -----------------------------------


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [(1 / 3, 6, "0.333333"), (-0.25, 6, "−0.25"), (4.0, 6, "4"), (0.0, 6, "0"), (-0.0, 6, "0"),
     (9.188e-08, 6, "9.188e−08"), (-1.5e-05, 6, "−1.5e−05"), (1234567.0, 6, "1.23457e+06"),
     (-math.inf, 6, "−∞"), (math.inf, 6, "∞"), (math.nan, 6, "nan"), (2 / 3, 3, "0.667")],
)  # fmt: skip
def test_significant_for_tables_and_hover(value: float, digits: int, text: str) -> None:
    assert significant(value, digits) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.43193710073, "0.4319371007"), (4.0, "4"), (-0.0, "0"), (-math.inf, "-inf"),
     (1 / 3, "0.3333333333"), (-1.5e-05, "-1.5e-05"), (2.0**40, "1.099511628e+12")],
)  # fmt: skip
def test_significant_ascii_for_explain(value: float, text: str) -> None:
    assert significant(value, EXPLAIN_DIGITS, ascii_minus=True) == text


@settings(max_examples=300)
@given(finite_nonzero, st.integers(min_value=1, max_value=17), st.booleans())
def test_significant_keeps_sign_and_exponent(x: float, digits: int, ascii_minus: bool) -> None:
    text = significant(x, digits, ascii_minus=ascii_minus)
    assert text.startswith("-" if ascii_minus else MINUS) == (x < 0)
    assert (MINUS if ascii_minus else "-") not in text  # one kind of minus, also in exponents
    # within half a unit of the last digit shown: a lost exponent would be far off
    assert _off_by(text, x) <= _half_unit(digits)


def test_significant_ascii_differs_only_in_minus_and_infinity() -> None:
    for x in (-1.5e-05, -0.25, 3.0, 1e300):
        assert significant(x, 6, ascii_minus=True) == significant(x, 6).replace(MINUS, "-")


# -- heatmap cell texts ----------------------------------------------------------------


def test_compact_exponent() -> None:
    assert compact_exponent("1.23e+04") == "1.23e4"
    assert compact_exponent("1.5e-05") == "1.5e-5"
    assert compact_exponent("1e+00") == "1e0"
    assert compact_exponent("0.136") == "0.136"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.1361, "0.136"), (0.00089, "0.00089"), (1.0, "1"), (0.0, "0"), (-0.0, "0"),
     (-2.5, "−2.5"), (-math.inf, "−∞"), (12345.0, "1.23e4"), (1.5e-05, "1.5e−5")],
)  # fmt: skip
def test_cell_text_for_scores(value: float, text: str) -> None:
    assert cell_text(value) == text


def test_cell_text_shorter_formats_for_tight_cells() -> None:
    assert cell_text(0.123456, ".2g") == "0.12"
    assert cell_text(-0.0903, ".2g") == "−0.09"
    assert cell_text(0.00089, ".2f") == "0.00"
    assert cell_text(-0.001, ".2f") == "0.00"  # no negative zero
    assert cell_text(-12.345, ".1f") == "−12.3"


@pytest.mark.parametrize(
    ("value", "w3", "w2"),
    [(0.1361, "0.136", "0.14"), (0.0903, "0.090", "0.09"), (0.00089, "0.001", "<.01"),
     (0.0004, "<0.001", "<.01"), (9.21e-13, "<0.001", "<.01"), (0.0, "0", "0"), (-0.0, "0", "0"),
     (1.0, "1", "1"), (0.9996, "1.000", "1.00"), (0.5, "0.500", "0.50"), (0.004, "0.004", "<.01"),
     (-0.25, "−0.250", "−0.25"), (-0.0001, ">−0.001", ">−.01"), (-math.inf, "−∞", "−∞")],
)  # fmt: skip
def test_cell_text_for_weights_prints_fixed_decimals(value: float, w3: str, w2: str) -> None:
    assert cell_text(value, "w3") == w3
    assert cell_text(value, "w2") == w2


def test_cell_texts_formats_a_whole_matrix_row_by_row() -> None:
    values = np.array([[0.1361, -0.0, -math.inf], [-2.5, 12345.0, 0.00089]])
    assert cell_texts(values) == ["0.136", "0", "−∞", "−2.5", "1.23e4", "0.00089"]
    assert cell_texts(np.array([[-0.001, 1.5e-05]]), ".2f") == ["0.00", "0.00"]
    assert cell_texts(np.array([[1.5e-05, math.nan, math.inf]]), ".2g") == ["1.5e−5", "nan", "∞"]


@settings(max_examples=200)
@given(
    values=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
        elements=any_float,
    ),
    spec=st.sampled_from([".3g", ".2g", ".2f", ".1f", "w3", "w2"]),
)
def test_cell_texts_agrees_with_cell_text(values: np.ndarray, spec: str) -> None:
    assert cell_texts(values, spec) == [cell_text(float(v), spec) for v in values.ravel()]


@settings(max_examples=300)
@given(finite_nonzero, st.sampled_from([".3g", ".2g"]))
def test_score_cells_keep_sign_and_exponent(x: float, spec: str) -> None:
    text = cell_text(x, spec)
    assert text.startswith(MINUS) == (x < 0)
    assert _off_by(text, x) <= _half_unit(int(spec[1]))


@settings(max_examples=300)
@given(
    st.floats(min_value=-2.0, max_value=2.0).filter(lambda x: x != 0), st.sampled_from(["w3", "w2"])
)
def test_weight_cells_keep_sign_and_are_never_a_false_zero(x: float, spec: str) -> None:
    decimals = int(spec[1])
    text = cell_text(x, spec)
    if text in ("<0.001", "<.01", ">−0.001", ">−.01"):
        assert (text[0] == "<") == (x > 0)
        assert abs(Decimal(x)) <= Decimal(5) / 10 ** (decimals + 1)
        return
    assert text.startswith(MINUS) == (x < 0)
    assert _read(text) != 0  # a nonzero weight never prints as a plain 0
    assert abs(Decimal(text.replace(MINUS, "-")) - Decimal(x)) <= Decimal(5) / 10 ** (decimals + 1)
