"""Numbers in narrow table columns lose digits, never their sign or exponent."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QStyleOptionViewItem

from app.matrix_model import format_number
from app.table_view import fit_number


def _read(text: str) -> float:
    return float(text.replace("−", "-"))


@given(
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v != 0),
    st.integers(1, 14),
)
def test_a_fitted_number_keeps_its_sign_and_magnitude(value, budget):
    text = fit_number(value, lambda t: len(t) <= budget)
    if text == "#":  # not even one digit fits
        return
    assert len(text) <= budget
    shown = _read(text)
    assert math.copysign(1, shown) == math.copysign(1, value)
    # One significant digit at least: within a factor of 10 of the value, never 1000x off
    # the way "9.1880…" (exponent cut) would read.
    assert abs(value) / 10 <= abs(shown) <= abs(value) * 10


def _ascii(text: str) -> str:
    return text.replace("−", "-")  # the display uses the minus sign U+2212


def test_the_full_text_when_it_fits_and_fewer_digits_when_not():
    assert _ascii(fit_number(9.188123e-08, lambda t: True)) == "9.18812e-08"
    assert _ascii(fit_number(9.188123e-08, lambda t: len(t) <= 8)) == "9.19e-08"
    assert _ascii(fit_number(-9.188123e-08, lambda t: len(t) <= 6)) == "-9e-08"
    assert fit_number(-9.188123e-08, lambda t: len(t) <= 5) == "#"
    assert fit_number(1 / 3, lambda t: len(t) <= 4) == "0.33"


def test_the_table_draws_a_narrow_cell_with_its_exponent(window):
    view = window.results_panel.tables["weights"]
    delegate = view.itemDelegate()
    option = QStyleOptionViewItem()
    option.initFrom(view)
    option.widget = view
    metrics = option.fontMetrics
    three_digits = format_number(9.188123e-08, 3)  # "9.19e−08", as the table writes it
    for width in (200, metrics.horizontalAdvance(three_digits) + 8, 12):
        option.rect = QRect(0, 0, width, 24)
        text = _ascii(delegate.shown_text(option, 9.188123e-08))
        assert text in ("9.18812e-08", "9.19e-08", "#"), text
        assert text == "#" or text.endswith("e-08")
