"""Help → "What am I looking at?": a short page about the window's panels, in the window.

Plain HTML in a QTextBrowser (no network, no files): what each part of the window
shows, how to edit, the menus a learner needs next (real models, the atlas, generation,
precision, zoom) and where to start (the walk-through). The names and keys it gives are
checked against the window's menus by tests/gui/test_help_page.py.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

TITLE = "What am I looking at?"

PAGE = """
<h2>What am I looking at?</h2>
<p>This window computes one layer of <b>self-attention</b> and shows every number on the
way. Change any input and everything after it is computed again at once. Click any
number to see where it comes from.</p>

<h3>The middle: Pipeline and Heatmap</h3>
<p><b>Pipeline</b> (the first tab, in front for small presets) shows every step left to
right: X &rarr; Q, K, V &rarr; raw scores &rarr; scaled scores &rarr; weights &rarr;
context &rarr; output, each matrix as a small table with its numbers. Selecting a cell
outlines the cells it is computed from.</p>
<p><b>Heatmap</b> (the second tab, in front for large presets such as a real model's
head) draws the attention <b>weights</b>: one row per query, one column per key; each
row adds up to 1. &ldquo;Show&rdquo; switches to the raw or scaled scores, or to every
head at once.</p>

<h3>Inputs and Options (left)</h3>
<p><b>Inputs</b>: X holds the tokens, one row each; W_Q, W_K and W_V turn a token into its
query, key and value. Type a number, an expression such as <tt>1/3</tt>, or paste a
block from a spreadsheet (or File &rarr; Import matrix from CSV&hellip;); every edit can
be undone. <b>Options</b>: how the scores are scaled, the temperature, the masks (causal,
padding, a sliding window), heads, RoPE, and the number type.</p>

<h3>Results and Explain (below)</h3>
<p><b>Results</b> has every intermediate as a table: Q, K, V, the raw and scaled scores,
the weights, the context and the output. <b>Explain</b> writes out the arithmetic of the
selected cell with the actual numbers; for a masked cell it first says why its weight
is 0.</p>

<h3>Real models</h3>
<p><b>File &rarr; Load from model&hellip;</b> (Ctrl+M) turns one head of a real
transformer into a preset you can edit. While it is shown, a bar above the heatmap moves
through the model: <b>Page Up / Page Down</b> step through the layers, <b>Ctrl+Page Up /
Ctrl+Page Down</b> through the heads. <b>The Atlas</b> (toolbar button, or View &rarr;
Atlas) shows every layer and head at once as small heatmaps; click one to open it.
<b>View &rarr; Generate&hellip;</b> (Ctrl+G) lets a decoder continue your text token
by token and shows where each new token looked.</p>

<h3>Reading comfortably</h3>
<p><b>View &rarr; Number precision</b>: 3 decimals, 6 significant digits or every digit,
in the tables, the pipeline and the heatmap. <b>View &rarr; Zoom in / Zoom out</b>
(Ctrl+= / Ctrl+-, Ctrl+0 for actual size) makes everything larger or smaller. The View
menu also brings back a panel you closed.</p>

<h3>Where to start</h3>
<p><b>Help &rarr; Walk through</b> (also on the toolbar) takes you through the steps one
at a time (query, key and value; scores; softmax; the weighted sum), outlining the cells
each step uses. Try it on the seed example (File &rarr; Open bundled preset), then
change a number and watch the step change. <b>File &rarr; Export walk-through&hellip;</b>
writes the same steps as a worksheet.</p>
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
