"""Inputs panel: dimensions, optional parts, and editable tables for X, weights, biases, source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from selfattn import edit

from .. import commands
from ..change import Change
from ..document import Document
from ..matrix_model import TokensModel, input_matrix_model
from ..table_view import MatrixTableView
from ..undo_keys import route_undo_keys
from .checked_spin import CheckedSpinBox
from .fills import fill_matrix, import_matrix_csv

MAX_TOKENS_UI = 8192
MAX_WIDTH_UI = 4096


class InputsPanel(QWidget):
    """Everything a person types: dimensions, token labels, X, W_Q, W_K, W_V, W_O, biases, Xs."""

    message = Signal(str)
    activeTableChanged = Signal(object)  # the MatrixTableView now in front

    def __init__(
        self,
        document: Document,
        parent: QWidget | None = None,
        folder: Callable[[], str] = lambda: str(Path.home()),
    ) -> None:
        super().__init__(parent)
        self._doc = document
        self._folder = folder  # where file dialogs start
        self._updating = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        dims = QGridLayout()
        self.spin_tokens = self._spin(
            "tokens", 1, MAX_TOKENS_UI, "Number of query tokens n (rows of X)"
        )
        self.spin_d_model = self._spin(
            "d_model", 1, MAX_WIDTH_UI, "Embedding width d_model (columns of X)"
        )
        self.spin_d_k = self._spin("d_k", 1, MAX_WIDTH_UI, "Query/key width per head d_k")
        self.spin_d_v = self._spin("d_v", 1, MAX_WIDTH_UI, "Value width per head d_v")
        self.spin_heads = self._spin("heads", 1, 256, "Number of heads H (W_Q has H*d_k columns)")
        self.spin_source = self._spin(
            "source", 1, MAX_TOKENS_UI, "Number of source tokens m (keys)"
        )
        self.spin_kv_heads = self._spin(
            "kv heads",
            1,
            256,
            "Key/value heads G (grouped-query attention): W_K and W_V have G blocks;\n"
            "query head h reads key/value head h // (H/G). G = H: one per head.",
        )
        for row, pairs in enumerate(
            (
                (("tokens", self.spin_tokens), ("d_model", self.spin_d_model)),
                (("heads", self.spin_heads), ("kv heads", self.spin_kv_heads)),
                (("d_k", self.spin_d_k), ("d_v", self.spin_d_v)),
            )
        ):
            for col, (label, spin) in enumerate(pairs):
                dims.addWidget(QLabel(label), row, 2 * col)
                dims.addWidget(spin, row, 2 * col + 1)
        dims.addWidget(QLabel("source"), 0, 4)
        dims.addWidget(self.spin_source, 0, 5)
        layout.addLayout(dims)

        parts = QHBoxLayout()
        self.check_output = QCheckBox("W_O")
        self.check_output.setToolTip("Output projection: output = concat(heads) W_O + b_O")
        self.check_biases = QCheckBox("biases")
        self.check_biases.setToolTip("Bias vectors b_Q, b_K, b_V (and b_O)")
        self.check_source = QCheckBox("cross-attention")
        self.check_source.setToolTip("Keys and values come from a separate source sequence Xs")
        for box in (self.check_output, self.check_biases, self.check_source):
            parts.addWidget(box)
            box.toggled.connect(self._on_part_toggled)
        parts.addStretch(1)
        layout.addLayout(parts)

        self.tabs = QTabWidget()
        self.tabs.setStyleSheet("QTabBar::tab { padding: 3px 8px 5px 8px; }")  # room for "_"
        layout.addWidget(self.tabs, 1)
        self.tables: dict[str, MatrixTableView] = {}
        self.tokens_view = QTableView()
        self.tokens_model = TokensModel(document, "tokens", self)
        self._setup_tokens_view(self.tokens_view, self.tokens_model)
        self.source_tokens_view = QTableView()
        self.source_tokens_model = TokensModel(document, "source_tokens", self)
        self._setup_tokens_view(self.source_tokens_view, self.source_tokens_model)
        for key in edit.MATRIX_KEYS:
            view = MatrixTableView()
            view.setModel(input_matrix_model(document, key, self))
            view.message.connect(self.message)
            self.tables[key] = view
        self._biases_page = self._make_biases_page()
        self._source_page = self._tab_page(
            ("Source tokens (keys) and key mask", self.source_tokens_view),
            ("Xs: source embeddings", self.tables["source_inputs"]),
        )
        self.tabs.currentChanged.connect(
            lambda _i: self.activeTableChanged.emit(self.active_table())
        )

        document.changed.connect(self._on_changed)
        self._rebuild_tabs()
        self._sync_controls()
        route_undo_keys(self)  # Ctrl+Z in a dimension box undoes the document's last step

    # Construction helpers ---------------------------------------------------
    def _spin(self, name: str, low: int, high: int, tip: str) -> QSpinBox:
        spin = CheckedSpinBox(name, self._doc.report)  # says why a number is refused
        spin.setRange(low, high)
        spin.setToolTip(tip)
        spin.setKeyboardTracking(False)  # resize when the person is done typing
        spin.valueChanged.connect(self._on_dims_changed)
        return spin

    def _setup_tokens_view(self, view: QTableView, model: TokensModel) -> None:
        view.setModel(model)
        view.horizontalHeader().setStretchLastSection(True)
        view.verticalHeader().setDefaultSectionSize(24)
        view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        view.setColumnWidth(0, 140)

    def _tab_page(self, *widgets: tuple[str, QWidget]) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 0, 0, 0)
        for title, widget in widgets:
            if title:
                box.addWidget(QLabel(title))
            box.addWidget(widget, 1)
        return page

    def _rebuild_tabs(self) -> None:
        """Show a tab for each part the preset has, keeping the current tab if it survives."""
        p = self._doc.preset
        current = self.tabs.tabText(self.tabs.currentIndex()) if self.tabs.count() else ""
        wanted: list[tuple[str, QWidget]] = [
            ("Tokens", self.tokens_view),
            ("X", self.tables["inputs"]),
            ("W_Q", self.tables["w_query"]),
            ("W_K", self.tables["w_key"]),
            ("W_V", self.tables["w_value"]),
        ]
        if p.w_output is not None:
            wanted.append(("W_O", self.tables["w_output"]))
        if any(getattr(p, k) is not None for k in edit.BIAS_KEYS):
            wanted.append(("Biases", None))  # type: ignore[arg-type]
        if p.source_inputs is not None:
            wanted.append(("Source", None))  # type: ignore[arg-type]
        titles = [t for t, _ in wanted]
        existing = [self.tabs.tabText(i) for i in range(self.tabs.count())]
        if titles != existing:
            self.tabs.blockSignals(True)
            while self.tabs.count():
                self.tabs.removeTab(0)
            for title, widget in wanted:
                if title == "Biases":
                    widget = self._biases_page
                elif title == "Source":
                    widget = self._source_page
                self.tabs.addTab(widget, title)
            self.tabs.blockSignals(False)
            if current in titles:
                self.tabs.setCurrentIndex(titles.index(current))
        for key in edit.BIAS_KEYS:
            self.tables[key].setVisible(getattr(p, key) is not None)

    def _make_biases_page(self) -> QWidget:
        pairs = []
        for key in edit.BIAS_KEYS:
            view = self.tables[key]
            view.setMaximumHeight(64)
            pairs.append((edit.MATRIX_TITLES[key], view))
        page = self._tab_page(*pairs)
        layout = page.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.addStretch(1)
        return page

    # Reading the document -----------------------------------------------------
    def active_table(self) -> MatrixTableView | None:
        widget = self.tabs.currentWidget()
        if isinstance(widget, MatrixTableView):
            return widget
        if widget is not None:
            for view in widget.findChildren(MatrixTableView):
                if view.hasFocus() or view.isVisible():
                    return view
        return None

    def _on_changed(self, change: Change) -> None:
        if change.structure:
            self._rebuild_tabs()
            self._sync_controls()

    def _sync_controls(self) -> None:
        p = self._doc.preset
        self._updating = True
        try:
            self.spin_tokens.setValue(p.n_tokens)
            self.spin_d_model.setValue(p.d_model)
            self.spin_d_k.setValue(p.d_k)
            self.spin_d_v.setValue(p.d_v)
            self.spin_heads.setValue(p.options.heads)
            self.spin_kv_heads.setMaximum(p.options.heads)
            self.spin_kv_heads.setValue(p.kv_heads)
            self.spin_kv_heads.setEnabled(p.options.heads > 1)
            self.spin_source.setValue(p.n_keys)
            self.spin_source.setEnabled(p.source_inputs is not None)
            self.check_output.setChecked(p.w_output is not None)
            self.check_biases.setChecked(p.b_query is not None)
            self.check_source.setChecked(p.source_inputs is not None)
        finally:
            self._updating = False

    # Writing through the document ---------------------------------------------
    def _on_dims_changed(self, _value: int) -> None:
        if self._updating:
            return
        p = self._doc.preset
        dims = {
            "n_tokens": self.spin_tokens.value(),
            "d_model": self.spin_d_model.value(),
            "d_k": self.spin_d_k.value(),
            "d_v": self.spin_d_v.value(),
            "heads": self.spin_heads.value(),
        }
        if p.source_inputs is not None:
            dims["n_source"] = self.spin_source.value()
        kv_heads = self._wanted_kv_heads(dims["heads"])
        try:
            resized = edit.resized(p, **dims, kv_heads=kv_heads)
        except ValueError as exc:
            self.message.emit(f"Refused: {exc}")
            self._sync_controls()
            return
        changed = ", ".join(
            f"{k.replace('n_', '')} {v}"
            for k, v in dims.items()
            if v
            != {
                "n_tokens": p.n_tokens,
                "d_model": p.d_model,
                "d_k": p.d_k,
                "d_v": p.d_v,
                "heads": p.options.heads,
                "n_source": p.n_keys,
            }[k]
        )
        if kv_heads != p.options.kv_heads:
            changed = ", ".join(x for x in (changed, f"kv heads {kv_heads or dims['heads']}") if x)
        if not commands.push_preset(self._doc, resized, f"Resize: {changed or 'dimensions'}"):
            self._sync_controls()

    def _wanted_kv_heads(self, heads: int) -> int | None:
        """The kv_heads option the spin boxes ask for (None: one per query head)."""
        p = self._doc.preset
        kv = self.spin_kv_heads.value()
        if p.options.kv_heads is None and kv == p.options.heads:
            return None  # not grouped, and the person did not ask to group
        return None if kv == heads else kv

    def _on_part_toggled(self, _checked: bool) -> None:
        if self._updating:
            return
        p = self._doc.preset
        sender = self.sender()
        if sender is self.check_output:
            on = self.check_output.isChecked()
            new, text = edit.with_output_projection(p, on), ("Add W_O" if on else "Remove W_O")
        elif sender is self.check_biases:
            on = self.check_biases.isChecked()
            new, text = edit.with_biases(p, on), ("Add biases" if on else "Remove biases")
        else:
            on = self.check_source.isChecked()
            new = edit.with_source(p, on)
            text = "Cross-attention on" if on else "Cross-attention off"
        if not commands.push_preset(self._doc, new, text):
            self._sync_controls()

    # Whole-matrix edits of the matrix in front ---------------------------------------
    def _front_key(self) -> str | None:
        view = self.active_table()
        if view is None or view.matrix_model().key is None:
            self.message.emit("Choose an input matrix tab (X, W_Q, …) first")
            return None
        return view.matrix_model().key

    def fill_active(
        self, kind: str, *, seed: int | None = None, factor: float | None = None
    ) -> bool:
        """Fill or scale the matrix in front (zeros, identity, random, scale), one undo step."""
        key = self._front_key()
        if key is None:
            return False
        text = fill_matrix(self, self._doc, key, kind, seed=seed, factor=factor)
        if text is not None:
            self.message.emit(text)
        return text is not None

    def import_csv_dialog(self) -> None:
        key = self._front_key()
        if key is None:
            return
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import matrix from CSV",
            self._folder(),
            "CSV (*.csv *.tsv *.txt);;All files (*)",
        )
        if path:
            self.import_csv(Path(path), key)

    def import_csv(self, path: Path, key: str) -> bool:
        """Load a CSV file into input matrix `key` (header row and label column optional)."""
        return import_matrix_csv(self, self._doc, key, Path(path))
