"""Cells read back what the program shows: its real minus sign, × and ÷."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfattn.expr import ExpressionError, parse_number
from selfattn.numbers import significant


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("\N{MINUS SIGN}1.5", -1.5),
        ("2 \N{MULTIPLICATION SIGN} 3", 6.0),
        ("1 ÷ 4", 0.25),
        ("1.5e\N{MINUS SIGN}3", 1.5e-3),
        ("(\N{MINUS SIGN}2) ** 2", 4.0),
    ],
)
def test_typographic_signs_read_as_arithmetic(text: str, value: float) -> None:
    assert parse_number(text) == value


def test_other_symbols_are_still_refused() -> None:
    with pytest.raises(ExpressionError):
        parse_number("2 · 3")


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300))
def test_a_shown_number_typed_back_is_that_number(x: float) -> None:
    # What a table shows (6 significant digits, real minus signs) parses to the float of
    # that text written with ASCII signs.
    shown = significant(x)
    assert parse_number(shown) == float(significant(x, ascii_minus=True))
