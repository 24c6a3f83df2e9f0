"""Qt table models over the document's arrays. They hold no numbers of their own.

`MatrixModel` reads a matrix of the current preset (editable) or of the latest
result (read-only) each time Qt asks for a cell, so only the cells on screen are
ever formatted, at the person's precision (View → Number precision); the tooltip
always has the full value. Edits go to the document as undoable commands
(app/commands.py); a refused one is remembered at its cell (REFUSED_ROLE, the
reason in the tooltip) until that cell is next written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    SignalInstance,
)
from PySide6.QtGui import QBrush, QColor

from selfattn import edit
from selfattn.labels import dim_labels as _dim_labels
from selfattn.labels import head_col_labels, kv_col_labels
from selfattn.numbers import (
    DEFAULT_PRECISION,
    check_precision,
    display_text,
    editor_text,
    significant,
)
from selfattn.provenance import RESULT_MATRICES, ROTATED
from selfattn.token_display import display_tokens

from . import commands
from .change import Change
from .document import Document
from .recompute import Recompute

Index = QModelIndex | QPersistentModelIndex
ArrayGetter = Callable[[], np.ndarray | None]
LabelGetter = Callable[[], Sequence[str]]

_MASKED_BRUSH = QBrush(QColor(128, 128, 128, 60))
_COLOR_ROLES = (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole)
# The float behind a cell, for delegates that fit the number into its column.
VALUE_ROLE = Qt.ItemDataRole.UserRole + 1
# True while a refused edit's cell is outlined (the delegate draws a red frame).
REFUSED_ROLE = Qt.ItemDataRole.UserRole + 2
REFUSAL_OUTLINE_MS = 1800  # long enough to see where, short enough not to linger
_ALIGN_ROLE = Qt.ItemDataRole.TextAlignmentRole
_RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_VALUE_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.EditRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.BackgroundRole,
        VALUE_ROLE,
        REFUSED_ROLE,
    }
)
Cell = tuple[int, int]


def format_number(value: float, digits: int = 6) -> str:
    """Short display text; the full repr is in the tooltip and the editor."""
    return significant(value, digits)


def exact_text(value: float) -> str:
    """The shortest text that reads back to the same float (what the editor shows)."""
    return editor_text(value)


class MatrixModel(QAbstractTableModel):
    """A 2-D array of the document as a table (queries/rows down, columns across)."""

    def __init__(
        self,
        changed: SignalInstance,
        array: ArrayGetter,
        row_labels: LabelGetter,
        col_labels: LabelGetter,
        *,
        document: Document | None = None,
        key: str | None = None,
        depends_on: Callable[[Change], bool] | None = None,
        col_tips: LabelGetter | None = None,
        parent: QObject | None = None,
    ) -> None:
        """changed: the signal (with a Change) after which `array` holds other numbers.

        document and key: the document and input matrix this table edits; None for a
        read-only result table. col_tips: longer column names for the header tooltips
        (e.g. which query heads read a key/value head's block).
        """
        super().__init__(parent)
        self.document = document
        self._array = array
        self._row_labels = row_labels
        self._col_labels = col_labels
        # Labels are built once per change, not once per header cell Qt paints.
        self._label_cache: dict[int, Sequence[str]] = {}
        self.key = key if document is not None else None
        self._depends_on = depends_on
        self._col_tips = col_tips
        self._shape = self._current_shape()
        # (background, text) colours of a cell's value, for coloured tables (the pipeline)
        self.cell_colors: Callable[[float], tuple[QColor, QColor] | None] | None = None
        self.precision = DEFAULT_PRECISION  # selfattn.numbers.PRECISIONS; set_precision
        self._refusals: dict[Cell, str] = {}  # refused edits' reasons, until rewritten
        self._outlined: dict[Cell, int] = {}  # cells outlined now -> which refusal
        self._refusal_count = 0
        changed.connect(self._on_changed)

    # Qt model API -----------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._shape[0]

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._shape[1]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        # Qt asks for a dozen roles per painted cell: answer the others before any lookup.
        if role == _ALIGN_ROLE:
            return _RIGHT_ALIGNED
        coloured = self.cell_colors is not None and role in _COLOR_ROLES
        if (role not in _VALUE_ROLES and not coloured) or not index.isValid():
            return None
        a = self._array()
        if a is None or index.row() >= a.shape[0] or index.column() >= a.shape[1]:
            return None
        value = float(a[index.row(), index.column()])
        if role == Qt.ItemDataRole.DisplayRole:
            return display_text(value, self.precision)
        if role == VALUE_ROLE:
            return value
        if role == REFUSED_ROLE:
            return (index.row(), index.column()) in self._outlined
        if role == Qt.ItemDataRole.EditRole:
            return exact_text(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            row = self._header_label(Qt.Orientation.Vertical, index.row())
            col = self._header_label(Qt.Orientation.Horizontal, index.column())
            masked = " (masked)" if math.isinf(value) else ""
            tip = f"{row}, {col}: {exact_text(value)}{masked}"
            reason = self._refusals.get((index.row(), index.column()))
            return tip if reason is None else f"{tip}\n{reason}"
        if role == Qt.ItemDataRole.BackgroundRole and math.isinf(value):
            return _MASKED_BRUSH
        if self.cell_colors is not None and role in _COLOR_ROLES:
            colors = self.cell_colors(value)
            if colors is not None:
                return QBrush(colors[_COLOR_ROLES.index(role)])
        return None

    def setData(self, index: Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        doc, key = self.document, self.key
        if doc is None or key is None or role != Qt.ItemDataRole.EditRole:
            return False
        if not index.isValid():
            return False
        row, col = index.row(), index.column()
        if isinstance(value, int | float) and not isinstance(value, bool):
            block = np.array([[float(value)]])
            return self.attempt(row, col, lambda: commands.set_cells(doc, key, row, col, block))
        text = str(value)
        return self.attempt(row, col, lambda: commands.set_cell_text(doc, key, row, col, text))

    def attempt(self, row: int, col: int, edit: Callable[[], bool]) -> bool:
        """Run an edit starting at cell (row, col); if it is refused, show it there.

        The reason is what the document reports (its status-bar message).
        """
        doc = self.document
        if doc is None:
            return False
        reasons: list[str] = []

        def heard(text: str) -> None:  # the document's report of a refusal
            reasons.append(text)

        doc.message.connect(heard)
        try:
            accepted = edit()
        finally:
            doc.message.disconnect(heard)
        if accepted:
            self._forget_refusals(row, col, 1, 1)
        else:
            self.refuse(row, col, reasons[-1] if reasons else "Refused. The old value stays.")
        return accepted

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
        return base | Qt.ItemFlag.ItemIsEditable if self.key is not None else base

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        label = self._header_label(orientation, section)
        if (
            role == Qt.ItemDataRole.ToolTipRole
            and orientation == Qt.Orientation.Horizontal
            and self._col_tips is not None
        ):
            tips = self._col_tips()
            if 0 <= section < len(tips):
                return f"{label}: {tips[section]}"
        return label

    # Precision and refusals -------------------------------------------------
    def set_precision(self, precision: str) -> None:
        """Write every cell at one of selfattn.numbers.PRECISIONS (views re-fit columns)."""
        if check_precision(precision) == self.precision:
            return
        self.precision = precision
        rows, cols = self._shape
        if rows and cols:
            self.dataChanged.emit(
                self.index(0, 0), self.index(rows - 1, cols - 1), [Qt.ItemDataRole.DisplayRole]
            )

    def refuse(self, row: int, col: int, reason: str) -> None:
        """Show a refused edit at its cell: outlined for a moment, the reason in its tooltip."""
        cell = (row, col)
        self._refusals[cell] = reason
        self._refusal_count += 1
        self._outlined[cell] = token = self._refusal_count
        QTimer.singleShot(REFUSAL_OUTLINE_MS, self, lambda: self._end_outline(cell, token))
        self._emit_cell(cell)

    def refusal(self, row: int, col: int) -> str | None:
        """The reason the last edit of a cell was refused, until the cell is written."""
        return self._refusals.get((row, col))

    def _end_outline(self, cell: Cell, token: int) -> None:
        if self._outlined.get(cell) == token:  # not outlined again since
            del self._outlined[cell]
            self._emit_cell(cell)

    def _forget_refusals(self, row: int, col: int, rows: int, cols: int) -> None:
        """The cells of a block were written: their refusals are history."""
        for cell in [c for c in self._refusals if row <= c[0] < row + rows]:
            if col <= cell[1] < col + cols:
                del self._refusals[cell]
                self._outlined.pop(cell, None)
                self._emit_cell(cell)

    def _emit_cell(self, cell: Cell) -> None:
        if cell[0] < self._shape[0] and cell[1] < self._shape[1]:
            index = self.index(*cell)
            self.dataChanged.emit(index, index, [REFUSED_ROLE, Qt.ItemDataRole.ToolTipRole])

    # Helpers ----------------------------------------------------------------
    def array(self) -> np.ndarray | None:
        """The document's array behind this table (read-only)."""
        return self._array()

    def _header_label(self, orientation: Qt.Orientation, i: int) -> str:
        key = 0 if orientation == Qt.Orientation.Vertical else 1
        names = self._label_cache.get(key)
        if names is None:
            names = display_tokens((self._row_labels if key == 0 else self._col_labels)())
            self._label_cache[key] = names
        return str(names[i]) if 0 <= i < len(names) else str(i + 1)

    def _current_shape(self) -> tuple[int, int]:
        a = self._array()
        return (0, 0) if a is None else (int(a.shape[0]), int(a.shape[1]))

    def refresh(self) -> None:
        """Show other numbers of the same document (e.g. another head was selected)."""
        self._on_changed(Change(structure=True))

    def _on_changed(self, change: Change) -> None:
        if self._depends_on is not None and not self._depends_on(change):
            return
        self._label_cache.clear()
        shape = self._current_shape()
        if shape != self._shape:
            self.beginResetModel()
            self._shape = shape
            self._refusals.clear()  # another matrix: the cells they named are gone
            self._outlined.clear()
            self.endResetModel()
            return
        if shape == (0, 0):
            return
        if change.rect is not None and change.matrix == self.key and self.key is not None:
            r, c, rows, cols = change.rect
            self._forget_refusals(r, c, rows, cols)
            self.dataChanged.emit(self.index(r, c), self.index(r + rows - 1, c + cols - 1))
        else:
            self.dataChanged.emit(self.index(0, 0), self.index(shape[0] - 1, shape[1] - 1))
        if change.structure:
            self.headerDataChanged.emit(Qt.Orientation.Vertical, 0, shape[0] - 1)
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, shape[1] - 1)


