"""Locale independence: presets and CSV always use '.' decimals and read back exactly,
whatever the system locale says.

Run under a real comma-decimal locale (de_DE.UTF-8) when the machine has one. A fresh
CI machine may not, so every in-process check also runs with `locale.localeconv`
patched to comma decimals: any code that asked the locale (locale.str, atof,
format_string) would then write or read "1,5". The Qt side runs in a child process,
where QApplication applies the system locale exactly as the real program does.
"""

from __future__ import annotations

import copy
import csv
import json
import locale
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import selfattn
from selfattn.bundled import load_bundled
from selfattn.csv_import import CsvImportError, read_matrix_csv
from selfattn.export import write_csv
from selfattn.expr import ExpressionError, parse_number

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = ("de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "nl_NL.UTF-8")
COMMA_NUMBER = re.compile(r"^-?\d+,\d+$")  # how 1.5 reads in a comma-decimal locale

# Values whose shortest text has many digits, an exponent, or sits at the edge of float64.
TRICKY = [
    1.5,
    0.1,
    0.1 + 0.2,
    1 / 3,
    -2.5e10,
    1234567.25,
    1e-300,
    5e-324,
    1.7976931348623157e308,
    -0.0,
    2.0**70,
]


def _comma_locale() -> str | None:
    """The name of an installed comma-decimal locale, or None. Leaves the locale as it was."""
    saved = locale.setlocale(locale.LC_ALL)
    try:
        for name in CANDIDATES:
            try:
                locale.setlocale(locale.LC_ALL, name)
            except locale.Error:
                continue
            if locale.localeconv()["decimal_point"] == ",":
                return name
        return None
    finally:
        locale.setlocale(locale.LC_ALL, saved)


COMMA_LOCALE = _comma_locale()


@pytest.fixture(params=["system", "simulated"])
def comma_locale(request, monkeypatch):
    """Numbers are formatted the German way while the test runs."""
    if request.param == "system":
        if COMMA_LOCALE is None:
            message = (
                "no comma-decimal locale installed (e.g. generate de_DE.UTF-8 with locale-gen)"
            )
            if os.environ.get("SELFATTN_REQUIRE_LOCALE") == "1":
                pytest.fail(message + "; SELFATTN_REQUIRE_LOCALE=1 requires one")
            pytest.skip(message + "; the 'simulated' variant runs")
        saved = locale.setlocale(locale.LC_ALL)
        locale.setlocale(locale.LC_ALL, COMMA_LOCALE)
        try:
            assert locale.str(1.5) == "1,5"
            yield COMMA_LOCALE
        finally:
            locale.setlocale(locale.LC_ALL, saved)
    else:
        conv = dict(locale.localeconv())
        conv.update(decimal_point=",", thousands_sep=".", grouping=[3, 3, 0])
        monkeypatch.setattr(locale, "localeconv", lambda: conv)
        assert locale.str(1.5) == "1,5" and locale.atof("1.234,5") == 1234.5
        yield "simulated"


def _tricky_preset(largest: float = TRICKY[8]) -> selfattn.Preset:
    """Seed-example's weights with TRICKY as inputs (`largest` replaces the float64 max,
    which would overflow the scores)."""
    tree = selfattn.preset_to_dict(load_bundled("seed-example"))
    tree["inputs"] = [TRICKY[0:4], TRICKY[4:8], [largest, *TRICKY[9:11], 0.75]]
    tree["options"]["temperature"] = 0.35
    tree["options"]["scale"] = 2.5
    return selfattn.preset_from_dict(tree)


def _same_bits(a: float, b: float) -> bool:
    return np.float64(a).tobytes() == np.float64(b).tobytes()


def test_preset_file_uses_dot_decimals_and_reads_back_exactly(comma_locale, tmp_path):
    preset = _tricky_preset()
    path = tmp_path / "tricky.json"
    selfattn.save_preset(preset, path)
    text = path.read_text(encoding="utf-8")
    assert "1.5" in text and "0.35" in text and "2.5" in text
    assert not re.search(r"\d,\d", text.replace(", ", ""))  # commas only between values
    # An independent reader (the json module) sees the very same doubles...
    data = json.loads(text)
    for got, want in zip(data["inputs"][0] + data["inputs"][1], TRICKY[:8], strict=True):
        assert _same_bits(got, want), (got, want)
    assert data["options"]["temperature"] == 0.35
    # ...and so does the loader.
    again = selfattn.load_preset(path)
    assert again.inputs.tobytes() == preset.inputs.tobytes()
    assert again.options.temperature == 0.35 and again.options.scale == 2.5


def test_preset_text_with_dot_decimals_parses_the_same_under_any_locale(comma_locale):
    text = json.dumps(
        {
            "format": "selfattn.preset",
            "version": 1,
            "inputs": [[1.5, -0.25]],
            "weights": {"query": [[0.5], [1e-3]], "key": [[2.5], [3]], "value": [[1], [0.125]]},
            "options": {"temperature": 0.5},
        }
    )
    preset = selfattn.parse_preset(text, "dots.json")
    assert preset.inputs.tolist() == [[1.5, -0.25]]
    assert preset.w_query.tolist() == [[0.5], [0.001]]
    assert preset.options.temperature == 0.5


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _numbers(cells: list[str]) -> list[float]:
    for cell in cells:
        assert not COMMA_NUMBER.match(cell), cell
    return [float(c) for c in cells]  # float() never consults the locale


def test_wide_csv_uses_dot_decimals_and_reads_back_exactly(comma_locale, tmp_path):
    preset = _tricky_preset(largest=3e100).with_options(scale="sqrt_dk", temperature=1.0)
    result = selfattn.compute(preset)
    write_csv(result, tmp_path, tokens=preset.tokens, key_tokens=preset.key_tokens)
    rows = _read_csv(tmp_path / "query.csv")
    values = np.array([_numbers(r[1:]) for r in rows[1:]])
    assert values.tobytes() == result.q.tobytes()
    rows = _read_csv(tmp_path / "weights.csv")
    values = np.array([_numbers(r[1:]) for r in rows[1:]])
    assert values.tobytes() == result.weights[0].tobytes()
    assert [r[0] for r in rows[1:]] == list(preset.tokens)


def test_long_csv_uses_dot_decimals_and_reads_back_exactly(comma_locale, tmp_path):
    preset = _tricky_preset(largest=3e100)
    result = selfattn.compute(preset)
    write_csv(result, tmp_path, tokens=preset.tokens, key_tokens=preset.key_tokens, format="long")
    rows = _read_csv(tmp_path / "results.csv")
    checked = 0
    for matrix, head, row, col, _rl, _cl, value in rows[1:]:
        (number,) = _numbers([value])
        if matrix == "output":
            want = result.output[int(row) - 1, int(col) - 1]
        elif matrix == "weights":
            want = result.weights[int(head) - 1, int(row) - 1, int(col) - 1]
        else:
            continue
        assert _same_bits(number, want), (matrix, row, col, value)
        checked += 1
    assert checked == result.output.size + result.weights.size


def test_typed_cell_text_means_the_same_under_any_locale(comma_locale):
    assert parse_number("1.5") == 1.5
    assert parse_number("-2e-3") == -0.002
    assert parse_number("1/4") == 0.25
    for text in ("1,5", "1.234,5", "0,25"):
        with pytest.raises(ExpressionError):  # refused, never read as 15 or a tuple
            parse_number(text)


def test_a_comma_decimal_csv_is_refused_not_misread(comma_locale, tmp_path):
    """What a German spreadsheet saves: ';' between cells, ',' for decimals."""
    path = tmp_path / "german.csv"
    path.write_text("1,5;2,5;3,5\n4,5;5,5;6,5\n", encoding="utf-8")
    with pytest.raises(CsvImportError, match="decimal comma"):
        read_matrix_csv(path)
    path.write_text("a,b\n1.5,2.25\n-3e-3,4\n", encoding="utf-8")
    assert read_matrix_csv(path).tolist() == [[1.5, 2.25], [-0.003, 4.0]]


# --- the command line in a child process --------------------------------------------------

# The child sets the C library's locale from the environment first, as QApplication does
# on start-up, so LC_NUMERIC really is German inside it. Without an installed comma
# locale it runs under C.UTF-8 with localeconv patched.
_CLI_CHILD = textwrap.dedent(
    """
    import locale, sys
    locale.setlocale(locale.LC_ALL, "")
    if locale.localeconv()["decimal_point"] != ",":
        conv = dict(locale.localeconv(), decimal_point=",", thousands_sep=".")
        locale.localeconv = lambda: conv
    assert locale.str(1.5) == "1,5", locale.str(1.5)
    from selfattn.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and k != "LANG"}
    name = COMMA_LOCALE or "C.UTF-8"
    env.update(LANG=name, LC_ALL=name, LC_NUMERIC=name)
    return env


def _check_csv_folder(folder: Path, preset: selfattn.Preset) -> None:
    """Every number in the CSV files equals this process's own result, bit for bit."""
    result = selfattn.compute(preset)
    expected = {
        "query.csv": result.q,
        "key.csv": result.k,
        "value.csv": result.v,
        "scores.csv": result.scores[0],
        "scaled_scores.csv": result.scaled_scores[0],
        "weights.csv": result.weights[0],
        "context.csv": result.context[0],
        "output.csv": result.output,
    }
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
    for name, want in expected.items():
        rows = _read_csv(folder / name)
        got = np.array([_numbers(r[1:]) for r in rows[1:]])
        assert got.tobytes() == np.asarray(want, dtype=np.float64).tobytes(), name


@pytest.mark.parametrize("how", ["python -m selfattn", "after setlocale(LC_ALL, '')"])
def test_cli_csv_under_a_comma_locale_reads_back_exactly(how, tmp_path):
    out = tmp_path / "out"
    args = ["compute", "seed-example", "--out", str(out)]
    command = (
        [sys.executable, "-m", "selfattn", *args]
        if how.startswith("python")
        else [sys.executable, "-c", _CLI_CHILD, *args]
    )
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=_child_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "0.6" in proc.stdout or "0.9" in proc.stdout  # tables print '.' decimals too
    assert not re.search(r"\d,\d", proc.stdout)
    _check_csv_folder(out, load_bundled("seed-example"))


def test_cli_reads_a_preset_under_a_comma_locale(tmp_path):
    tree = selfattn.preset_to_dict(load_bundled("seed-example"))
    tree = copy.deepcopy(tree)
    tree["inputs"][0] = [1.5, 0.25, -0.125, 1e-3]
    path = tmp_path / "dots.json"
    path.write_text(json.dumps(tree), encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", _CLI_CHILD, "compute", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=_child_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    _check_csv_folder(out, selfattn.load_preset(path))
    rows = _read_csv(out / "query.csv")
    # query row 1 = [1.5, 0.25, -0.125, 0.001] @ W_Q, summed here in plain Python
    wq = tree["weights"]["query"]
    want = [math.fsum(x * wq[i][j] for i, x in enumerate(tree["inputs"][0])) for j in range(3)]
    assert _numbers(rows[1][1:]) == pytest.approx(want, rel=1e-15, abs=0)


# --- the window's number parsing, in a child process with Qt --------------------------------

_QT_CHILD = textwrap.dedent(
    """
    import json, locale, os
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QLocale, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    app = QApplication([])  # applies the system locale: setlocale(LC_ALL, "")
    if QLocale().decimalPoint() != ",":
        QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))
    from app.document import Document
    from app.matrix_model import input_matrix_model
    from app.panels.options import OptionsPanel
    from selfattn.bundled import load_bundled

    seen = {"qt_locale": QLocale().name(), "qt_decimal": QLocale().decimalPoint(),
            "c_decimal": locale.localeconv()["decimal_point"]}
    doc = Document(load_bundled("seed-example"))
    messages = []
    doc.message.connect(messages.append)
    model = input_matrix_model(doc, "inputs")
    seen["set_1.5"] = model.setData(model.index(0, 0), "1.5")
    seen["value_1.5"] = float(doc.preset.inputs[0, 0])
    seen["edit_text"] = model.data(model.index(0, 0), Qt.ItemDataRole.EditRole)
    seen["set_1,5"] = model.setData(model.index(0, 1), "1,5")
    seen["value_1,5"] = float(doc.preset.inputs[0, 1])
    seen["messages"] = messages
    panel = OptionsPanel(doc)
    panel.show()
    edit = panel.temperature_spin.lineEdit()
    edit.selectAll()
    QTest.keyClicks(edit, "1.5")
    QTest.keyClick(edit, Qt.Key.Key_Return)
    seen["temperature_typed_1.5"] = doc.preset.options.temperature
    print(json.dumps(seen), flush=True)
    os._exit(0)  # skip teardown of the parentless document: only the answers matter
    """
)


@pytest.fixture(scope="module")
def qt_child() -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _QT_CHILD],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=_child_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_qt_child_really_runs_with_comma_decimals(qt_child):
    assert qt_child["qt_decimal"] == ","
    if COMMA_LOCALE is not None:
        assert qt_child["c_decimal"] == ","  # QApplication applied the system locale


def test_typed_cell_with_dot_means_the_same_under_a_german_qt_locale(qt_child):
    assert qt_child["set_1.5"] is True
    assert qt_child["value_1.5"] == 1.5
    assert qt_child["edit_text"] == "1.5"  # the editor shows '.' decimals too


def test_typed_cell_with_comma_is_refused_with_a_message(qt_child):
    assert qt_child["set_1,5"] is False
    assert qt_child["value_1,5"] == 0.0  # seed-example's inputs[0][1]: unchanged
    assert any("1,5" in m for m in qt_child["messages"]), qt_child["messages"]


def test_typed_temperature_with_dot_is_never_read_as_fifteen(qt_child):
    assert qt_child["temperature_typed_1.5"] in (1.5, 1.0)  # taken, or refused (old value)
