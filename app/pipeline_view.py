"""The pipeline view: every step of the layer at once, left to right, wrapping when narrow.

X → Q, K, V → raw scores → scaled scores → weights → context → output. A matrix up
to SMALL x SMALL cells is a compact coloured table with its numbers (the same
MatrixModel as the Results tables, so the same precision and tooltips: the view
state's number precision, the full value in every tooltip); a larger one
is a thumbnail picture. Clicking any cell focuses it (Highlights): Explain
explains it and the cells it depends on, or feeds, are outlined here and in the
tables. The numbers come from the document's result; the view computes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QModelIndex, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from selfattn.attention import AttentionResult

from .change import Change
from .document import Document
from .heatmap.colors import DIVERGING_COLORMAP, SEQUENTIAL_COLORMAPS, lut
from .highlights import Highlights
from .matrix_model import MatrixModel, input_matrix_model, result_model
from .recompute import Recompute
from .table_view import MatrixTableView
from .view_state import ViewState

SMALL = 16  # a matrix up to SMALL x SMALL cells shows its numbers; beyond, a thumbnail
COLUMN_SLACK = 16  # pixels beside a column's widest text: Qt's margins, never an elided number
THUMBNAIL = 160  # the longer side of a thumbnail, in pixels
# (matrix, title) in pipeline order; the rotated and source stages only when present.
STAGES = (
    ("inputs", "X"),
    ("source_inputs", "Xs (source)"),
    ("q", "Q = X·W_Q"),
    ("k", "K = X·W_K"),
    ("v", "V = X·W_V"),
    ("q_rot", "Q rotated"),
    ("k_rot", "K rotated"),
    ("scores", "Raw scores Q·Kᵀ"),
    ("scaled_scores", "Scaled scores"),
    ("weights", "Weights (softmax)"),
    ("context", "Context = weights·V"),
    ("output", "Output"),
)
PER_HEAD = AttentionResult.PER_HEAD_FIELDS
ColorsOf = Callable[[float], tuple[QColor, QColor] | None]


def is_small(preset_rows: int, keys: int, width: int) -> bool:
    """A preset small enough that the pipeline shows every number (the default centre view)."""
    return preset_rows <= SMALL and keys <= SMALL and width <= SMALL


class FlowLayout(QLayout):
    """Lays its items out left to right and wraps them onto the next line when narrow."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 8) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # type: ignore[override]
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # type: ignore[override]
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _arrange(self, rect: QRect, move: bool) -> int:
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line_height = area.x(), area.y(), 0
        for item in self._items:
            hint = item.sizeHint()
            if x + hint.width() > area.right() + 1 and line_height > 0:
                x, y = area.x(), y + line_height + self._spacing
                line_height = 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._spacing
            line_height = max(line_height, hint.height())
        return y + line_height - rect.y() + m.bottom()


def value_colors(matrix: str, array: Callable[[], np.ndarray | None], dark: bool) -> ColorsOf:
    """Background and text colour of a cell: weights on 0..1 (viridis), the rest on a
    blue-white-red map symmetric around 0 (scaled by the matrix's largest magnitude)."""
    table = lut(SEQUENTIAL_COLORMAPS[0] if matrix == "weights" else DIVERGING_COLORMAP)
    del dark  # the colours carry their own text colour, so they read on either theme

    def colors(value: float) -> tuple[QColor, QColor] | None:
        if not np.isfinite(value):
            return None
        if matrix == "weights":
            t = min(max(value, 0.0), 1.0)
        else:
            a = array()
            finite = a[np.isfinite(a)] if a is not None else np.zeros(0)
            top = float(np.max(np.abs(finite), initial=0.0))
            t = 0.5 if top == 0 else 0.5 + 0.5 * value / top
        r, g, b, _alpha = (int(v) for v in table[min(int(t * 255.999), 255)])
        back = QColor(r, g, b)
        text = QColor(0, 0, 0) if back.lightnessF() > 0.55 else QColor(255, 255, 255)
        return back, text

    return colors


