"""CSV export: file names, labels, exact numbers, -inf, long format, all-or-nothing writes."""

from __future__ import annotations

import csv
import math
import os
import tempfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selfattn import attention, compute
from selfattn.bundled import load_bundled
from selfattn.export import (
    LONG_COLUMNS,
    ExportError,
    export_csv,
    read_wide_csv,
    write_csv,
)
from selfattn.preset import Options, Preset

WIDE_H1 = [
    "query.csv",
    "key.csv",
    "value.csv",
    "scores.csv",
    "scaled_scores.csv",
    "weights.csv",
    "context.csv",
    "output.csv",
]

# Hand-worked: tokens x = (1, 0), W_Q = ln 3, W_K = 1, W_V = 2, no scaling, causal.
# Query 1 sees key 1 only (weights 1, 0; key 2 masked -> logit -inf); query 2 sees both
# with scores (0, 0) -> weights 1/2, 1/2. v = (2, 0), so contexts are 2 and 1.
LN3 = math.log(3.0)


def small_result():
    return attention([[1.0], [0.0]], [[LN3]], [[1.0]], [[2.0]], scale="none", causal=True)


def test_one_head_writes_the_eight_files_in_order(tmp_path):
    paths = write_csv(small_result(), tmp_path, tokens=["the", "cat"])
    assert [p.name for p in paths] == WIDE_H1
    assert sorted(os.listdir(tmp_path)) == sorted(WIDE_H1)  # nothing else, no temp folder


def test_hand_worked_weights_and_masked_logit_text(tmp_path):
    write_csv(small_result(), tmp_path, tokens=["the", "cat"])
    assert (tmp_path / "weights.csv").read_bytes() == (
        b"query\\key,the,cat\r\nthe,1.0,0.0\r\ncat,0.5,0.5\r\n"
    )
    # The masked logit is the text -inf; the visible ones the shortest exact repr.
    assert (tmp_path / "scaled_scores.csv").read_text(encoding="utf-8").splitlines() == [
        "query\\key,the,cat",
        f"the,{LN3!r},-inf",
        "cat,0.0,0.0",
    ]
    assert (tmp_path / "context.csv").read_text(encoding="utf-8").splitlines() == [
        "token,c1",
        "the,2.0",
        "cat,1.0",
    ]
    assert (tmp_path / "output.csv").read_text(encoding="utf-8").splitlines()[0] == "token,o1"


def test_several_heads_get_suffixed_files_and_whole_qkv_output(tmp_path):
    # Two heads of width 1: W_Q, W_K, W_V are (1, 2); W_O maps 2 -> 3.
    r = attention(
        [[1.0], [2.0], [3.0]], [[1, 2]], [[1, -1]], [[1, 2]], heads=2, w_o=np.ones((2, 3))
    )
    paths = write_csv(r, tmp_path, tokens=["a", "b", "c"])
    names = [p.name for p in paths]
    assert names == [
        "query.csv",
        "key.csv",
        "value.csv",
        "scores-head1.csv",
        "scores-head2.csv",
        "scaled_scores-head1.csv",
        "scaled_scores-head2.csv",
        "weights-head1.csv",
        "weights-head2.csv",
        "context-head1.csv",
        "context-head2.csv",
        "output.csv",
    ]
    rows, cols, q = read_wide_csv(tmp_path / "query.csv")
    assert rows == ["a", "b", "c"] and cols == ["h1:q1", "h2:q1"]  # one column per head
    np.testing.assert_array_equal(q, [[1, 2], [2, 4], [3, 6]])
    _, cols, w2 = read_wide_csv(tmp_path / "weights-head2.csv")
    assert cols == ["a", "b", "c"]
    assert np.array_equal(w2, r.weights[1])
    _, cols, out = read_wide_csv(tmp_path / "output.csv")
    assert cols == ["o1", "o2", "o3"] and np.array_equal(out, r.output)


