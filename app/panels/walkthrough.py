"""Walk-through panel: the tutorial's steps for the preset on screen, one at a time.

The steps come from `selfattn.walkthrough` (texts with the actual numbers, the cells
each step involves); this panel shows one, outlines its cells through
`app.highlights` and asks the window (`focus`) to bring the tables and the heatmap
mode the step is about to the front. It follows every new result, so an edit in the
middle of a step rewrites the step's numbers at once; `restart` starts over (another
preset was loaded).

Back at the first step and Next at the last are disabled rather than wrapping: a
learner who reaches the end should see that it is the end, not be sent back to the
inputs without notice.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from selfattn.attention import AttentionError
from selfattn.walkstep import WalkStep, Walkthrough, WalkthroughError
from selfattn.walkthrough import walkthrough

from ..highlights import Block, Highlights
from ..recompute import Recompute

SOURCE = "walkthrough"  # this panel's name in app.highlights
LIST_ROWS = 16  # steps the list shows without scrolling (the longest walk-through has ~16)
Focus = Callable[[WalkStep, Walkthrough], None]


def step_blocks(step: WalkStep) -> list[Block]:
    """The step's cells as highlight blocks."""
    return [Block.of(c.matrix, c.rows, c.cols, c.head) for c in step.cells]


class WalkthroughPanel(QWidget):
    """Back / Next through the steps; query and head choosers; the step's text and arithmetic."""

    stepChanged = Signal(object)  # the WalkStep shown

    def __init__(
        self,
        results: Recompute,
        highlights: Highlights,
        focus: Focus | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._results = results
        self._highlights = highlights
        self._focus = focus
        self._walk: Walkthrough | None = None
        self._index = 0
        self._active = False
        self._build()
        results.resultChanged.connect(lambda _change: self._follow_result())
        self._resize_timer = QTimer(self, singleShot=True, interval=80)
        self._resize_timer.timeout.connect(self._show_arithmetic)

    # Construction -------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        chooser = QHBoxLayout()
        self.query_spin = QSpinBox()
        self.query_spin.setPrefix("query ")
        self.query_spin.setMinimum(1)
        self.query_spin.setToolTip("The query (row of X) whose steps are followed")
        self.query_label = QLabel()
        self.head_spin = QSpinBox()
        self.head_spin.setPrefix("head ")
        self.head_spin.setMinimum(1)
        self.head_spin.setToolTip("The head whose scores and weights are followed")
        for spin in (self.query_spin, self.head_spin):
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(lambda _v: self._rebuild_and_show())
        chooser.addWidget(QLabel("Follow"))
        chooser.addWidget(self.query_spin)
        chooser.addWidget(self.query_label, 1)
        chooser.addWidget(self.head_spin)
        layout.addLayout(chooser)

        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.arithmetic = QPlainTextEdit()
        self.arithmetic.setReadOnly(True)
        self.arithmetic.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)  # render() wraps
        self.arithmetic.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.arithmetic.setPlaceholderText("(no arithmetic to write out in this step)")
        self.step_list = QListWidget()
        self.step_list.currentRowChanged.connect(self._on_list_row)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.title)
        top_layout.addWidget(self.text)
        top_layout.addWidget(self.arithmetic, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.step_list)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)

        buttons = QHBoxLayout()
        self.back_button = QPushButton("◀ Back")
        self.back_button.setToolTip("Previous step (Left or Page Up)")
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip("Next step (Right or Page Down)")
        self.position = QLabel()
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.position, 1, Qt.AlignmentFlag.AlignCenter)
        buttons.addWidget(self.next_button)
        layout.addLayout(buttons)

        # Keys work anywhere inside the panel, never in the tables outside it.
        for keys, slot in (
            ((Qt.Key.Key_Right, Qt.Key.Key_PageDown), self.next),
            ((Qt.Key.Key_Left, Qt.Key.Key_PageUp), self.back),
        ):
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(slot)

    # State ----------------------------------------------------------------------
    @property
    def walk(self) -> Walkthrough | None:
        return self._walk

    @property
    def index(self) -> int:
        return self._index

    @property
    def active(self) -> bool:
        return self._active

    def current_step(self) -> WalkStep | None:
        walk = self._walk
        return walk.steps[self._index] if walk is not None and walk.steps else None

    def step_text(self) -> str:
        """The title and text shown now (tests read it)."""
        return f"{self.title.text()}\n{self.text.text()}"

    # Control ----------------------------------------------------------------------
    def start(self, query: int | None = None, head: int | None = None) -> None:
        """Show the walk-through (at the first step) and outline its cells."""
        self._active = True
        self._index = 0
        self._set_spins(query if query is not None else self.query_spin.value() - 1, head)
        self._rebuild_and_show(keep_step=False)

    def restart(self) -> None:
        """Another preset: first step, first query, first head."""
        if self._active:
            self.start(query=0, head=0)

    def stop(self) -> None:
        """Leave no outline behind (the panel was closed)."""
        self._active = False
        self._highlights.clear_blocks(SOURCE)

    def go(self, index: int) -> None:
        walk = self._walk
        if walk is None or not 0 <= index < len(walk.steps):
            return
        self._index = index
        self._show()

    def next(self) -> None:
        self.go(self._index + 1)

    def back(self) -> None:
        self.go(self._index - 1)

    def go_to_key(self, key: str) -> None:
        walk = self._walk
        if walk is not None and key in walk.keys:
            self.go(walk.keys.index(key))

    # Internals ----------------------------------------------------------------------
    def _set_spins(self, query: int, head: int | None) -> None:
        r = self._results.result
        for spin, count, value in (
            (self.query_spin, r.n_queries, query),
            (self.head_spin, r.heads, head if head is not None else self.head_spin.value() - 1),
        ):
            spin.blockSignals(True)
            spin.setMaximum(count)
            spin.setValue(min(max(value, 0), count - 1) + 1)
            spin.blockSignals(False)
        self.head_spin.setVisible(r.heads > 1)

    def _follow_result(self) -> None:
        if self._active:
            self._set_spins(self.query_spin.value() - 1, None)
            self._rebuild_and_show()

    def _on_list_row(self, row: int) -> None:
        if row >= 0 and row != self._index:
            self.go(row)

    def _rebuild_and_show(self, keep_step: bool = True) -> None:
        """Make the walk-through of the newest result again; stay at the same step."""
        if not self._active:
            return
        old = self.current_step()
        query, head = self.query_spin.value() - 1, self.head_spin.value() - 1
        try:
            walk = walkthrough(
                self._results.result_preset, query, head, result=self._results.result
            )
        except (WalkthroughError, AttentionError, ValueError) as exc:
            self._walk = None
            self.step_list.clear()
            self.title.setText("No walk-through")
            self.text.setText(str(exc))
            self.arithmetic.clear()
            self._highlights.clear_blocks(SOURCE)
            return
        self._walk = walk
        if keep_step and old is not None and old.key in walk.keys:
            self._index = walk.keys.index(old.key)
        else:
            self._index = min(self._index if keep_step else 0, len(walk.steps) - 1)
        p = walk.preset
        token = p.tokens[query] if query < len(p.tokens) else ""
        self.query_label.setText(f"'{token}'" if token else "")
        titles = [f"{k + 1}. {s.title}" for k, s in enumerate(walk.steps)]
        current = [self.step_list.item(k).text() for k in range(self.step_list.count())]
        if titles != current:
            self.step_list.blockSignals(True)
            self.step_list.clear()
            self.step_list.addItems(titles)
            self.step_list.blockSignals(False)
            rows = min(len(titles), LIST_ROWS)
            frame = 2 * self.step_list.frameWidth() + 2
            self.step_list.setMinimumHeight(rows * self.step_list.sizeHintForRow(0) + frame)
        self._show()

    def _show(self) -> None:
        walk, step = self._walk, self.current_step()
        if walk is None or step is None:
            return
        count = len(walk.steps)
        self.title.setText(f"{self._index + 1}. {step.title}")
        self.text.setText(step.text)
        self._show_arithmetic()
        self.position.setText(f"step {self._index + 1} of {count}")
        self.back_button.setEnabled(self._index > 0)
        self.next_button.setEnabled(self._index < count - 1)
        self.step_list.blockSignals(True)
        self.step_list.setCurrentRow(self._index)
        self.step_list.blockSignals(False)
        self._highlights.set_blocks(SOURCE, step_blocks(step))
        if self._focus is not None:
            self._focus(step, walk)
        self.stepChanged.emit(step)

    def _show_arithmetic(self) -> None:
        """The step's Explain arithmetic, wrapped to the panel's width."""
        step = self.current_step()
        width = self._text_columns()
        self.arithmetic.setPlainText(
            ""
            if step is None
            else "\n\n".join(
                f"{textwrap.fill(ex.title, width)}\n{ex.render(width=width)}"
                for ex in step.explanations
            )
        )

    def _text_columns(self) -> int:
        advance = max(self.arithmetic.fontMetrics().horizontalAdvance("0"), 1)
        return max(40, self.arithmetic.viewport().width() // advance - 4)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._active:
            self._resize_timer.start()