def thumbnail_rgb(matrix: str, values: np.ndarray) -> np.ndarray:
    """(rows, cols, 3) uint8 colours of a matrix, as value_colors colours each cell; grey
    where masked (vectorised: a thumbnail stands for a large matrix)."""
    table = lut(SEQUENTIAL_COLORMAPS[0] if matrix == "weights" else DIVERGING_COLORMAP)
    finite = np.isfinite(values)
    clean = np.where(finite, values, 0.0)
    if matrix == "weights":
        t = np.clip(clean, 0.0, 1.0)
    else:
        top = float(np.max(np.abs(clean), initial=0.0))
        t = np.full(values.shape, 0.5) if top == 0 else 0.5 + 0.5 * clean / top
    index = np.minimum((t * 255.999).astype(np.int64), 255)
    rgb = np.ascontiguousarray(table[index][..., :3], dtype=np.uint8)
    rgb[~finite] = 128
    return rgb


class Thumbnail(QLabel):
    """A large matrix as a picture, one pixel block per cell; a click focuses that cell."""

    def __init__(
        self, matrix: str, array: Callable[[], np.ndarray | None], click: Callable[[int, int], None]
    ) -> None:
        super().__init__()
        self._matrix = matrix
        self._array = array
        self._click = click
        self._shape = (0, 0)
        self.setToolTip("Too large for numbers here: click a cell to explain it")
        self.redraw()

    def redraw(self) -> None:
        a = self._array()
        if a is None or a.size == 0:
            self.clear()
            return
        self._shape = (int(a.shape[0]), int(a.shape[1]))
        rows, cols = self._shape
        small = np.asarray(a, dtype=np.float64)[
            :: max(rows // THUMBNAIL, 1), :: max(cols // THUMBNAIL, 1)
        ]
        rgb = thumbnail_rgb(self._matrix, small)
        height, width = rgb.shape[:2]
        image = QImage(rgb.tobytes(), width, height, 3 * width, QImage.Format.Format_RGB888)
        scale = max(1, THUMBNAIL // max(height, width))
        pixmap = QPixmap.fromImage(image.copy()).scaled(
            width * scale, height * scale, Qt.AspectRatioMode.IgnoreAspectRatio
        )
        self.setPixmap(pixmap)
        self.setFixedSize(pixmap.size())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        rows, cols = self._shape
        if rows and cols and self.width() and self.height():
            row = min(int(event.position().y() * rows / self.height()), rows - 1)
            col = min(int(event.position().x() * cols / self.width()), cols - 1)
            self._click(row, col)
        super().mousePressEvent(event)


class Card(QWidget):
    """One step: an arrow from the step before (none for the first), then its title over
    its compact table (or thumbnail). Arrow and step wrap together, never apart."""

    def __init__(self, title: str, body: QWidget, arrow: bool) -> None:
        super().__init__()
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        if arrow:
            pointer = QLabel("→")
            pointer.setStyleSheet("font-size: 20px;")
            outer.addWidget(pointer, 0, Qt.AlignmentFlag.AlignVCenter)
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        self.title = QLabel(f"<b>{title}</b>")
        layout.addWidget(self.title)
        layout.addWidget(body)
        outer.addWidget(frame)
        self.body = body
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)


class CompactTable(MatrixTableView):
    """A table as large as its cells: no scroll bars, every column as wide as its numbers."""

    def fit_columns(
        self, first: QModelIndex | None = None, last: QModelIndex | None = None
    ) -> None:
        """Every column (a compact table is small), whatever changed."""
        del first, last
        model = self.model()
        if model is None or model.rowCount() > SMALL or model.columnCount() > SMALL:
            return  # grown past a compact table: the pipeline is about to rebuild it
        metrics = self.fontMetrics()
        for column in range(model.columnCount()):
            texts = [str(model.index(r, column).data() or "") for r in range(model.rowCount())]
            texts.append(str(model.headerData(column, Qt.Orientation.Horizontal) or ""))
            widest = max(metrics.horizontalAdvance(t) for t in texts)
            self.setColumnWidth(column, widest + COLUMN_SLACK)
        width = self.verticalHeader().sizeHint().width() + 2 * self.frameWidth()
        width += sum(self.columnWidth(c) for c in range(model.columnCount()))
        height = self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth()
        height += sum(self.rowHeight(r) for r in range(model.rowCount()))
        self.setFixedSize(width, height)


def compact_table(model: MatrixModel) -> MatrixTableView:
    """A compact, read-only table over `model` (which it owns)."""
    view = CompactTable()
    view.setModel(model)
    model.setParent(view)  # rebuilt together: no model outlives its table
    view.setAlternatingRowColors(False)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.set_row_height(22)
    view.fit_columns()
    return view


class PipelineView(QScrollArea):
    """Every matrix of the layer, in the order it is computed; see the module docstring."""

    def __init__(
        self,
        document: Document,
        results: Recompute,
        view_state: ViewState,
        highlights: Highlights,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._results = results
        self._state = view_state
        self._highlights = highlights
        self.setWidgetResizable(True)
        self.cards: dict[str, Card] = {}
        self._signature: tuple[tuple[str, bool], ...] = ()
        self._stale = False
        self._rebuild()
        results.resultChanged.connect(self._on_result_changed)
        view_state.headChanged.connect(lambda _head: self._on_head_changed())

    # What is shown ------------------------------------------------------------
    def _array_getter(self, matrix: str) -> Callable[[], np.ndarray | None]:
        def array() -> np.ndarray | None:
            if matrix in ("inputs", "source_inputs"):
                return getattr(self._results.result_preset, matrix)
            r = self._results.result
            a = getattr(r, matrix)
            if a is not None and matrix in PER_HEAD:
                return a[min(self._state.head, r.heads - 1)]
            return a

        return array

    def _wanted(self) -> tuple[tuple[str, bool], ...]:
        """(matrix, shown as numbers?) of every stage the result has."""
        out = []
        for matrix, _title in STAGES:
            a = self._array_getter(matrix)()
            if a is not None:
                out.append((matrix, a.shape[0] <= SMALL and a.shape[1] <= SMALL))
        return tuple(out)

    def _title(self, matrix: str, title: str) -> str:
        r = self._results.result
        if matrix in PER_HEAD and r.heads > 1:
            return f"{title} · head {min(self._state.head, r.heads - 1) + 1}"
        return title

    def _rebuild(self) -> None:
        self._signature = self._wanted()
        content = QWidget()
        flow = FlowLayout(content)
        flow.setContentsMargins(8, 8, 8, 8)
        self.cards = {}
        titles = dict(STAGES)
        for index, (matrix, numbers) in enumerate(self._signature):
            body = self._body(matrix, numbers)
            card = Card(self._title(matrix, titles[matrix]), body, arrow=index > 0)
            card.setParent(content)
            flow.addWidget(card)
            self.cards[matrix] = card
        self.setWidget(content)

    def _body(self, matrix: str, numbers: bool) -> QWidget:
        array = self._array_getter(matrix)
        if not numbers:
            return Thumbnail(matrix, array, lambda r, c: self._highlights.focus_cell(matrix, r, c))
        if matrix in ("inputs", "source_inputs"):
            model = input_matrix_model(self._document, matrix)
        else:
            model = result_model(self._results, matrix, lambda: self._state.head)
        model.cell_colors = value_colors(matrix, array, False)
        view = compact_table(model)
        view.follow_precision(self._state)  # columns re-fit when the precision changes
        view.set_highlights(self._highlights, matrix, lambda: self._state.head)
        return view

    # Following the document -------------------------------------------------------
    def _on_result_changed(self, _change: Change) -> None:
        if not self.isVisible():
            self._stale = True  # redrawn when shown: a hidden pipeline costs no edit time
            return
        self._refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._refresh()

    def _refresh(self) -> None:
        self._stale = False
        if self._wanted() != self._signature:
            self._rebuild()
            return
        for card in self.cards.values():
            if isinstance(card.body, Thumbnail):
                card.body.redraw()

    def _on_head_changed(self) -> None:
        titles = dict(STAGES)
        for matrix, card in self.cards.items():
            if matrix not in PER_HEAD:
                continue
            card.title.setText(f"<b>{self._title(matrix, titles[matrix])}</b>")
            if isinstance(card.body, Thumbnail):
                card.body.redraw()
            elif isinstance(card.body, MatrixTableView):
                card.body.matrix_model().refresh()

    def table(self, matrix: str) -> MatrixTableView | None:
        """The compact table of one step (None when it is a thumbnail or absent)."""
        card = self.cards.get(matrix)
        return card.body if card is not None and isinstance(card.body, MatrixTableView) else None