def test_cross_attention_labels_keys_with_source_tokens(tmp_path):
    r = attention([[1.0, 0.0]], np.eye(2), np.eye(2), np.eye(2), source=[[1, 0], [0, 1], [0, 0]])
    write_csv(r, tmp_path, tokens=["q"], key_tokens=["s1", "s2", "s3"])
    rows, cols, _ = read_wide_csv(tmp_path / "key.csv")
    assert rows == ["s1", "s2", "s3"] and cols == ["k1", "k2"]
    rows, cols, w = read_wide_csv(tmp_path / "weights.csv")
    assert rows == ["q"] and cols == ["s1", "s2", "s3"] and w.shape == (1, 3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_wide_file_reads_back_exactly(tmp_path, dtype):
    preset = load_bundled("seed-example")
    paths = export_csv(preset, tmp_path, "wide", dtype=dtype)
    r = compute(preset, dtype=dtype)
    expected = {
        "query": r.q,
        "key": r.k,
        "value": r.v,
        "scores": r.scores[0],
        "scaled_scores": r.scaled_scores[0],
        "weights": r.weights[0],
        "context": r.context[0],
        "output": r.output,
    }
    for path in paths:
        rows, _, values = read_wide_csv(path)
        assert rows == list(preset.tokens)
        want = expected[path.stem].astype(np.float64)
        assert values.dtype == np.float64
        assert values.tobytes() == want.tobytes(), path.name


@st.composite
def results(draw):
    n = draw(st.integers(1, 4))
    d = draw(st.integers(1, 3))
    heads = draw(st.integers(1, 2))
    elems = st.floats(-1e6, 1e6, allow_nan=False, width=64) | st.sampled_from([5e-324, -0.0, 0.1])
    x = draw(hnp.arrays(np.float64, (n, d), elements=elems))
    w = [
        draw(hnp.arrays(np.float64, (d, heads), elements=st.floats(-3, 3, width=64)))
        for _ in range(3)
    ]
    mask = draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n)))
    return attention(x, *w, heads=heads, causal=draw(st.booleans()), key_mask=mask)


@given(results(), st.lists(st.text(min_size=0, max_size=5), min_size=4, max_size=4))
def test_any_result_round_trips_through_wide_csv(result, labels):
    n = result.n_queries
    tokens = [f"{s}{i}" if i % 2 else s for i, s in enumerate(labels[:n])]  # quotes, commas...
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_csv(result, tmp, tokens=tokens):
            rows, _, values = read_wide_csv(path)
            assert rows == tokens
            stem = path.stem.split("-head")[0]
            arr = {
                "query": result.q,
                "key": result.k,
                "value": result.v,
                "output": result.output,
            }.get(stem)
            if arr is None:
                h = int(path.stem.split("-head")[1]) - 1 if "-head" in path.stem else 0
                arr = getattr(result, stem)[h]
            assert values.tobytes() == np.ascontiguousarray(arr, dtype=np.float64).tobytes()


def test_long_format_is_one_tidy_file(tmp_path):
    r = attention([[1.0], [2.0], [3.0]], [[1, 2]], [[1, -1]], [[1, 2]], heads=2, causal=True)
    paths = write_csv(r, tmp_path, tokens=["a", "b", "c"], format="long")
    assert [p.name for p in paths] == ["results.csv"]
    assert os.listdir(tmp_path) == ["results.csv"]
    with open(tmp_path / "results.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert (
        tuple(rows[0].keys())
        == LONG_COLUMNS
        == (
            "matrix",
            "head",
            "row",
            "col",
            "row_label",
            "col_label",
            "value",
        )
    )
    # 3x2 each for query/key/value/output, 2 heads x (3 scores + ... ) : count by hand:
    # q, k, v, output: 4 x 6 = 24; scores, scaled, weights: 3 x 2 heads x 9 = 54;
    # context: 2 heads x 3 x 1 = 6.  Total 84.
    assert len(rows) == 84
    by_key = {(r_["matrix"], r_["head"], r_["row"], r_["col"]): r_ for r_ in rows}
    # Whole matrices have an empty head, rows and columns count from 1.
    q12 = by_key[("query", "", "1", "2")]
    assert (q12["row_label"], q12["col_label"], q12["value"]) == ("a", "h2:q1", "2.0")
    # Causal: query 1 cannot see key 3 -> -inf logit, weight 0 in both heads.
    for head in ("1", "2"):
        assert by_key[("scaled_scores", head, "1", "3")]["value"] == "-inf"
        assert by_key[("weights", head, "1", "3")]["value"] == "0.0"
        assert by_key[("weights", head, "1", "1")]["value"] == "1.0"
    cell = by_key[("weights", "2", "3", "2")]
    assert (cell["row_label"], cell["col_label"]) == ("c", "b")
    assert float(cell["value"]) == r.weights[1][2, 1]


