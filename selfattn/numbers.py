"""Every number the program shows or writes, formatted in one place (numpy only, no Qt).

Each reader has its own precision; there is one implementation of each format:

- ``round_trip`` — the shortest text that reads back to the same double (CSV files);
  ``editor_text`` — the same without a trailing ".0" (the table editor, its tooltip, copy).
- ``significant`` — a number for people: ``digits`` significant digits, 0 for ±0,
  real minus signs and ∞ (tables and the heatmap's hover readout, 6 digits); with
  ``ascii_minus=True`` plain "-" and "inf" (the command line's tables, and Explain's
  10 digits, which people copy into a calculator).
- ``cell_text`` / ``cell_texts`` — the short texts inside heatmap cells: fixed decimals
  for weights ("w3": 0.136, 0.090, <0.001), up to 3 significant digits with a compact
  exponent for scores (1.23e4, 1.5e−5).

The person picks a *precision* (View → Number precision), shared by the tables, the
heatmap's cells and the pipeline; ``display_text`` is a table cell at that precision:

- "decimals3": ``fixed_decimals`` — 3 decimals (0.432, −1.000, 0.000), so a column of
  numbers lines up on its decimal point. Honest at both ends: a non-zero that would
  round to 0.000 reads "<0.001" (">−0.001" when negative), never a false zero; from
  1e6 up the number is written with an exponent and 3 decimals (1.235e+06), never a
  row of digits wider than the table.
- "significant6": ``significant`` with 6 digits (the tables' long-standing look).
- "full": ``full_text`` — the shortest text that reads back to the same double (with
  the readers' minus sign and ∞).

Heatmap cells are small: ``cell_formats(kind, precision)`` lists the formats a cell
tries in turn, the precision's own first, then the shorter ones cells always fell
back to. "3 decimals" in a cell means at most 3: weights drop to 2 decimals ("w2"),
scores — which have no fixed scale, so decimals would print 12345.000 — drop to 3
then 2 significant digits; whatever a cell shows, the hover readout and tooltip give
the full value.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

MINUS = "\N{MINUS SIGN}"  # "−": the width of "+", unlike the hyphen "-"
TABLE_DIGITS = 6  # result and input tables
HOVER_DIGITS = 6  # the heatmap's hover readout
EXPLAIN_DIGITS = 10  # Explain's worked sums: enough to check them by hand

# Cell number formats tried in turn until the texts fit the cells. Weights use a fixed
# number of decimals ("w3": 0.136, 0.090, <0.001; "w2": 0.14, 0.09, <.01), so every
# cell of a matrix reads alike and a column of numbers lines up; scores, which have
# no fixed scale, use up to 3 (then 2) significant digits.
WEIGHT_FORMATS = ("w3", "w2")
SCORE_FORMATS = (".3g", ".2g")
CELL_FORMATS = {"weights": WEIGHT_FORMATS, "scores": SCORE_FORMATS}
_WEIGHT_DECIMALS = {"w3": 3, "w2": 2}
_TINY_TEXT = {3: "<0.001", 2: "<.01"}  # a positive weight that rounds to 0 is not 0
_TINY_NEGATIVE_TEXT = {3: f">{MINUS}0.001", 2: f">{MINUS}.01"}


PRECISIONS = ("decimals3", "significant6", "full")
DEFAULT_PRECISION = "significant6"  # what the tables always showed
PRECISION_TITLES = {
    "decimals3": "3 decimals (0.432)",
    "significant6": "6 significant digits (0.431937)",
    "full": "Full (round-trip: 0.4319371007...)",
}
FIXED_DECIMALS = 3
EXPONENT_FROM = 1e6  # "decimals3" writes numbers this large with an exponent

# Heatmap cell formats per precision, tried in turn (see the module docstring).
_PRECISION_CELL_FORMATS: dict[str, dict[str, tuple[str, ...]]] = {
    "decimals3": {"weights": ("w3", "w2"), "scores": ("d3", ".3g", ".2g")},
    "significant6": {"weights": ("s6", "w3", "w2"), "scores": ("s6", ".3g", ".2g")},
    "full": {"weights": ("full", "s6", "w3", "w2"), "scores": ("full", "s6", ".3g", ".2g")},
}
_PRECISION_SPECS = ("d3", "s6", "full")  # cell formats made by display_text


def check_precision(precision: str) -> str:
    """``precision`` itself if it is one of PRECISIONS, else ValueError naming them."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown number precision {precision!r}; expected one of {PRECISIONS}")
    return precision


def cell_formats(kind: str, precision: str | None = None) -> tuple[str, ...]:
    """The heatmap cell formats of ``kind`` ("weights"/"scores") at ``precision``, in turn.

    None keeps the compact cells of a heatmap nobody set a precision on (CELL_FORMATS).
    """
    if precision is None:
        return CELL_FORMATS[kind]
    return _PRECISION_CELL_FORMATS[check_precision(precision)][kind]


def round_trip(x: float) -> str:
    """Shortest text that reads back to the same double: ``repr(float(x))`` ("1.0", "inf")."""
    return repr(float(x))


def editor_text(x: float) -> str:
    """``round_trip`` without a trailing ".0" ("1", "0.5", "-inf"): what the editor shows."""
    text = round_trip(x)
    return text[:-2] if text.endswith(".0") and "e" not in text else text


