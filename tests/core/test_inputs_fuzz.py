"""Arbitrary input to the functions that read what a user types, pastes or opens.

Whatever the text or bytes, each function either returns finite numbers of the
right shape or raises its own documented error (a ValueError subclass naming the
fault) — never a stray UnicodeDecodeError, csv.Error, IndexError or OverflowError.
Where a function has a writer, a round trip gives back the very same floats.
"""

from __future__ import annotations

import math
import string
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selfattn.clipboard import ClipboardError, format_block, parse_block
from selfattn.csv_import import CsvImportError, read_matrix_csv
from selfattn.export import ExportError, read_wide_csv
from selfattn.expr import ExpressionError, parse_number

FINITE = st.floats(allow_nan=False, allow_infinity=False)

# Text that looks like a table often enough to reach the parsing code past the
# first refusal: digits, signs, exponents, separators, quotes, labels, blank lines.
TABLE_ALPHABET = string.digits + ".-+eE,;\t \n\r\"'abinf\x00\ufeff\u00e9"
TABLEISH = st.text(alphabet=TABLE_ALPHABET, max_size=120)


def _as_bytes() -> st.SearchStrategy[bytes]:
    """Raw bytes, UTF-8 of arbitrary text, and table-like text: the contents of a file."""
    return st.one_of(
        st.binary(max_size=200),
        st.text(max_size=120).map(lambda s: s.encode("utf-8")),
        TABLEISH.map(lambda s: s.encode("utf-8")),
    )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file rewritten per example (a module-scoped path: hypothesis reruns the body)."""
    return tmp_path_factory.mktemp("fuzz") / "input.csv"


def _assert_finite_2d(a: np.ndarray) -> None:
    assert isinstance(a, np.ndarray)
    assert a.ndim == 2 and a.shape[0] >= 1 and a.shape[1] >= 1
    assert a.dtype == np.float64
    assert np.isfinite(a).all()


# --- expr.parse_number ------------------------------------------------------------------


@given(st.one_of(st.text(max_size=250), TABLEISH, st.from_regex(r"[0-9()+\-*/.e ]{0,40}")))
@example("1e999")  # overflows to inf: refused, not returned
@example("10**400")
@example("(" * 150 + "1" + ")" * 150)  # deep nesting
@example("nan")
@example("1/0")
@example("__import__('os')")
def test_parse_number_returns_a_finite_float_or_raises_expression_error(text):
    try:
        value = parse_number(text)
    except ExpressionError:
        return
    assert isinstance(value, float)
    assert math.isfinite(value)


@given(FINITE)
@example(-0.0)
@example(5e-324)
@example(1.7976931348623157e308)
def test_parse_number_reads_repr_back_to_the_same_float(x):
    got = parse_number(repr(x))
    assert got == x
    assert math.copysign(1.0, got) == math.copysign(1.0, x)  # -0.0 stays -0.0


# --- clipboard.parse_block --------------------------------------------------------------


@given(st.one_of(st.text(max_size=200), TABLEISH))
@example("1\t2\n3")  # ragged
@example('"1\t2')  # unterminated quote
@example("1,2\n3,nan")
@example("\n\n  \n")
def test_parse_block_returns_a_finite_block_or_raises_clipboard_error(text):
    try:
        block = parse_block(text)
    except ClipboardError:
        return
    _assert_finite_2d(block)


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements=FINITE,
    )
)
def test_parse_block_reads_format_block_back_exactly(a):
    got = parse_block(format_block(a))
    assert got.shape == a.shape
    assert np.array_equal(got, a)
    assert np.array_equal(np.signbit(got), np.signbit(a))


# --- csv_import.read_matrix_csv ---------------------------------------------------------


@given(_as_bytes())
@example(b"\x80")
@example(b"\xef\xbb\xbf")  # a BOM and nothing else
@example(b'"')
@example(b"a,b\n")
@example(b"1,2\n3\n")
@example(b"x\x00,1\n")
def test_read_matrix_csv_returns_a_finite_matrix_or_raises_csv_import_error(scratch, data):
    scratch.write_bytes(data)
    try:
        matrix = read_matrix_csv(scratch)
    except CsvImportError as exc:
        assert scratch.name in str(exc)
        return
    _assert_finite_2d(matrix)


@given(_as_bytes(), st.tuples(st.integers(1, 4), st.integers(1, 4)))
@example(b"\x80", (1, 1))
@example(b"2020,2021\n1,2\n", (1, 2))
@example(b"corner,2020\nx,1\n", (1, 1))
@example(b",\n,\n", (2, 1))
def test_read_matrix_csv_with_expected_shape_never_fails_otherwise(scratch, data, shape):
    scratch.write_bytes(data)
    try:
        matrix = read_matrix_csv(scratch, expected_shape=shape)
    except CsvImportError as exc:
        assert scratch.name in str(exc)
        return
    _assert_finite_2d(matrix)


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5),
        elements=FINITE,
    )
)
def test_read_matrix_csv_reads_plain_numbers_back_exactly(scratch, a):
    scratch.write_text(
        "".join(",".join(repr(float(v)) for v in row) + "\n" for row in a), encoding="utf-8"
    )
    got = read_matrix_csv(scratch, expected_shape=a.shape)
    assert np.array_equal(got, a)


# --- export.read_wide_csv ---------------------------------------------------------------


@given(_as_bytes())
@example(b"\x80")  # was a bare UnicodeDecodeError
@example(b"corner,a\nrow,\x80\n")
@example(b"x\x00,1\n")
@example(b"")
@example(b"corner\n")
@example(b"c,a\nr,1,2\n")
def test_read_wide_csv_returns_labelled_numbers_or_raises_export_error(scratch, data):
    scratch.write_bytes(data)
    try:
        rows, cols, values = read_wide_csv(scratch)
    except ExportError as exc:
        assert str(scratch) in str(exc)
        return
    # "any float Python reads" (inf for masked logits): a well-shaped float64 matrix.
    assert values.dtype == np.float64
    assert values.shape == (len(rows), len(cols))
    assert len(cols) >= 1
    assert all(isinstance(label, str) for label in rows + cols)


def test_read_wide_csv_names_the_file_for_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "weights.csv"
    path.write_bytes(b"query\\key,a\nq,\x80\n")
    with pytest.raises(ExportError, match=r"weights\.csv: not UTF-8 text"):
        read_wide_csv(path)
