"""The Atlas view: every layer and head of a real model at once (DESIGN.md "Model atlas").

The grid of layers (rows) x heads (columns) is ONE RGB image in one pyqtgraph
ImageItem (SmolLM2 has 270 heads: hundreds of plot items would not stay fast),
coloured with selfattn.png's map over 0..1 like `selfattn atlas --png`. A metric
chooser ranks the heads: the top ones are outlined on the grid, every head's
values sit in a sortable table beside it, and the hover readout names the value.
Below the table, the attention rollout. A click on a head opens it as an ordinary
preset (one undo step, like File > Load from model).

The forward pass runs on the window's worker thread; `selfattn.atlas.build_atlas`
reports each layer through its `on_layer` callback, which drives the progress bar
and cancels by raising. A cancelled or failed run leaves the view as it was.
"""

from __future__ import annotations

import ast
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from selfattn.atlas import METRIC_HELP, METRICS, Atlas, build_atlas, top_heads
from selfattn.atlas_picture import MAX_THUMB, block_mean
from selfattn.models.origin import ModelOrigin, origin_of
from selfattn.png import colormap
from selfattn.preset import Preset

from .atlas_export import export_dialog
from .heatmap import HeatmapView
from .worker import Background

TOP_COUNT = 10  # heads outlined on the grid for the chosen metric
BACKGROUND = 255
HIGHLIGHT = (255, 64, 0)
BUNDLED_BY_NAME: dict[str, str | None] = {
    "all-MiniLM-L6-v2": None,  # selfattn.models' name for the bundled BERT
    "SmolLM2-135M-Instruct": "smollm2",
}
ModelArg = str | Path | None


class AtlasCancelled(Exception):
    """Raised from the on_layer callback to stop a forward pass."""


# Which model and text a preset came from ------------------------------------------