def significant(x: float, digits: int = TABLE_DIGITS, *, ascii_minus: bool = False) -> str:
    """``x`` to ``digits`` significant digits, for people to read.

    ±0 is "0" (the sign of a zero teaches nothing); NaN is "nan". By default minus
    signs are real minus signs (also in the exponent) and infinities are "∞"/"−∞";
    ``ascii_minus`` keeps "-" and "inf" for text people copy elsewhere.
    """
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        if ascii_minus:
            return "-inf" if x < 0 else "inf"
        return f"{MINUS}∞" if x < 0 else "∞"
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    return text if ascii_minus else text.replace("-", MINUS)


def _special(x: float) -> str | None:
    """The text of NaN and the infinities (readers' forms), None for a finite number."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return f"{MINUS}∞" if x < 0 else "∞"
    return None


def fixed_decimals(x: float, decimals: int = FIXED_DECIMALS) -> str:
    """``x`` with ``decimals`` decimals (0.432, −1.000, 0.000), honest at both ends.

    A non-zero that rounds to 0 is "<0.001" (">−0.001" below zero): it is not 0.
    From EXPONENT_FROM up, an exponent with ``decimals`` decimals (1.235e+06).
    """
    x = float(x)
    special = _special(x)
    if special is not None:
        return special
    if x == 0:
        return f"{0:.{decimals}f}"  # ±0 alike: the sign of a zero teaches nothing
    text = f"{x:.{decimals}f}"
    if abs(float(text)) >= EXPONENT_FROM:  # also 999999.9996, which rounds up to 1e6
        text = f"{x:.{decimals}e}"
    elif float(text) == 0:
        unit = f"0.{'0' * (decimals - 1)}1"
        return f"<{unit}" if x > 0 else f">{MINUS}{unit}"
    return text.replace("-", MINUS)


def full_text(x: float) -> str:
    """``editor_text`` in the readers' forms (−2.5, −∞): every digit needed to read it back."""
    x = float(x)
    special = _special(x)
    if special is not None:
        return special
    return editor_text(x).replace("-", MINUS)


def display_text(x: float, precision: str = DEFAULT_PRECISION) -> str:
    """A table cell's text at one of PRECISIONS (see the module docstring)."""
    if precision == "decimals3":
        return fixed_decimals(x)
    if precision == "significant6":
        return significant(x, TABLE_DIGITS)
    if precision == "full":
        return full_text(x)
    raise ValueError(f"unknown number precision {precision!r}; expected one of {PRECISIONS}")


def compact_exponent(text: str) -> str:
    """1.23e+04 -> 1.23e4, 1.5e-05 -> 1.5e-5 (cells are narrow)."""
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    sign = "-" if exponent.startswith("-") else ""
    return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"


def cell_text(value: float, spec: str = ".3g") -> str:
    """Short text printed inside a heatmap cell.

    ``spec`` is "w3"/"w2" for weights (fixed decimals; exact 0 and 1 as "0" and "1",
    a tiny positive weight as "<0.001"), a format spec such as ".3g" for scores
    (compact exponent), or a precision's own text: "d3" (3 decimals), "s6" (6
    significant digits), "full" (round trip), each with a compact exponent.
    -inf is "−∞"; minus signs are real minus signs.
    """
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return f"{MINUS}∞" if value < 0 else "∞"
    if spec in _PRECISION_SPECS:  # a precision's own text, with a compact exponent
        precision = {"d3": "decimals3", "s6": "significant6", "full": "full"}[spec]
        return compact_exponent(display_text(value, precision).replace(MINUS, "-")).replace(
            "-", MINUS
        )
    decimals = _WEIGHT_DECIMALS.get(spec)
    if decimals is not None:
        if value == 0 or value == 1:
            return str(int(value))
        text = format(value, f".{decimals}f")
        if float(text) == 0:
            return _TINY_TEXT[decimals] if value > 0 else _TINY_NEGATIVE_TEXT[decimals]
        return text.replace("-", MINUS)
    text = compact_exponent(format(value, spec))
    if float(text) == 0:
        text = text.lstrip("-")  # no "-0"
    return text.replace("-", MINUS)


def cell_texts(values: npt.ArrayLike, spec: str = ".3g") -> list[str]:
    """``cell_text`` of every value, row by row, in one pass over the array.

    The special cases (non-finite values, exact 0 and 1, "-0", tiny weights, the
    minus sign) are found with numpy so the per-value work is a single ``format``:
    a 16 x 16 matrix is re-formatted on every edit.
    """
    flat = np.asarray(values, dtype=np.float64).ravel()  # (n*m,)
    if spec in _PRECISION_SPECS:  # chosen by the person: a few per edit, no fast path
        return [cell_text(v, spec) for v in flat.tolist()]
    decimals = _WEIGHT_DECIMALS.get(spec)
    pyspec = spec if decimals is None else f".{decimals}f"
    texts = [format(v, pyspec) for v in flat.tolist()]
    finite = np.isfinite(flat)
    if decimals is None:
        for k in np.flatnonzero(finite).tolist():
            if "e" in texts[k]:
                texts[k] = compact_exponent(texts[k])
        for k in np.flatnonzero(finite & np.signbit(flat)).tolist():
            if float(texts[k]) == 0:
                texts[k] = texts[k][1:]  # no "-0"
    else:
        small = finite & (np.abs(flat) < 10.0**-decimals)
        for k in np.flatnonzero(small).tolist():
            if float(texts[k]) == 0:
                texts[k] = _TINY_TEXT[decimals] if flat[k] > 0 else _TINY_NEGATIVE_TEXT[decimals]
        for k in np.flatnonzero((flat == 0) | (flat == 1)).tolist():
            texts[k] = str(int(flat[k]))
    for k in np.flatnonzero(~finite).tolist():
        texts[k] = cell_text(float(flat[k]))
    return [t.replace("-", MINUS) if "-" in t else t for t in texts]
