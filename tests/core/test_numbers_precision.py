"""The person's number precision: 3 decimals, 6 significant digits, or the full round trip.

Hand-written texts for each, then properties over arbitrary doubles: "full" reads back
to the very same double, "significant6" keeps at most 6 significant digits within half
a unit of the last, "decimals3" is within half a thousandth and never a false zero.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selfattn.numbers import (
    CELL_FORMATS,
    DEFAULT_PRECISION,
    MINUS,
    PRECISIONS,
    cell_formats,
    cell_text,
    cell_texts,
    check_precision,
    display_text,
    fixed_decimals,
    full_text,
)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
SQRT3 = math.sqrt(3.0)


def _read(text: str) -> float:
    """What a person reads: real minus signs as "-", "∞" as infinity."""
    return float(text.replace(MINUS, "-").replace("∞", "inf"))


def _decimal(text: str) -> Decimal:
    return Decimal(text.replace(MINUS, "-"))


# -- hand-written texts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "decimals3", "significant6", "full"),
    [
        (0.43193701236541, "0.432", "0.431937", "0.43193701236541"),
        (-1.0, "−1.000", "−1", "−1"),
        (2.0, "2.000", "2", "2"),
        (0.0, "0.000", "0", "0"),
        (-0.0, "0.000", "0", "−0"),  # full keeps the sign bit: it reads back exactly
        (4 / SQRT3, "2.309", "2.3094", "2.3094010767585034"),
        (1e-05, "<0.001", "1e−05", "1e−05"),  # not a false 0.000
        (-3e-07, ">−0.001", "−3e−07", "−3e−07"),
        (0.0005, "0.001", "0.0005", "0.0005"),  # rounds up to a real thousandth
        (-12.3456, "−12.346", "−12.3456", "−12.3456"),
        (999999.4, "999999.400", "999999", "999999.4"),
        (1234567.891, "1.235e+06", "1.23457e+06", "1234567.891"),
        (999999.9996, "1.000e+06", "1e+06", "999999.9996"),  # rounds up: exponent
        (math.inf, "∞", "∞", "∞"),
        (-math.inf, "−∞", "−∞", "−∞"),
        (math.nan, "nan", "nan", "nan"),
    ],
)
def test_each_precision_by_hand(value: float, decimals3: str, significant6: str, full: str) -> None:
    assert display_text(value, "decimals3") == decimals3
    assert display_text(value, "significant6") == significant6
    assert display_text(value, "full") == full


def test_precisions_are_named_and_checked() -> None:
    assert PRECISIONS == ("decimals3", "significant6", "full")
    assert DEFAULT_PRECISION == "significant6"
    assert check_precision("full") == "full"
    with pytest.raises(ValueError, match="decimals3"):
        check_precision("decimals2")
    with pytest.raises(ValueError, match="unknown number precision 'sig'"):
        display_text(1.0, "sig")


def test_fixed_decimals_takes_other_counts() -> None:
    assert fixed_decimals(0.125, 2) == "0.12"  # round half to even, as Python prints
    assert fixed_decimals(0.004, 2) == "<0.01"
    assert fixed_decimals(-0.004, 2) == ">−0.01"


# -- heatmap cells -----------------------------------------------------------------------


def test_cell_formats_put_the_precision_first_then_the_shorter_fallbacks() -> None:
    assert cell_formats("weights") == CELL_FORMATS["weights"] == ("w3", "w2")
    assert cell_formats("scores") == (".3g", ".2g")
    assert cell_formats("weights", "decimals3") == ("w3", "w2")
    assert cell_formats("scores", "decimals3") == ("d3", ".3g", ".2g")
    assert cell_formats("weights", "significant6") == ("s6", "w3", "w2")
    assert cell_formats("scores", "significant6") == ("s6", ".3g", ".2g")
    assert cell_formats("weights", "full") == ("full", "s6", "w3", "w2")
    assert cell_formats("scores", "full") == ("full", "s6", ".3g", ".2g")
    with pytest.raises(ValueError):
        cell_formats("weights", "exact")


@pytest.mark.parametrize(
    ("value", "d3", "s6", "full"),
    [
        (4 / SQRT3, "2.309", "2.3094", "2.3094010767585034"),
        (-1.5e-05, ">−0.001", "−1.5e−5", "−1.5e−5"),  # compact exponents in a cell
        (12345678.0, "1.235e7", "1.23457e7", "12345678"),
        (-math.inf, "−∞", "−∞", "−∞"),
    ],
)
def test_cell_text_at_each_precision(value: float, d3: str, s6: str, full: str) -> None:
    assert cell_text(value, "d3") == d3
    assert cell_text(value, "s6") == s6
    assert cell_text(value, "full") == full


@given(hnp.arrays(np.float64, (3, 4), elements=any_float), st.sampled_from(["d3", "s6", "full"]))
def test_cell_texts_agrees_with_cell_text_for_precisions(values: np.ndarray, spec: str) -> None:
    assert cell_texts(values, spec) == [cell_text(float(v), spec) for v in values.ravel()]


@given(finite)
def test_full_cell_reads_back(x: float) -> None:
    assert _read(cell_text(x, "full")) == x


# -- properties ------------------------------------------------------------------------


@given(any_float)
def test_full_reads_back_to_the_same_double(x: float) -> None:
    text = full_text(x)
    assert text == display_text(x, "full")
    if math.isnan(x):
        assert text == "nan"
        return
    back = _read(text)
    assert back == x
    assert math.copysign(1.0, back) == math.copysign(1.0, x)


def _significant_digits(text: str) -> int:
    mantissa = text.replace(MINUS, "").split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) if mantissa else 0


@given(finite.filter(lambda x: x != 0))
def test_significant6_has_at_most_six_digits_within_half_a_unit(x: float) -> None:
    text = display_text(x, "significant6")
    assert _significant_digits(text) <= 6
    assert (text.startswith(MINUS)) == (x < 0)
    off = abs(_decimal(text) - Decimal(x)) / abs(Decimal(x))
    assert off <= Decimal("5e-6")


@given(st.floats(min_value=-1e6, max_value=1e6, exclude_min=True, exclude_max=True))
def test_decimals3_within_half_a_thousandth_and_never_a_false_zero(x: float) -> None:
    text = display_text(x, "decimals3")
    if text == "<0.001":
        assert 0 < x < 0.0005
        return
    if text == f">{MINUS}0.001":
        assert -0.0005 < x < 0
        return
    if "e" in text:  # 999999.9996 and the like round up to 1e6
        assert abs(x) >= 999999.9995
        return
    assert re.fullmatch(rf"{MINUS}?\d+\.\d{{3}}", text), text
    assert abs(_decimal(text) - Decimal(x)) <= Decimal("0.0005")
    if _decimal(text) == 0:
        assert x == 0  # only a true zero reads 0.000
        assert not text.startswith(MINUS)


@given(finite.filter(lambda x: abs(x) >= 1e6))
def test_decimals3_writes_large_numbers_with_an_exponent(x: float) -> None:
    text = display_text(x, "decimals3")
    mantissa, _exponent = text.split("e")
    assert re.fullmatch(rf"{MINUS}?\d\.\d{{3}}", mantissa), text
    off = abs(_decimal(text) - Decimal(x)) / abs(Decimal(x))
    assert off <= Decimal("5e-4")