_MODEL_RE = re.compile(r"^Model: (.+?) \(")
_TEXT_RE = re.compile(r"Text: ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") \(")


def model_preset_source(preset: Preset) -> tuple[str, str] | None:
    """(model name, text) of a preset made by Load from model, read from its description.

    The text is a Python string literal there; ast.literal_eval reads literals only,
    it never runs anything. None for a preset that did not come from a model.
    """
    description = preset.description or ""
    model = _MODEL_RE.match(description)
    text = _TEXT_RE.search(description)
    if model is None or text is None:
        return None
    try:
        value = ast.literal_eval(text.group(1))
    except (ValueError, SyntaxError):
        return None
    return (model.group(1), value) if isinstance(value, str) else None


# The grid picture ---------------------------------------------------------------------


@dataclass(frozen=True)
class GridGeometry:
    """Thumbnail (layer l, head h), from 0, has its top-left pixel at (l * pitch, h * pitch),
    is `cells` pixels square, and each pixel is the mean of a block x block square."""

    layers: int
    heads: int
    tokens: int
    cells: int
    pitch: int
    block: int

    def head_at(self, x: float, y: float) -> tuple[int, int, int, int] | None:
        """(layer, head, row, col) under image coordinates (x, y), or None (a gap, outside)."""
        if x < 0 or y < 0:
            return None
        head, col = divmod(int(x), self.pitch)
        layer, row = divmod(int(y), self.pitch)
        if head >= self.heads or layer >= self.layers or col >= self.cells or row >= self.cells:
            return None
        return layer, head, row, col


def grid_geometry(layers: int, heads: int, tokens: int) -> GridGeometry:
    block = max(1, math.ceil(tokens / MAX_THUMB))
    cells = -(-tokens // block)
    gap = max(2, cells // 10)
    return GridGeometry(layers, heads, tokens, cells, cells + gap, block)


def grid_pixels(attentions: np.ndarray) -> tuple[np.ndarray, GridGeometry]:
    """RGB uint8 pixels of every head's weights (L, H, n, n), one pixel per (block of) weight."""
    n_layers, n_heads, n, _ = attentions.shape
    geo = grid_geometry(n_layers, n_heads, n)
    height = n_layers * geo.pitch - (geo.pitch - geo.cells)
    width = n_heads * geo.pitch - (geo.pitch - geo.cells)
    image = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    for layer in range(n_layers):
        for head in range(n_heads):
            cells = block_mean(attentions[layer, head].astype(np.float64), geo.block)
            y, x = layer * geo.pitch, head * geo.pitch
            image[y : y + geo.cells, x : x + geo.cells] = colormap(cells, 0.0, 1.0)
    return image, geo


class AtlasGrid(pg.GraphicsLayoutWidget):
    """The layers x heads picture: one ImageItem, labelled axes, the top heads outlined."""

    headClicked = Signal(int, int)  # (layer, head), from 0
    hovered = Signal(object)  # (layer, head, row, col) or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.plot = self.addPlot()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.showAxis("top")
        self.plot.hideAxis("bottom")
        self.plot.setLabel("top", "head")
        self.plot.setLabel("left", "layer")
        self.plot.vb.invertY(True)  # layer 1 on top
        self.plot.vb.setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.outline = pg.PlotCurveItem(pen=pg.mkPen(HIGHLIGHT, width=2), connect="finite")
        self.selection = pg.PlotCurveItem(pen=pg.mkPen((0, 0, 0), width=3), connect="finite")
        self.plot.addItem(self.outline)
        self.plot.addItem(self.selection)
        self.rank_labels: list[pg.TextItem] = []
        self.geometry_: GridGeometry | None = None
        self.scene().sigMouseMoved.connect(self._on_moved)
        self.scene().sigMouseClicked.connect(self._on_clicked)

    def set_atlas(self, attentions: np.ndarray) -> None:
        pixels, geo = grid_pixels(attentions)
        self.geometry_ = geo
        self.image.setImage(pixels, autoLevels=False, levels=(0, 255))
        self.plot.getAxis("left").setTicks(
            [[(layer * geo.pitch + geo.cells / 2, str(layer + 1)) for layer in range(geo.layers)]]
        )
        self.plot.getAxis("top").setTicks(
            [[(head * geo.pitch + geo.cells / 2, str(head + 1)) for head in range(geo.heads)]]
        )
        self.plot.vb.setRange(
            xRange=(0, pixels.shape[1]), yRange=(0, pixels.shape[0]), padding=0.01
        )
        self.select(None)

    def _rectangles(self, heads: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """x, y of the outlines of `heads` (from 0), NaN between them (one curve draws all)."""
        geo = self.geometry_
        assert geo is not None
        xs: list[float] = []
        ys: list[float] = []
        pad = (geo.pitch - geo.cells) / 2
        for layer, head in heads:
            x0, y0 = head * geo.pitch - pad, layer * geo.pitch - pad
            x1, y1 = x0 + geo.cells + 2 * pad, y0 + geo.cells + 2 * pad
            xs += [x0, x1, x1, x0, x0, math.nan]
            ys += [y0, y0, y1, y1, y0, math.nan]
        return np.asarray(xs), np.asarray(ys)

    def highlight(self, ranked: list[tuple[int, int]]) -> None:
        """Outline the heads `ranked` (from 0, best first) and number them."""
        for item in self.rank_labels:
            self.plot.removeItem(item)
        self.rank_labels = []
        if self.geometry_ is None or not ranked:
            self.outline.setData([], [])
            return
        self.outline.setData(*self._rectangles(ranked))
        geo = self.geometry_
        for rank, (layer, head) in enumerate(ranked, start=1):
            label = pg.TextItem(str(rank), color=(0, 0, 0), fill=pg.mkBrush(255, 255, 255, 200))
            label.setPos(head * geo.pitch, layer * geo.pitch)
            self.plot.addItem(label)
            self.rank_labels.append(label)

    def select(self, head: tuple[int, int] | None) -> None:
        if head is None or self.geometry_ is None:
            self.selection.setData([], [])
        else:
            self.selection.setData(*self._rectangles([head]))

    def _under(self, scene_pos: QPointF) -> tuple[int, int, int, int] | None:
        if self.geometry_ is None or not self.plot.vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.plot.vb.mapSceneToView(scene_pos)
        return self.geometry_.head_at(p.x(), p.y())

    def _on_moved(self, scene_pos: QPointF) -> None:
        self.hovered.emit(self._under(scene_pos))

    def _on_clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        under = self._under(event.scenePos())
        if under is not None:
            self.headClicked.emit(under[0], under[1])


# The table of heads -------------------------------------------------------------------


class HeadsTableModel(QAbstractTableModel):
    """One row per head: layer, head (from 1) and every metric; sorts on the numbers."""

    COLUMNS = ("layer", "head", *METRICS)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._values = np.zeros((0, len(self.COLUMNS)))

    def set_atlas(self, atlas: Atlas | None) -> None:
        self.beginResetModel()
        if atlas is None:
            self._values = np.zeros((0, len(self.COLUMNS)))
        else:
            layers, heads = np.meshgrid(
                np.arange(1, atlas.n_layers + 1), np.arange(1, atlas.n_heads + 1), indexing="ij"
            )
            columns = [layers.ravel(), heads.ravel()]
            columns += [atlas.metrics[m].ravel() for m in METRICS]
            self._values = np.stack(columns, axis=1).astype(np.float64)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._values)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def head_of_row(self, row: int) -> tuple[int, int]:
        """(layer, head) from 0 of a source row."""
        return int(self._values[row, 0]) - 1, int(self._values[row, 1]) - 1

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        value = float(self._values[index.row(), index.column()])
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() < 2:
                return str(int(value))
            return "" if math.isnan(value) else f"{value:.4f}"
        if role == Qt.ItemDataRole.UserRole:  # the sort key: undefined sorts lowest
            return -math.inf if math.isnan(value) else value
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return METRIC_HELP.get(self.COLUMNS[section], "")
        return None


# The view -----------------------------------------------------------------------------


class AtlasView(QWidget):
    """Grid, metric chooser, table and rollout of one model and text; runs on `background`.

    `open_preset(preset)` makes a clicked head the window's preset (one undo step).
    """

    message = Signal(str)
    finished = Signal()  # an atlas is shown (tests, benchmarks)
    headOpened = Signal()  # a clicked head became the window's preset
    _progress = Signal(int, int, int)  # (run, layers done, layers) from the worker

    def __init__(
        self,
        background: Background,
        open_preset: Callable[[Preset, ModelOrigin | None], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._background = background
        self._open_preset = open_preset
        self.atlas: Atlas | None = None
        self.model: ModelArg = None  # the model of the shown atlas
        self.text = ""
        self._run = 0
        self._cancel: threading.Event | None = None
        self._opening = 0
        self._progress.connect(self._on_progress)

        self.title = QLabel("File → Load from model… → whole model (atlas), or the Atlas button")
        self.title.setWordWrap(True)
        self.metric_combo = QComboBox()
        for name in METRICS:
            self.metric_combo.addItem(name, name)
            self.metric_combo.setItemData(
                self.metric_combo.count() - 1, METRIC_HELP[name], Qt.ItemDataRole.ToolTipRole
            )
        self.metric_combo.setCurrentText("previous_token")
        self.metric_combo.setToolTip("Rank the heads by this metric: the top ones are outlined")
        self.metric_combo.currentIndexChanged.connect(lambda _i: self._show_ranking())
        self.progress = QProgressBar()
        self.progress.setFormat("layer %v of %m")
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Write heads.csv, rollout.csv, atlas.png and atlas.svg to a folder"
        )
        self.export_button.clicked.connect(lambda: export_dialog(self, self.atlas))

        self.grid = AtlasGrid()
        self.grid.headClicked.connect(self.open_head)
        self.grid.hovered.connect(self._on_hovered)
        self.table_model = HeadsTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.table_model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip("Double-click a head to open it as a preset")
        self.table.clicked.connect(lambda index: self.grid.select(self._table_head(index)))
        self.table.doubleClicked.connect(lambda index: self.open_head(*self._table_head(index)))
        self.rollout = HeatmapView()
        self.hover_label = QLabel(" ")
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(QLabel("rank by"))
        top.addWidget(self.metric_combo)
        top.addWidget(self.progress)
        top.addWidget(self.cancel_button)
        top.addWidget(self.export_button)
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.table)
        side.addWidget(self.rollout)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.grid)
        split.addWidget(side)
        side.setSizes([300, 300])
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addWidget(self.hover_label)

    # Running --------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._cancel is not None

    def start(self, model: ModelArg, text: str) -> None:
        """Compute the atlas of `model` for `text` on the worker; the old one stays shown."""
        self.cancel()
        self._run += 1
        run = self._run
        cancel = threading.Event()
        self._cancel = cancel

        def on_layer(done: int, total: int) -> None:
            if cancel.is_set():
                raise AtlasCancelled
            self._progress.emit(run, done, total)

        def job() -> Atlas:
            if cancel.is_set():
                raise AtlasCancelled
            return build_atlas(model, text, on_layer=on_layer)

        def done(atlas: Atlas) -> None:
            if run == self._run:
                self._finish_run()
                self._show(atlas, model, text)

        def failed(exc: BaseException) -> None:
            if run != self._run:
                return
            self._finish_run()
            if isinstance(exc, AtlasCancelled):
                self.message.emit("Atlas cancelled; nothing changed")
            else:
                self.message.emit(f"Cannot make the atlas: {exc}")
                self.hover_label.setText(f"⚠ {exc}")

        self.progress.setRange(0, 0)  # busy until the first layer reports
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.message.emit("Running the model for the atlas…")
        self._background.submit(job, done, failed)

    def cancel(self) -> None:
        """Stop the running forward pass at its next layer; the shown atlas stays."""
        if self._cancel is not None:
            self._cancel.set()
            self._run += 1  # its answer, if any, is dropped
            self._finish_run()
            self.message.emit("Atlas cancelled; nothing changed")

    def _finish_run(self) -> None:
        self._cancel = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    def _on_progress(self, run: int, done: int, total: int) -> None:
        if run == self._run:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    # Showing --------------------------------------------------------------------------
    def show_computed(self, atlas: Atlas, model: ModelArg, text: str) -> None:
        """Show an atlas made elsewhere (a generation step's recorded attention)."""
        self._show(atlas, model, text)

    def _show(self, atlas: Atlas, model: ModelArg, text: str) -> None:
        self.atlas, self.model, self.text = atlas, model, text
        n = len(atlas.tokens)
        self.title.setText(
            f"<b>{atlas.model}</b>: {atlas.n_layers} layers × {atlas.n_heads} heads, "
            f"{n} tokens — click a head to open it as a preset"
        )
        self.title.setToolTip(atlas.source)
        self.grid.set_atlas(atlas.attentions)
        self.table_model.set_atlas(atlas)
        self.rollout.set_matrix(
            atlas.rollout,
            atlas.tokens,
            atlas.tokens,
            kind="weights",
            title="Attention rollout R_L (Abnar & Zuidema)",
        )
        self._show_ranking()
        self.hover_label.setText(" ")
        self.message.emit(f"Atlas of {atlas.model}: {atlas.n_layers * atlas.n_heads} heads")
        self.finished.emit()

    def chosen_metric(self) -> str:
        return str(self.metric_combo.currentData())

    def ranked_heads(self) -> list[tuple[int, int]]:
        """The TOP_COUNT best heads of the chosen metric, (layer, head) from 0."""
        if self.atlas is None:
            return []
        return [
            (l_ - 1, h - 1) for l_, h, _ in top_heads(self.atlas, self.chosen_metric(), TOP_COUNT)
        ]

    def _show_ranking(self) -> None:
        if self.atlas is None:
            return
        self.grid.highlight(self.ranked_heads())
        column = HeadsTableModel.COLUMNS.index(self.chosen_metric())
        header = self.table.horizontalHeader()
        header.moveSection(header.visualIndex(column), 2)  # beside layer and head, in view
        self.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
        self.table.scrollToTop()

    def _table_head(self, index: QModelIndex) -> tuple[int, int]:
        return self.table_model.head_of_row(self.proxy.mapToSource(index).row())

    def hover_text(self, layer: int, head: int, row: int, col: int) -> str:
        """What the readout says about one pixel of the grid."""
        assert self.atlas is not None
        metric = self.chosen_metric()
        value = float(self.atlas.metrics[metric][layer, head])
        shown = "undefined" if math.isnan(value) else f"{value:.4f}"
        text = f"layer {layer + 1}, head {head + 1} — {metric} {shown}"
        block = self.grid.geometry_.block if self.grid.geometry_ else 1
        tokens = self.atlas.tokens
        if block == 1:
            weight = float(self.atlas.attentions[layer, head, row, col])
            text += f"; query {tokens[row]!r} → key {tokens[col]!r}: {weight:.4f}"
        return text

    def _on_hovered(self, under: tuple[int, int, int, int] | None) -> None:
        if under is None or self.atlas is None:
            self.hover_label.setText(" ")
        else:
            self.hover_label.setText(self.hover_text(*under))

    # Opening a head -------------------------------------------------------------------
    def open_head(self, layer: int, head: int) -> None:
        """Open head (layer, head), from 0, as a preset with the atlas's text (worker)."""
        from selfattn.models import preset_from_model

        if self.atlas is None:
            return
        self.grid.select((layer, head))
        model, text = self.model, self.text
        self._opening += 1
        opening = self._opening

        def done(preset: Preset) -> None:
            if opening == self._opening:
                self._open_preset(preset, origin_of(model, layer + 1, head + 1, text))
                self.headOpened.emit()

        def failed(exc: BaseException) -> None:
            self.message.emit(f"Cannot open layer {layer + 1} head {head + 1}: {exc}")

        self.message.emit(f"Opening layer {layer + 1}, head {head + 1}…")
        self._background.submit(
            lambda: preset_from_model(model, layer + 1, head + 1, text), done, failed
        )