def input_matrix_model(document: Document, key: str, parent: QObject | None = None) -> MatrixModel:
    """An editable table over one input matrix of the preset."""

    def array() -> np.ndarray | None:
        return edit.matrix_of(document.preset, key)

    def depends(change: Change) -> bool:
        return change.structure or change.matrix == key or change.matrix is None

    return MatrixModel(
        document.changed,
        array,
        lambda: input_row_labels(document, key),
        lambda: input_col_labels(document, key),
        document=document,
        key=key,
        depends_on=depends,
        col_tips=lambda: input_col_tips(document, key),
        parent=parent,
    )


def kv_col_tips(heads: int, kv_heads: int, d: int) -> list[str]:
    """Header tooltips of a grouped key/value matrix: which query heads read each block."""
    if kv_heads == heads:
        return []
    size = heads // kv_heads
    out = []
    for g in range(kv_heads):
        first, last = g * size + 1, (g + 1) * size
        readers = f"query head {first}" if size == 1 else f"query heads {first}..{last}"
        out += [f"key/value head {g + 1} of {kv_heads}, read by {readers}"] * d
    return out


def input_row_labels(document: Document, key: str) -> list[str]:
    p = document.preset
    if key == "inputs":
        return list(p.tokens)
    if key == "source_inputs":
        return list(p.source_tokens or ())
    if key in edit.BIAS_KEYS:
        return ["bias"]
    if key == "w_output":
        return head_col_labels("v", p.options.heads, p.d_v)
    return _dim_labels("x", p.d_model)


