"""Reading a matrix from CSV: with or without header row and label column."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn.csv_import import CsvImportError, read_matrix_csv

BLOCK = [[1.5, -2.0], [0.25, 3e-3], [7.0, 8.0]]


def _write(tmp_path, text, name="m.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text",
    [
        "1.5,-2\n0.25,3e-3\n7,8\n",
        "a,b\n1.5,-2\n0.25,3e-3\n7,8\n",
        "x,1.5,-2\ny,0.25,3e-3\nz,7,8\n",
        "token,a,b\nx,1.5,-2\ny,0.25,3e-3\nz,7,8\n",
        "token;a;b\nx;1.5;-2\ny;0.25;3e-3\nz;7;8\n",
        "token\ta\tb\nx\t1.5\t-2\ny\t0.25\t3e-3\nz\t7\t8\n",
    ],
)
@pytest.mark.parametrize("shape", [None, (3, 2)])
def test_layouts_read_the_same_block(tmp_path, text, shape):
    np.testing.assert_array_equal(read_matrix_csv(_write(tmp_path, text), shape), BLOCK)


def test_numeric_labels_are_recognised_by_the_expected_shape(tmp_path):
    text = "query\\key,1999,2000\n1999,1.5,-2\n2000,0.25,3e-3\n2001,7,8\n"
    np.testing.assert_array_equal(read_matrix_csv(_write(tmp_path, text), (3, 2)), BLOCK)


def test_a_numeric_first_row_is_data_not_a_header(tmp_path):
    path = _write(tmp_path, "9,9\n1.5,-2\n0.25,3e-3\n7,8\n")
    assert read_matrix_csv(path, (3, 2)).shape == (4, 2)


def test_labelled_rows_without_header_are_not_mistaken_for_a_header(tmp_path):
    path = _write(tmp_path, "r0,9,9\nr1,1.5,-2\nr2,0.25,3e-3\nr3,7,8\n")
    assert read_matrix_csv(path, (3, 2)).shape == (4, 2)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("1,2\n3\n", "line 2 has 1 numbers, line 1 has 2"),
        ("1,2\n3,x\n", "line 2, column 2"),
        ("1,5;2,5\n", "'.' for decimals"),
    ],
)
def test_bad_files_are_refused_with_a_message(tmp_path, text, words):
    with pytest.raises(CsvImportError, match=words.replace("(", r"\(").replace(".", r"\.")):
        read_matrix_csv(_write(tmp_path, text))


def test_messages_name_the_files_line_and_column_as_an_editor_shows_them(tmp_path):
    """A header on line 1, blank lines 2 and 4: the bad cell 'x' is the second data row
    but line 5 of the file, in its third column (the label column counts)."""
    text = "token,a,b\n\nt1,1,2\n\nt2,3,x\n"
    with pytest.raises(CsvImportError) as caught:
        read_matrix_csv(_write(tmp_path, text))
    assert str(caught.value).endswith("line 5, column 3: 'x' is not a finite number")
    text = "token,a,b\n\nt1,1,2\n\n\nt2,3\n"
    with pytest.raises(CsvImportError) as caught:
        read_matrix_csv(_write(tmp_path, text))
    assert str(caught.value).endswith("line 6 has 1 numbers, line 3 has 2")


def test_a_decimal_comma_is_named_by_its_line(tmp_path):
    text = "a;b\n\n1.5;2\n3;4,5\n"  # 4,5 on line 4, column 2
    with pytest.raises(CsvImportError) as caught:
        read_matrix_csv(_write(tmp_path, text))
    assert "line 4, column 2: '4,5' has a decimal comma" in str(caught.value)


def test_a_quoted_cell_over_two_lines_keeps_the_count(tmp_path):
    """Line 2's quoted label runs onto line 3, so the next row starts on line 4."""
    text = 'x,a,b\n"two\nlines",1,2\nt3,1,y\n'
    with pytest.raises(CsvImportError) as caught:
        read_matrix_csv(_write(tmp_path, text))
    assert str(caught.value).endswith("line 4, column 3: 'y' is not a finite number")


@settings(max_examples=60, deadline=None)
@given(
    blanks=st.lists(st.integers(0, 3), min_size=5, max_size=5),
    bad_row=st.integers(0, 3),
    bad_col=st.integers(0, 1),
    header=st.booleans(),
)
def test_the_line_named_is_the_line_of_the_bad_cell(
    tmp_path_factory, blanks, bad_row, bad_col, header
):
    """Any number of blank lines before each line: the message's line is where 'bad' is."""
    if not header:
        bad_row = max(bad_row, 1)  # a first line with a word in it is read as a header
    cells = [["1", "2"] for _ in range(4)]
    cells[bad_row][bad_col] = "bad"
    written = (["a,b"] if header else []) + [",".join(row) for row in cells]
    lines: list[str] = []
    bad_line = 0
    for k, line in enumerate(written):
        lines.extend([""] * blanks[k])
        lines.append(line)
        if "bad" in line:
            bad_line = len(lines)
    path = _write(tmp_path_factory.mktemp("csv"), "\n".join(lines) + "\n")
    with pytest.raises(CsvImportError) as caught:
        read_matrix_csv(path)
    assert f"line {bad_line}, column {bad_col + 1}: 'bad'" in str(caught.value)