def test_long_format_with_one_head_numbers_it_1(tmp_path):
    write_csv(small_result(), tmp_path, tokens=["x", "y"], format="long")
    with open(tmp_path / "results.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["head"] for r in rows if r["matrix"] == "weights"} == {"1"}
    assert {r["head"] for r in rows if r["matrix"] in ("query", "output")} == {""}


def test_labels_with_commas_quotes_newlines_and_unicode_survive(tmp_path):
    tokens = ["a,b", 'say "hi"']
    write_csv(small_result(), tmp_path, tokens=tokens)
    rows, cols, _ = read_wide_csv(tmp_path / "weights.csv")
    assert rows == tokens and cols == tokens
    tokens = ["line\nbreak", "Grüße ☃"]
    write_csv(small_result(), tmp_path, tokens=tokens)
    rows, _, _ = read_wide_csv(tmp_path / "query.csv")
    assert rows == tokens
    assert "Grüße ☃".encode() in (tmp_path / "query.csv").read_bytes()


def test_export_csv_computes_in_the_requested_dtype(tmp_path):
    export_csv(load_bundled("seed-example"), tmp_path, "wide", dtype="float32")
    _, _, w = read_wide_csv(tmp_path / "weights.csv")
    # float32 weights widened exactly: every value is a float32 number.
    assert np.array_equal(w, w.astype(np.float32).astype(np.float64))
    # Published weight w[0][0] = 0.13612579 (from the classic example).
    assert abs(w[0, 0] - 0.13612579) < 1e-7


# --- refusals and all-or-nothing ----------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tokens": ["only one"]}, "1 token labels for 2 queries"),
        ({"tokens": ["a", "b"], "key_tokens": ["k"]}, "1 key token labels for 2 keys"),
        ({"tokens": ["a", "b"], "format": "xlsx"}, "unknown CSV format"),
    ],
)
def test_bad_arguments_raise_export_error_and_write_nothing(tmp_path, kwargs, match):
    out = tmp_path / "out"
    with pytest.raises(ExportError, match=match):
        write_csv(small_result(), out, **kwargs)
    assert not out.exists()


def _fail_on_call(monkeypatch, number: int):
    """Make the number-th os.replace fail, as a full disk or a locked file would."""
    real = os.replace
    calls = {"n": 0}

    def flaky(src, dst):
        calls["n"] += 1
        if calls["n"] == number:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)


@pytest.mark.parametrize("failing_call", [1, 4, 9])
def test_failure_while_moving_into_place_restores_the_old_files(
    tmp_path, monkeypatch, failing_call
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "weights.csv").write_text("old weights\n", encoding="utf-8")
    (out / "query.csv").write_text("old query\n", encoding="utf-8")
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    _fail_on_call(monkeypatch, failing_call)
    with pytest.raises(OSError, match="No space left"):
        write_csv(small_result(), out, tokens=["a", "b"])
    assert sorted(os.listdir(out)) == ["notes.txt", "query.csv", "weights.csv"]
    assert (out / "weights.csv").read_text(encoding="utf-8") == "old weights\n"
    assert (out / "query.csv").read_text(encoding="utf-8") == "old query\n"


def test_failure_while_writing_leaves_a_new_folder_absent(tmp_path, monkeypatch):
    import selfattn.export as export_mod

    real = export_mod._write_rows
    calls = {"n": 0}

    def flaky(path, rows):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(5, "Input/output error")
        real(path, rows)

    monkeypatch.setattr(export_mod, "_write_rows", flaky)
    out = tmp_path / "new" / "deeper"
    with pytest.raises(OSError, match="Input/output"):
        write_csv(small_result(), out, tokens=["a", "b"])
    assert os.listdir(tmp_path) == []


def test_out_dir_that_is_a_file_is_an_os_error(tmp_path):
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(OSError):
        write_csv(small_result(), target, tokens=["a", "b"])
    assert target.read_text(encoding="utf-8") == "x"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty CSV"),
        ("corner\n", "header needs"),
        ("c,a,b\nx,1,2\ny,3\n", "row 3 has 2 cells"),
        ("c,a\nx,one\n", "row 2, column 2: not a number: 'one'"),
    ],
)
def test_read_wide_csv_refuses_malformed_files(tmp_path, text, match):
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExportError, match=match) as info:
        read_wide_csv(path)
    assert str(info.value).startswith(str(path))


