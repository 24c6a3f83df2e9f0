"""Reading a matrix from CSV: with or without header row and label column."""

import numpy as np
import pytest

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
        ("1,2\n3\n", "row 2"),
        ("1,2\n3,x\n", "row 2, column 2"),
        ("1,5;2,5\n", "'.' for decimals"),
    ],
)
def test_bad_files_are_refused_with_a_message(tmp_path, text, words):
    with pytest.raises(CsvImportError, match=words.replace("(", r"\(").replace(".", r"\.")):
        read_matrix_csv(_write(tmp_path, text))