def input_col_tips(document: Document, key: str) -> list[str]:
    p = document.preset
    if key in ("w_key", "b_key"):
        return kv_col_tips(p.options.heads, p.kv_heads, p.d_k)
    if key in ("w_value", "b_value"):
        return kv_col_tips(p.options.heads, p.kv_heads, p.d_v)
    return []


def input_col_labels(document: Document, key: str) -> list[str]:
    p = document.preset
    h = p.options.heads
    if key in ("inputs", "source_inputs"):
        return _dim_labels("x", p.d_model)
    if key in ("w_query", "b_query"):
        return head_col_labels("q", h, p.d_k)
    # Keys and values have their own heads when grouped (kv_heads, preset version 2).
    if key in ("w_key", "b_key"):
        return kv_col_labels("k", h, p.kv_heads, p.d_k)
    if key in ("w_value", "b_value"):
        return kv_col_labels("v", h, p.kv_heads, p.d_v)
    width = p.w_output.shape[1] if p.w_output is not None else h * p.d_v
    return _dim_labels("o", width)


RESULT_KEYS = RESULT_MATRICES  # the result tables, in provenance's names
ROTATED_KEYS = ROTATED  # present only when RoPE is on
RESULT_TITLES = {
    "q": "Q",
    "k": "K",
    "v": "V",
    "q_rot": "Q rotated",
    "k_rot": "K rotated",
    "scores": "Raw scores",
    "scaled_scores": "Scaled scores",
    "weights": "Weights",
    "context": "Context",
    "output": "Output",
}