def test_read_wide_csv_reads_infinities_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes("\ufeffq\\k,a,b\r\nx,-inf,1e-300\r\n".encode())
    rows, cols, values = read_wide_csv(path)
    assert (rows, cols) == (["x"], ["a", "b"])
    assert values[0, 0] == -math.inf and values[0, 1] == 1e-300


# RoPE: q and k after the rotation get files of their own ------------------------------


def _rope_preset(**options):
    from selfattn.preset import Options, Preset, Rope

    rng = np.random.default_rng(4)
    return Preset(
        inputs=rng.standard_normal((3, 2)),
        w_query=rng.standard_normal((2, 4)),
        w_key=rng.standard_normal((2, 2)),
        w_value=rng.standard_normal((2, 2)),
        tokens=("a", "b", "c"),
        options=Options(heads=2, kv_heads=1, rope=Rope(style="interleaved"), **options),
    )


def test_rope_results_write_query_rotated_and_key_rotated(tmp_path):
    preset = _rope_preset()
    result = compute(preset)
    paths = export_csv(preset, tmp_path)
    names = [p.name for p in paths]
    assert names[:5] == [
        "query.csv",
        "key.csv",
        "value.csv",
        "query_rotated.csv",
        "key_rotated.csv",
    ]
    rows, cols, values = read_wide_csv(tmp_path / "query_rotated.csv")
    assert rows == ["a", "b", "c"] and cols == ["h1:q1", "h1:q2", "h2:q1", "h2:q2"]
    np.testing.assert_array_equal(values, result.q_rot)
    rows, cols, values = read_wide_csv(tmp_path / "key_rotated.csv")
    assert cols == ["kv1:k1", "kv1:k2"]  # one key/value head of d_k = 2
    np.testing.assert_array_equal(values, result.k_rot)
    # token 1 sits at position 0: its rotation is the identity
    np.testing.assert_array_equal(values[0], result.k[0])


def test_rope_rows_in_the_long_format(tmp_path):
    preset = _rope_preset()
    result = compute(preset)
    (path,) = export_csv(preset, tmp_path, format="long")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rotated = [r for r in rows if r["matrix"] == "query_rotated"]
    assert len(rotated) == 3 * 4
    assert {r["head"] for r in rotated} == {""}
    cell = next(r for r in rotated if r["row"] == "2" and r["col"] == "3")
    assert cell["row_label"] == "b" and cell["col_label"] == "h2:q1"
    assert float(cell["value"]) == float(result.q_rot[1, 2])
    assert sum(r["matrix"] == "key_rotated" for r in rows) == 3 * 2


def test_no_rotated_files_without_rope(tmp_path):
    preset = _rope_preset().with_options(rope=None)
    names = [p.name for p in export_csv(preset, tmp_path)]
    assert "query_rotated.csv" not in names and "key_rotated.csv" not in names


def test_column_labels_name_heads_like_the_window(tmp_path):
    """Q/K/V columns say which head they belong to, as the window's tables do."""
    rng = np.random.default_rng(3)
    preset = Preset(
        inputs=rng.normal(size=(2, 3)),
        w_query=rng.normal(size=(3, 4)),  # 2 query heads x d_k = 2
        w_key=rng.normal(size=(3, 2)),  # 1 shared key/value head
        w_value=rng.normal(size=(3, 2)),
        options=Options(heads=2, kv_heads=1),
    )
    export_csv(preset, tmp_path)
    assert read_wide_csv(tmp_path / "query.csv")[1] == ["h1:q1", "h1:q2", "h2:q1", "h2:q2"]
    assert read_wide_csv(tmp_path / "key.csv")[1] == ["kv1:k1", "kv1:k2"]
    assert read_wide_csv(tmp_path / "value.csv")[1] == ["kv1:v1", "kv1:v2"]
    assert read_wide_csv(tmp_path / "context-head2.csv")[1] == ["c1", "c2"]
    assert read_wide_csv(tmp_path / "output.csv")[1] == ["o1", "o2", "o3", "o4"]
