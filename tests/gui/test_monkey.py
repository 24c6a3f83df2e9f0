"""A seeded monkey drives the window through thousands of random user actions.

After every action the weights and output the window shows must equal a fresh
`selfattn.compute` of the document's preset, no exception may escape anywhere
(pytest-qt's capture stays on), and at the end undoing everything must bring back
the starting numbers exactly. The many edits also emit tens of thousands of Qt
signals: the guard against PySide6 6.12.0's bool refcount crash on Python 3.11
(it aborted the process after a few hundred emits).
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QLineEdit

import selfattn
from app import commands
from selfattn import edit
from selfattn.bundled import bundled_names, load_bundled
from selfattn.preset import Preset

N_ACTIONS = int(os.environ.get("MONKEY_ACTIONS", "2000"))
SEEDS = (20240601, 7)

# Every size from 1 up to these maxima is visited at least once per run.
MAX_SIZES = {"tokens": 7, "d_model": 6, "d_k": 4, "d_v": 4, "heads": 3, "source": 5}

# Typed text and the number it stands for, worked out by hand.
VALID_TEXTS: tuple[tuple[str, float], ...] = (
    ("0", 0.0),
    ("-0", -0.0),
    ("1", 1.0),
    ("-2.5", -2.5),
    ("1/3", 1 / 3),
    ("-2e-3", -0.002),
    ("sqrt(2)", math.sqrt(2.0)),
    ("2**-3", 0.125),
    ("  7 ", 7.0),
    ("1e3", 1000.0),
    ("(1+2)*3", 9.0),
    ("pi", math.pi),
    ("-exp(1)", -math.e),
    ("0.1", 0.1),
    ("abs(-4)", 4.0),
)
# Text a cell must refuse, leaving the old value.
INVALID_TEXTS = (
    "",
    "   ",
    "abc",
    "1/0",
    "1e999",
    "nan",
    "inf",
    "-inf",
    "__import__('os').getcwd()",
    "1,5",
    "2**2000",
    "1e3.5",
    "[1]",
    "'1'",
    "True",
    "sqrt(-1)",
    "log(0)",
    "1+" * 150 + "1",
    "exp(1000)",
    "x",
    "1 2",
)
TOKEN_LABELS = (
    "cat",
    "the",
    "[CLS]",
    "naïve",
    "日本語",
    "😀",
    "שלום",
    "a b",
    "x" * 300,
    "  padded  ",
    "1.5",
    "",
    "   ",
)
VIEW_MODES = ("weights", "scaled_scores", "scores", "all_heads")
CHECKED, UNCHECKED = Qt.CheckState.Checked, Qt.CheckState.Unchecked
EDIT = Qt.ItemDataRole.EditRole


def _snapshot(preset: Preset) -> dict[str, object]:
    """Everything a person typed: every matrix, the labels and the options."""
    shot: dict[str, object] = {
        key: None if getattr(preset, key) is None else getattr(preset, key).copy()
        for key in edit.MATRIX_KEYS
    }
    shot["tokens"] = tuple(preset.tokens)
    shot["source_tokens"] = preset.source_tokens
    shot["options"] = preset.options
    return shot


def _same_snapshot(a: dict[str, object], b: dict[str, object]) -> list[str]:
    """Names of the parts that differ (bit for bit, including the sign of zero)."""
    diff = []
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
            same = (
                x.shape == y.shape
                and np.array_equal(x, y)
                and np.array_equal(np.signbit(x), np.signbit(y))
            )
        else:
            same = not isinstance(x, np.ndarray) and not isinstance(y, np.ndarray) and x == y
        if not same:
            diff.append(key)
    return diff


def _number_block(rng: random.Random, rows: int, cols: int) -> tuple[list[list[str]], np.ndarray]:
    """Texts and their values for a pasted block."""
    texts, values = [], np.empty((rows, cols))
    for i in range(rows):
        row = []
        for j in range(cols):
            if rng.random() < 0.5:
                text, value = rng.choice(VALID_TEXTS)
                text = text.strip()
            else:
                value = round(rng.uniform(-20, 20), rng.randint(0, 6))
                text = repr(value)
            row.append(text)
            values[i, j] = value
        texts.append(row)
    return texts, values


def _bad_files(tmp_path: Path) -> list[Path]:
    """Files that must be refused with a dialog, leaving the document untouched."""
    good = json.loads(selfattn.dumps_preset(load_bundled("seed-example")))

    def variant(change: Callable[[dict], None]) -> str:
        data = json.loads(json.dumps(good))
        change(data)
        return json.dumps(data)

    def set_path(path: tuple, value: object) -> Callable[[dict], None]:
        def change(data: dict) -> None:
            target = data
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value

        return change

    contents: list[str | bytes] = [
        "",
        "{",
        '{"format": "selfattn.preset", "version": 1, "inputs": [[1, 2]',
        "[1, 2, 3]",
        "null",
        b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe garbage",
        b"\xff\xfe\x00\x00",
        json.dumps(good).replace("1", "NaN", 1),
        json.dumps(good)[:-7],
        variant(set_path(("format",), "something.else")),
        variant(set_path(("version",), 99)),
        variant(set_path(("inputs", 1, 2), "oops")),
        variant(set_path(("inputs", 1), [1, 2])),
        variant(set_path(("weights", "query"), [[1, 2], [3, 4]])),
        variant(set_path(("options",), {"heads": 2})),
        variant(set_path(("options",), {"key_mask": [True]})),
        variant(set_path(("options",), {"temperature": 0})),
        variant(set_path(("options",), {"scale": "cube"})),
        variant(set_path(("options",), {"bogus": 1})),
        variant(set_path(("inputs",), [])),
        variant(set_path(("inputs", 0, 0), 1e400)),
        variant(set_path(("inputs", 0, 0), True)),
        variant(lambda d: d["weights"].pop("key")),
        variant(set_path(("tokens",), ["a"])),
        "[" * 5000 + "]" * 5000,
    ]
    paths = []
    for i, content in enumerate(contents):
        path = tmp_path / f"bad-{i}.json"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths


class Monkey:
    """Random user actions through the window's views, each followed by a display check."""

    def __init__(self, qtbot, window, dialogs, tmp_path: Path, seed: int) -> None:
        self.qtbot = qtbot
        self.win = window
        self.doc = window.document
        self.dialogs = dialogs
        self.tmp = tmp_path
        self.rng = random.Random(seed)
        self.log: list[str] = []
        self.bad_files = _bad_files(tmp_path)
        self.bundled = bundled_names()
        self.sizes_seen: dict[str, set[int]] = {k: set() for k in MAX_SIZES}
        self.size_queues: dict[str, deque[int]] = {k: deque() for k in MAX_SIZES}
        self.counts: dict[str, int] = {}
        self.exports = 0
        p = window.inputs_panel
        self.spins = {
            "tokens": p.spin_tokens,
            "d_model": p.spin_d_model,
            "d_k": p.spin_d_k,
            "d_v": p.spin_d_v,
            "heads": p.spin_heads,
            "source": p.spin_source,
        }
        self.actions: list[tuple[float, Callable[[], None]]] = [
            (16, self.type_cell),
            (3, self.type_cell_in_editor),
            (10, self.resize),
            (4, self.toggle_part),
            (9, self.change_option),
            (5, self.toggle_key_mask),
            (3, self.rename_token),
            (6, self.switch_view),
            (3, self.explain_cell),
            (9, self.paste),
            (2, self.copy_and_paste),
            (2, self.clear_selection),
            (4, self.fill),
            (10, self.undo_redo),
            (2, self.load_bundled),
            (2, self.load_bad_file),
            (0.6, self.save_and_reopen),
            (1, self.import_csv),
            (0.5, self.new_document),
            (0.5, self.export_csv),
            (0.4, self.export_heatmap),
        ]

    # Driving ---------------------------------------------------------------------
    def step(self) -> None:
        weights = [w for w, _ in self.actions]
        (action,) = self.rng.choices([a for _, a in self.actions], weights=weights)
        self.counts[action.__name__] = self.counts.get(action.__name__, 0) + 1
        self.note(action.__name__)
        action()

    def note(self, text: str) -> None:
        self.log.append(text)

    def where(self) -> str:
        return "after actions: " + " | ".join(self.log[-12:])

    def matrix_keys(self) -> list[str]:
        """Input matrices the preset has now (the ones with a table on screen)."""
        return [k for k in edit.MATRIX_KEYS if getattr(self.doc.preset, k) is not None]

    def show_table(self, key: str):
        """Bring the Inputs tab holding `key`'s table to the front, as a click on it would."""
        panel = self.win.inputs_panel
        view = panel.tables[key]
        for i in range(panel.tabs.count()):
            page = panel.tabs.widget(i)
            if page is view or page.isAncestorOf(view):
                panel.tabs.setCurrentIndex(i)
                break
        else:
            raise AssertionError(f"no Inputs tab shows {key} {self.where()}")
        return view

    def unchanged(self, before: Preset, depth: int, what: str) -> None:
        assert self.doc.preset is before, f"{what} changed the document {self.where()}"
        assert self.doc.undo_stack.count() == depth, f"{what} left an undo step {self.where()}"

    # Actions ---------------------------------------------------------------------
    def _cell_text(self) -> tuple[str, float | None]:
        if self.rng.random() < 0.3:
            return self.rng.choice(INVALID_TEXTS), None
        if self.rng.random() < 0.5:
            return self.rng.choice(VALID_TEXTS)
        value = round(self.rng.uniform(-50, 50), self.rng.randint(0, 17))
        return repr(value), value

    def type_cell(self) -> None:
        """setData with a string on a random cell of a random input table."""
        key = self.rng.choice(self.matrix_keys())
        model = self.win.inputs_panel.tables[key].matrix_model()
        i = self.rng.randrange(model.rowCount())
        j = self.rng.randrange(model.columnCount())
        text, value = self._cell_text()
        self.note(f"{key}[{i},{j}]={text[:30]!r}")
        before, depth = self.doc.preset, self.doc.undo_stack.count()
        accepted = model.setData(model.index(i, j), text, EDIT)
        self._after_typing(key, i, j, text, value, accepted, before, depth)

    def _after_typing(self, key, i, j, text, value, accepted, before, depth) -> None:
        if value is None:
            assert not accepted, f"{text!r} was accepted {self.where()}"
            self.unchanged(before, depth, f"refused text {text!r}")
            return
        assert accepted is not False, f"{text!r} was refused {self.where()}"
        now = edit.matrix_of(self.doc.preset, key)
        assert now is not None
        assert now[i, j] == value and math.copysign(1, now[i, j]) == math.copysign(1, value), (
            f"{key}[{i},{j}] holds {now[i, j]!r}, typed {text!r} {self.where()}"
        )

    def type_cell_in_editor(self) -> None:
        """Type through the real editor: open it, type, Return, wait for the commit."""
        key = self.rng.choice(self.matrix_keys())
        view = self.show_table(key)
        model = view.matrix_model()
        i = self.rng.randrange(model.rowCount())
        j = self.rng.randrange(model.columnCount())
        text, value = self._cell_text()
        text = text.replace("\n", " ")
        self.note(f"editor {key}[{i},{j}]={text[:30]!r}")
        before, depth = self.doc.preset, self.doc.undo_stack.count()
        index = model.index(i, j)
        view.setCurrentIndex(index)
        view.edit(index)
        editors = [e for e in view.viewport().findChildren(QLineEdit) if e.isVisible()]
        assert len(editors) == 1, f"{key}[{i},{j}] did not open one editor {self.where()}"
        editor = editors[0]
        assert float(editor.text()) == float(edit.matrix_of(before, key)[i, j])
        editor.selectAll()
        if text:
            self.qtbot.keyClicks(editor, text)
        else:
            self.qtbot.keyClick(editor, Qt.Key.Key_Delete)
        self.qtbot.keyClick(editor, Qt.Key.Key_Return)
        self.qtbot.waitUntil(
            lambda: (
                view.state() != QAbstractItemView.State.EditingState
                and not (shiboken6.isValid(editor) and editor.isVisible())
            ),
            timeout=2000,
        )
        self._after_typing(key, i, j, text, value, None, before, depth)

    def resize(self) -> None:
        """Set one dimension's spin box to the next size of its shuffled cycle."""
        dim = self.rng.choice(list(MAX_SIZES))
        queue = self.size_queues[dim]
        if not queue:
            sizes = list(range(1, MAX_SIZES[dim] + 1))
            self.rng.shuffle(sizes)
            queue.extend(sizes)
        size = queue.popleft()
        spin = self.spins[dim]
        if dim == "source" and not spin.isEnabled():
            self.note("cross-attention on (to resize the source)")
            self.win.inputs_panel.check_source.click()
            assert spin.isEnabled(), self.where()
        self.note(f"resize {dim}={size}")
        old, depth = self.doc.preset, self.doc.undo_stack.count()
        spin.setValue(size)

        def size_of(p: Preset) -> int:
            return {
                "tokens": p.n_tokens,
                "d_model": p.d_model,
                "d_k": p.d_k,
                "d_v": p.d_v,
                "heads": p.options.heads,
                "source": p.n_keys,
            }[dim]

        if old.options.rope is not None and self.doc.preset is old and size != size_of(old):
            # RoPE turns pairs of columns: a size its rotation cannot use may be refused.
            self.unchanged(old, depth, f"{dim}={size} with RoPE")
            assert spin.value() == size_of(old), self.where()
            assert "Refused" in self.win.statusBar().currentMessage(), self.where()
            return
        p = self.doc.preset
        actual = size_of(p)
        assert actual == size, f"{dim} is {actual} after setting {size} {self.where()}"
        self.sizes_seen[dim].add(size)
        # Resizing keeps the numbers that still fit.
        rows = min(old.n_tokens, p.n_tokens)
        cols = min(old.d_model, p.d_model)
        assert np.array_equal(p.inputs[:rows, :cols], old.inputs[:rows, :cols]), self.where()
        assert p.tokens[:rows] == old.tokens[:rows], self.where()

    def toggle_part(self) -> None:
        panel = self.win.inputs_panel
        box = self.rng.choice((panel.check_output, panel.check_biases, panel.check_source))
        self.note(f"click {box.text()} (was {box.isChecked()})")
        was = box.isChecked()
        box.click()
        p = self.doc.preset
        now = {
            panel.check_output: p.w_output is not None,
            panel.check_biases: p.b_query is not None,
            panel.check_source: p.source_inputs is not None,
        }[box]
        assert now == (not was) == box.isChecked(), self.where()

    def change_option(self) -> None:
        o = self.win.options_panel
        choice = self.rng.randrange(6)
        if choice == 0:
            index = self.rng.randrange(3)
            self.note(f"scale combo {index}")
            o.scale_combo.setCurrentIndex(index)
            scale = self.doc.preset.options.scale
            if index < 2:
                assert scale == ("sqrt_dk", "none")[index], self.where()
            else:
                assert isinstance(scale, float) and scale > 0, self.where()
        elif choice == 1:
            if o.scale_combo.currentIndex() != 2:
                o.scale_combo.setCurrentIndex(2)
            value = self.rng.choice((0.5, 1.0, 2.0, 3.0, 1e-3, 1e3, 0.123456))
            self.note(f"custom scale {value}")
            o.custom_scale.setValue(value)
            assert self.doc.preset.options.scale == value, self.where()
        elif choice == 2:
            value = self.rng.choice((1e-4, 1e-3, 0.01, 0.5, 1.0, 2.0, 100.0, 1e4))
            self.note(f"temperature spin {value}")
            shown = o.temperature_spin.value()
            o.temperature_spin.setValue(value)
            if shown != value:  # no signal when the box already shows it
                assert self.doc.preset.options.temperature == value, self.where()
        elif choice == 3:
            position = self.rng.randint(0, 400)
            self.note(f"temperature slider {position}")
            shown = o.temperature_slider.value()
            o.temperature_slider.setValue(position)
            if shown != position:  # the slider spans 0.01 .. 100 on a log scale
                expected = 10 ** (-2 + 4 * position / 400)
                t = self.doc.preset.options.temperature
                assert math.isclose(t, expected, rel_tol=1e-3), self.where()
        elif choice == 4:
            self.note("click causal")
            was = self.doc.preset.options.causal
            o.causal_check.click()
            assert self.doc.preset.options.causal is (not was), self.where()
        else:
            index = self.rng.randrange(2)
            self.note(f"dtype {index}")
            o.dtype_combo.setCurrentIndex(index)
            assert self.doc.preset.options.dtype == ("float64", "float32")[index], self.where()

    def _key_list(self):
        panel = self.win.inputs_panel
        if self.doc.preset.source_inputs is not None:
            return panel.source_tokens_model
        return panel.tokens_model

    def toggle_key_mask(self) -> None:
        model = self._key_list()
        i = self.rng.randrange(model.rowCount())
        index = model.index(i, 1)
        assert model.flags(index) & Qt.ItemFlag.ItemIsUserCheckable, self.where()
        attend = model.data(index, Qt.ItemDataRole.CheckStateRole) == CHECKED
        self.note(f"key mask {i} -> {not attend}")
        model.setData(index, UNCHECKED if attend else CHECKED, Qt.ItemDataRole.CheckStateRole)
        mask = self.doc.preset.options.key_mask
        assert (True if mask is None else mask[i]) is (not attend), self.where()
        shown = model.data(index, Qt.ItemDataRole.CheckStateRole)
        assert shown == (UNCHECKED if attend else CHECKED), self.where()

    def rename_token(self) -> None:
        panel = self.win.inputs_panel
        model = panel.tokens_model
        which = "tokens"
        if self.doc.preset.source_inputs is not None and self.rng.random() < 0.5:
            model, which = panel.source_tokens_model, "source_tokens"
        i = self.rng.randrange(model.rowCount())
        label = self.rng.choice(TOKEN_LABELS)
        self.note(f"rename {which}[{i}]={label[:20]!r}")
        before, depth = self.doc.preset, self.doc.undo_stack.count()
        accepted = model.setData(model.index(i, 0), label, EDIT)
        if not label.strip():
            assert not accepted, self.where()
            self.unchanged(before, depth, "empty label")
        else:
            assert getattr(self.doc.preset, which)[i] == label.strip(), self.where()
            shown = model.data(model.index(i, 0), Qt.ItemDataRole.DisplayRole)
            assert shown == label.strip(), self.where()

    def switch_view(self) -> None:
        if self.rng.random() < 0.5:
            head = self.rng.randrange(4)
            self.note(f"select head {head}")
            self.win.select_head(head)
            assert self.win.head_spin.value() == min(head, self.win.recompute.result.heads - 1) + 1
        else:
            mode = self.rng.choice(VIEW_MODES)
            self.note(f"view {mode}")
            self.win.set_view_mode(mode)
            assert self.win.mode_combo.currentData() == mode, self.where()

    def explain_cell(self) -> None:
        """Click a result cell or a heatmap cell, or hover the heatmap: Explain follows."""
        r = self.win.recompute.result
        row = self.rng.randrange(r.n_queries)
        choice = self.rng.randrange(3)
        if self.win.heatmap_stack.currentWidget() is not self.win.heatmap:
            choice = 0  # the single heatmap is hidden behind the all-heads view
        if choice == 0:
            key = self.rng.choice(("weights", "scores", "scaled_scores", "context", "output"))
            view = self.win.results_panel.tables[key]
            self.win.results_panel.show_table(key)
            col = self.rng.randrange(view.model().columnCount())
            self.note(f"select result {key}[{row},{col}]")
            view.setCurrentIndex(view.model().index(row, col))
        elif choice == 1:
            col = self.rng.randrange(r.n_keys)
            self.note(f"click heatmap [{row},{col}]")
            self.win.heatmap.cellClicked.emit(row, col)
        else:
            col = self.rng.randrange(r.n_keys)
            self.note(f"hover heatmap [{row},{col}]")
            self.win.heatmap.cellHovered.emit(row, col)
            p = self.doc.preset
            want = f"query '{p.tokens[row]}' → key '{p.key_tokens[col]}'"
            assert want in self.win.hover_label.text(), self.where()
            return
        assert self.win.explain_panel.current_text(), self.where()

    def _select(self, view, r0: int, c0: int, rows: int, cols: int) -> None:
        model = view.model()
        view.setCurrentIndex(model.index(r0, c0))
        selection = QItemSelection(model.index(r0, c0), model.index(r0 + rows - 1, c0 + cols - 1))
        view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def paste(self) -> None:
        key = self.rng.choice(self.matrix_keys())
        view = self.show_table(key)
        current = edit.matrix_of(self.doc.preset, key)
        assert current is not None
        n, m = current.shape
        r0, c0 = self.rng.randrange(n), self.rng.randrange(m)
        sel_rows = self.rng.randint(1, n - r0)
        sel_cols = self.rng.randint(1, m - c0)
        self._select(view, r0, c0, sel_rows, sel_cols)
        kind = self.rng.choice(("valid", "valid", "valid", "single", "ragged", "garbage", "huge"))
        expected: np.ndarray | None = None
        if kind in ("valid", "single", "huge"):
            if kind == "huge":
                size = self.rng.choice((40, 120))
                rows, cols = size, size
                texts = [["1.5"] * size for _ in range(size)]
                values = np.full((size, size), 1.5)
            else:
                rows, cols = (
                    (1, 1)
                    if kind == "single"
                    else (
                        self.rng.randint(1, 4),
                        self.rng.randint(1, 4),
                    )
                )
                texts, values = _number_block(self.rng, rows, cols)
            sep = self.rng.choice(("\t", "\t", ","))
            newline = self.rng.choice(("\n", "\r\n"))
            text = newline.join(sep.join(row) for row in texts)
            if self.rng.random() < 0.5:
                text += newline
            if (rows, cols) == (1, 1) and (sel_rows, sel_cols) != (1, 1):
                expected = current.copy()
                expected[r0 : r0 + sel_rows, c0 : c0 + sel_cols] = values[0, 0]
            elif r0 + rows <= n and c0 + cols <= m:
                expected = current.copy()
                expected[r0 : r0 + rows, c0 : c0 + cols] = values
        elif kind == "ragged":
            text = self.rng.choice(("1\t2\t3\n4\t5\n", "1,2\n3\n", "1\n2\t3"))
        else:
            alphabet = "abc xyz\t\n,;:!?()[]{}<>∞−—é日😀\\\"'"
            text = "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(0, 40)))
            text += "zz"  # never a number, whatever came before
        self.note(f"paste {kind} into {key} at ({r0},{c0}) sel {sel_rows}x{sel_cols}")
        before, depth = self.doc.preset, self.doc.undo_stack.count()
        accepted = view.paste_text(text)
        if expected is None:
            assert not accepted, f"paste {text[:40]!r} accepted {self.where()}"
            self.unchanged(before, depth, "refused paste")
        else:
            assert accepted, f"paste {text[:60]!r} refused {self.where()}"
            now = edit.matrix_of(self.doc.preset, key)
            assert np.array_equal(now, expected), self.where()

    def copy_and_paste(self) -> None:
        """Copy a block and paste it elsewhere: the numbers arrive exactly."""
        keys = self.matrix_keys()
        src_key = self.rng.choice(keys)
        view = self.show_table(src_key)
        src = edit.matrix_of(self.doc.preset, src_key)
        n, m = src.shape
        r0, c0 = self.rng.randrange(n), self.rng.randrange(m)
        rows, cols = self.rng.randint(1, n - r0), self.rng.randint(1, m - c0)
        self._select(view, r0, c0, rows, cols)
        text = view.copy_selection()
        block = src[r0 : r0 + rows, c0 : c0 + cols].copy()
        dst_key = self.rng.choice(keys)
        dst_view = self.show_table(dst_key)
        dst = edit.matrix_of(self.doc.preset, dst_key)
        fitting = [
            (i, j) for i in range(dst.shape[0] - rows + 1) for j in range(dst.shape[1] - cols + 1)
        ]
        self.note(f"copy {src_key}[{r0},{c0}] {rows}x{cols} -> {dst_key}")
        if not fitting:
            return
        i, j = self.rng.choice(fitting)
        self._select(dst_view, i, j, 1, 1)
        assert dst_view.paste(), self.where()
        assert text  # the clipboard held the copied block
        now = edit.matrix_of(self.doc.preset, dst_key)
        assert np.array_equal(now[i : i + rows, j : j + cols], block), self.where()

    def clear_selection(self) -> None:
        key = self.rng.choice(self.matrix_keys())
        view = self.show_table(key)
        current = edit.matrix_of(self.doc.preset, key)
        n, m = current.shape
        r0, c0 = self.rng.randrange(n), self.rng.randrange(m)
        rows, cols = self.rng.randint(1, n - r0), self.rng.randint(1, m - c0)
        self._select(view, r0, c0, rows, cols)
        by_key = self.rng.random() < 0.5
        self.note(f"clear {key}[{r0},{c0}] {rows}x{cols} {'Delete key' if by_key else ''}")
        if by_key:
            self.qtbot.keyClick(view, Qt.Key.Key_Delete)
        else:
            view.clear_selection_to_zero()
        now = edit.matrix_of(self.doc.preset, key)
        assert np.all(now[r0 : r0 + rows, c0 : c0 + cols] == 0), self.where()

    def fill(self) -> None:
        """Fill the matrix in front (the table a person clicked into) from the Edit menu."""
        view = self.show_table(self.rng.choice(self.matrix_keys()))
        view.setFocus()
        front = self.win.inputs_panel.active_table()
        assert front is not None and front.matrix_model().key is not None, self.where()
        key = front.matrix_model().key
        current = edit.matrix_of(self.doc.preset, key)
        kind = self.rng.choice(("zeros", "identity", "random", "scale"))
        seed = self.rng.randrange(1000)
        factor = self.rng.choice((-1.0, 0.5, 2.0, 0.0, -3.0))
        if kind == "scale" and np.abs(current).max(initial=0.0) * abs(factor) > 1e3:
            factor = 0.5  # keep numbers in a range where every option stays finite
        self.note(f"fill {key} {kind} seed={seed} factor={factor}")
        self.win.inputs_panel.fill_active(kind, seed=seed, factor=factor)
        now = edit.matrix_of(self.doc.preset, key)
        expected = {
            "zeros": np.zeros(current.shape),
            "identity": np.eye(*current.shape),
            "random": np.random.default_rng(seed).normal(0.0, 1.0, size=current.shape),
            "scale": current * factor,
        }[kind]
        assert np.array_equal(now, expected), self.where()

    def undo_redo(self) -> None:
        stack = self.doc.undo_stack
        runs = self.rng.randint(1, 8)
        undo = self.rng.random() < 0.6
        self.note(f"{'undo' if undo else 'redo'} x{runs}")
        for _ in range(runs):
            if undo and stack.canUndo():
                self.win.action_undo.trigger()
            elif not undo and stack.canRedo():
                self.win.action_redo.trigger()

    def load_bundled(self) -> None:
        name = self.rng.choice(self.bundled)
        self.note(f"open bundled {name}")
        assert self.win.files.open_bundled(name, ask=False), self.where()
        loaded = _snapshot(load_bundled(name))
        assert not _same_snapshot(_snapshot(self.doc.preset), loaded), self.where()

    def load_bad_file(self) -> None:
        path = self.rng.choice(self.bad_files)
        self.note(f"open bad {path.name}")
        before, depth = self.doc.preset, self.doc.undo_stack.count()
        calls = len(self.dialogs.calls)
        assert not self.win.files.open_path(path, ask=False), f"{path.name} opened {self.where()}"
        self.unchanged(before, depth, f"bad file {path.name}")
        assert len(self.dialogs.calls) == calls + 1, self.where()
        kind, text = self.dialogs.calls[-1]
        assert kind == "warning" and path.name in text, (text, self.where())

    def save_and_reopen(self) -> None:
        path = self.tmp / f"saved-{self.rng.randrange(3)}.json"
        self.note(f"save {path.name} and reopen")
        saved = _snapshot(self.doc.preset)
        assert self.win.files.save_to(path), self.where()
        assert not self.doc.is_modified
        assert self.win.files.open_path(path, ask=False), self.where()
        assert not _same_snapshot(_snapshot(self.doc.preset), saved), self.where()

    def import_csv(self) -> None:
        """Import a matrix from a CSV file: good ones land exactly, bad ones change nothing."""
        key = self.rng.choice(self.matrix_keys())
        current = edit.matrix_of(self.doc.preset, key)
        n, m = current.shape
        kind = self.rng.choice(("good", "good", "good", "shape", "garbage", "empty"))
        rows, cols = (n, m) if kind != "shape" else (n + 1, m)
        values = np.array(
            [
                [round(self.rng.uniform(-9, 9), self.rng.randint(0, 17)) for _ in range(cols)]
                for _ in range(rows)
            ]
        )
        sep = self.rng.choice((",", ";", "\t"))
        labels = self.rng.random() < 0.5
        lines = []
        if self.rng.random() < 0.5:
            lines.append(sep.join((["corner"] if labels else []) + [f"c{j}" for j in range(cols)]))
        for i in range(rows):
            cells = [repr(float(v)) for v in values[i]]
            lines.append(sep.join(([f"row {i}"] if labels else []) + cells))
        text = "\n".join(lines) + "\n"
        if kind == "garbage":
            text = "a,b\nc,d\n"
        elif kind == "empty":
            text = ""
        self.exports += 1
        path = self.tmp / f"import-{self.exports}.csv"
        path.write_text(text, encoding="utf-8")
        self.note(f"import {kind} csv into {key}")
        before, depth = self.doc.preset, self.doc.undo_stack.count()
        calls = len(self.dialogs.calls)
        done = self.win.inputs_panel.import_csv(path, key)
        if kind == "good":
            assert done, (self.dialogs.calls[-1:], self.where())
            assert np.array_equal(edit.matrix_of(self.doc.preset, key), values), self.where()
        else:
            assert not done, self.where()
            self.unchanged(before, depth, f"{kind} CSV")
            assert len(self.dialogs.calls) == calls + 1, self.where()
            assert self.dialogs.calls[-1][0] == "warning", self.where()

    def new_document(self) -> None:
        """File > New; the unsaved-changes question is answered Discard."""
        self.note("new document")
        asked = self.doc.is_modified
        calls = len(self.dialogs.calls)
        self.win.action_new.trigger()
        assert len(self.dialogs.calls) == calls + (1 if asked else 0), self.where()
        p = self.doc.preset
        assert p.inputs.shape == (3, 4) and np.array_equal(p.inputs, np.eye(3, 4)), self.where()
        assert not self.doc.is_modified, self.where()

    def export_csv(self) -> None:
        self.exports += 1
        folder = self.tmp / f"csv-{self.exports}"
        self.note(f"export csv {folder.name}")
        assert self.win.files.export_csv(folder, "wide"), self.where()
        self.win.files.wait()
        with open(folder / "output.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        numbers = np.array([[float(v) for v in row[1:]] for row in rows])
        assert np.array_equal(numbers, self.win.recompute.result.output), self.where()

    def export_heatmap(self) -> None:
        self.exports += 1
        path = self.tmp / f"heatmap-{self.exports}.png"
        self.note(f"export heatmap {path.name}")
        assert self.win.files.export_heatmap(path), self.where()
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", self.where()

    # The check after every action --------------------------------------------------
    def check_display(self) -> None:
        """What the window shows equals a fresh computation of the document's preset."""
        p = self.doc.preset
        expected = selfattn.compute(p)
        win = self.win
        heads = expected.heads
        head = win.head_spin.value() - 1
        assert 0 <= head < heads, self.where()
        self._check_table("weights", expected.weights[head])
        self._check_table("output", expected.output)
        mode = win.mode_combo.currentData()
        if mode == "all_heads":
            assert win.heatmap_stack.currentWidget() is win.all_heads, self.where()
            panels = win.all_heads.panels
            assert len(panels) == heads, self.where()
            for h, panel in enumerate(panels):
                image = panel.image.image
                want = expected.weights[h].astype(np.float32)
                assert np.array_equal(image, want), f"all-heads panel {h} {self.where()}"
        else:
            assert win.heatmap_stack.currentWidget() is win.heatmap, self.where()
            image = win.heatmap.image_item.image
            values = getattr(expected, mode)[head]
            assert image.shape == values.shape, self.where()
            if mode == "weights":
                want = values.astype(np.float32)
                assert np.array_equal(image, want), f"heatmap {self.where()}"
            else:
                visible = expected.mask
                want = values.astype(np.float32)
                assert np.array_equal(image[visible], want[visible]), f"heatmap {self.where()}"
            assert np.isfinite(image).all(), self.where()
        masked_text = win.masked_label.text()
        assert ("fully masked" in masked_text) == bool(expected.fully_masked.any()), (
            masked_text,
            self.where(),
        )
        panel = win.inputs_panel
        dims = (p.n_tokens, p.d_model, p.d_k, p.d_v, p.options.heads, p.n_keys)
        shown = tuple(self.spins[k].value() for k in MAX_SIZES)
        assert shown == dims, f"spin boxes show {shown}, preset has {dims} {self.where()}"
        assert panel.check_output.isChecked() == (p.w_output is not None), self.where()
        assert panel.check_source.isChecked() == (p.source_inputs is not None), self.where()
        options = win.options_panel
        assert options.causal_check.isChecked() == p.options.causal, self.where()
        assert options.dtype_combo.currentData() == p.options.dtype, self.where()

    def _check_table(self, key: str, values: np.ndarray) -> None:
        model = self.win.results_panel.tables[key].matrix_model()
        n, m = values.shape
        assert (model.rowCount(), model.columnCount()) == (n, m), f"{key} {self.where()}"
        index = model.index
        for i in range(n):
            for j in range(m):
                text = model.data(index(i, j), EDIT)
                assert float(text) == float(values[i, j]), (
                    f"{key}[{i},{j}] shows {text}, expected {values[i, j]!r} {self.where()}"
                )


@pytest.mark.parametrize("seed", SEEDS)
def test_monkey_sequence_keeps_display_exact_and_undo_restores_start(
    qtbot, window, dialogs, tmp_path, seed
):
    monkey = Monkey(qtbot, window, dialogs, tmp_path, seed)
    emitted = [0]
    window.document.changed.connect(lambda _change: emitted.__setitem__(0, emitted[0] + 1))
    start = _snapshot(window.document.preset)
    monkey.check_display()
    for _ in range(N_ACTIONS):
        with qtbot.captureExceptions() as exceptions:
            monkey.step()
            monkey.check_display()
        assert not exceptions, f"uncaught {exceptions[0][1]!r} {monkey.where()}"

    # Every dimension went through every size from 1 up to its maximum.
    for dim, top in MAX_SIZES.items():
        assert monkey.sizes_seen[dim] == set(range(1, top + 1)), dim
    # Every kind of action ran.
    assert len(monkey.counts) == len(monkey.actions), monkey.counts

    # Thousands of signals went through PySide6 (each `changed` fans out to dozens more).
    assert emitted[0] > 1500, emitted[0]
    stack = window.document.undo_stack
    assert stack.count() > 100
    with qtbot.captureExceptions() as exceptions:
        while stack.canUndo():
            stack.undo()
        monkey.note("undo everything")
        monkey.check_display()
    assert not exceptions, exceptions
    assert not _same_snapshot(_snapshot(window.document.preset), start)


def test_resizing_d_v_keeps_each_heads_output_bias(window):
    """Found by the monkey: without W_O, b_O is added to concat(heads), one d_v block per head."""
    panel = window.inputs_panel
    panel.spin_heads.setValue(2)  # seed example: d_v = 3 per head, 6 context columns
    panel.check_biases.click()
    for key in ("b_value", "b_output"):
        model = panel.tables[key].matrix_model()
        for col, text in enumerate(("1", "2", "3", "4", "5", "6")):
            assert model.setData(model.index(0, col), text, EDIT)
    panel.spin_d_v.setValue(2)
    p = window.document.preset
    # Each head keeps the first two of its own three numbers: head 1 [1, 2], head 2 [4, 5].
    assert p.b_value.tolist() == [1.0, 2.0, 4.0, 5.0]
    assert p.b_output.tolist() == [1.0, 2.0, 4.0, 5.0]


def test_a_document_that_saved_always_reopens(window, dialogs, tmp_path):
    original = tmp_path / "long-label.json"
    long_label = "a" * 99_998
    selfattn.save_preset(
        load_bundled("seed-example").replace(tokens=(long_label, "b", "c")), original
    )
    assert window.files.open_path(original, ask=False)
    window.inputs_panel.check_source.click()
    saved = tmp_path / "saved.json"
    if not window.files.save_to(saved):
        # Refusing to save such a label is fine, but only with a message and the work kept.
        assert dialogs.calls and dialogs.calls[-1][0] == "critical"
        assert "saved.json" in dialogs.calls[-1][1]
        assert window.document.is_modified and not saved.exists()
        return
    assert window.files.open_path(saved, ask=False), dialogs.calls[-1:]


def test_exported_csv_with_numeric_token_labels_imports_back(window, dialogs, tmp_path):
    preset = Preset(
        inputs=np.arange(9.0).reshape(3, 3) / 7,
        w_query=np.eye(3),
        w_key=np.eye(3),
        w_value=np.eye(3),
        tokens=("1999", "2000", "2001"),
    )
    commands.open_preset(window.document, preset, None)
    assert window.files.export_csv(tmp_path / "out", "wide")
    window.files.wait()
    assert window.inputs_panel.import_csv(tmp_path / "out" / "weights.csv", "inputs"), (
        dialogs.calls[-1:]
    )
    np.testing.assert_array_equal(
        window.document.preset.inputs, selfattn.compute(preset).weights[0]
    )
