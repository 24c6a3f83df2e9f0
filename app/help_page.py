"""Help → "What am I looking at?": a short page about the window's panels, in the window.

Plain HTML in a QTextBrowser (no network, no files): what each panel shows, how to
edit, and where to go next (the walk-through, Explain).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

TITLE = "What am I looking at?"

PAGE = """
<h2>What am I looking at?</h2>
<p>This window computes one layer of <b>self-attention</b> and shows every number on the
way. Change any input and everything after it is computed again at once.</p>
<h3>Inputs (left)</h3>
<p><b>X</b> holds the tokens, one row each. <b>W_Q</b>, <b>W_K</b> and <b>W_V</b> turn a
token into its query, key and value. Type a number, an expression such as <tt>1/3</tt>,
or paste a block from a spreadsheet; every edit can be undone.</p>
<h3>Options (left, below)</h3>
<p>How the scores are scaled, the temperature, masks (causal, padding, a sliding
window), heads, and the number type.</p>
<h3>The heatmap (centre)</h3>
<p>The attention <b>weights</b>: one row per query, one column per key; each row adds up
to 1. "Show" switches to the raw or scaled scores, or to every head at once. Click a
cell to see where its number comes from.</p>
<h3>Results (below)</h3>
<p>Every intermediate as a table: Q, K, V, the raw and scaled scores, the weights, the
context and the output.</p>
<h3>Explain (below, right)</h3>
<p>The arithmetic of the selected cell, written out with the actual numbers.</p>
<h3>Where to start</h3>
<p><b>Help → Walk through</b> takes you through the steps one at a time (query, key and
value; scores; softmax; the weighted sum), outlining the cells each step uses. Try it on
the seed example (File → Open bundled preset), then change a number and watch the step
change. <b>File → Export walk-through…</b> writes the same steps as a worksheet.</p>
"""


class HelpPage(QDialog):
    """A small non-modal window with the page; one per main window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.setObjectName("help_page")
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setHtml(PAGE)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(560, 600)


def show(parent: QWidget) -> HelpPage:
    """Show the page (reusing the one already open)."""
    page = parent.findChild(HelpPage, "help_page", Qt.FindChildOption.FindDirectChildrenOnly)
    if page is None:
        page = HelpPage(parent)
    page.show()
    page.raise_()
    page.activateWindow()
    return page