def result_model(
    results: Recompute, key: str, head: Callable[[], int], parent: QObject | None = None
) -> MatrixModel:
    """A read-only table over one matrix of the latest result (per-head ones follow `head`)."""

    def array() -> np.ndarray | None:
        r = results.result
        if key in r.PER_HEAD_FIELDS:
            h = min(max(head(), 0), r.heads - 1)
            return getattr(r, key)[h]
        return getattr(r, key)

    def rows() -> Sequence[str]:
        p = results.result_preset
        return p.key_tokens if key in ("k", "v", "k_rot") else p.tokens

    def cols() -> Sequence[str]:
        p = results.result_preset
        r = results.result
        if key in ("scores", "scaled_scores", "weights"):
            return p.key_tokens
        if key in ("q", "q_rot"):
            return head_col_labels("q", r.heads, r.d_k)
        if key in ("k", "k_rot"):
            return kv_col_labels("k", r.heads, r.kv_heads, r.d_k)
        if key == "v":
            return kv_col_labels("v", r.heads, r.kv_heads, r.d_v)
        if key == "context":
            return _dim_labels("c", r.d_v)
        return _dim_labels("o", r.output.shape[1])

    def tips() -> list[str]:
        r = results.result
        if key in ("k", "k_rot"):
            return kv_col_tips(r.heads, r.kv_heads, r.d_k)
        if key == "v":
            return kv_col_tips(r.heads, r.kv_heads, r.d_v)
        return []

    return MatrixModel(results.resultChanged, array, rows, cols, col_tips=tips, parent=parent)


class TokensModel(QAbstractTableModel):
    """Token labels (editable) and, for the key sequence, an "attend" checkbox (the key mask)."""

    LABEL, ATTEND = 0, 1

    def __init__(self, document: Document, which: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._doc = document
        self.which = which  # "tokens" (queries, and keys for self-attention) or "source_tokens"
        self._count = len(self._labels())
        document.changed.connect(self._on_changed)

    def _labels(self) -> tuple[str, ...]:
        p = self._doc.preset
        return p.tokens if self.which == "tokens" else (p.source_tokens or ())

    def _is_key_list(self) -> bool:
        p = self._doc.preset
        return (self.which == "source_tokens") == (p.source_inputs is not None)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 2

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._labels()):
            return None
        i = index.row()
        if index.column() == self.LABEL:
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
                return self._labels()[i]
            return None
        if not self._is_key_list():
            if role == Qt.ItemDataRole.DisplayRole:
                return "(query only)"
            return None
        mask = self._doc.preset.options.key_mask
        attend = True if mask is None else bool(mask[i])
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if attend else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DisplayRole:
            return "attend" if attend else "masked"
        if role == Qt.ItemDataRole.ToolTipRole:
            return "Untick to mask this key (padding): no query attends to it"
        return None

    def setData(self, index: Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.row() >= len(self._labels()):
            return False
        i = index.row()
        if index.column() == self.LABEL and role == Qt.ItemDataRole.EditRole:
            label = str(value).strip()
            if not label:
                self._doc.report("Refused: a token label cannot be empty")
                return False
            if label == self._labels()[i]:
                return True
            preset = edit.with_label(self._doc.preset, self.which, i, label)
            return commands.push_preset(self._doc, preset, f"Rename token {i + 1} to {label!r}")
        if (
            index.column() == self.ATTEND
            and role == Qt.ItemDataRole.CheckStateRole
            and self._is_key_list()
        ):
            attend = _is_checked(value)
            preset = edit.with_key_masked(self._doc.preset, i, attend)
            verb = "Unmask" if attend else "Mask"
            return commands.push_preset(
                self._doc, preset, f"{verb} key {self._labels()[i]!r}", structure=False
            )
        return False

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
        if index.column() == self.LABEL:
            return base | Qt.ItemFlag.ItemIsEditable
        if self._is_key_list():
            return base | Qt.ItemFlag.ItemIsUserCheckable
        return Qt.ItemFlag.ItemIsSelectable

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return ("token", "key mask")[section] if section < 2 else None
        return str(section + 1)

    def _on_changed(self, change: Change) -> None:
        count = len(self._labels())
        if count != self._count:
            self.beginResetModel()
            self._count = count
            self.endResetModel()
        elif count:
            self.dataChanged.emit(self.index(0, 0), self.index(count - 1, 1))


def _is_checked(value: object) -> bool:
    if isinstance(value, Qt.CheckState):
        return value == Qt.CheckState.Checked
    return value in (2, Qt.CheckState.Checked.value, True)
