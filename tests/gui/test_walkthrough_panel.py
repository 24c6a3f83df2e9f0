"""The walk-through in the window: steps, outlines, tabs, edits, ends, closing, restart,
export, the first-start invitation and the help page.

Expected numbers are the tutorial's hand-worked ones for the seed example
(X = [[1,0,1,0],[0,2,0,2],[1,1,1,1]], keys [[0,1,1],[4,4,0],[2,3,1]], ...), and the
expected outlines are written out cell by cell from what each step means.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu, QToolBar

from app.help_page import HelpPage
from app.highlights import STEP, Block
from app.main_window import MainWindow
from app.walkthrough_window import INVITED_KEY
from selfattn.bundled import load_bundled


def lit_cells(view) -> set[tuple[int, int]]:
    """The cells a table marks as the walk-through step's (what its delegate tints)."""
    model = view.model()
    return {
        (r, c)
        for r in range(model.rowCount())
        for c in range(model.columnCount())
        if view.cell_marks(r, c) & STEP
    }


def every(rows: int, cols: int) -> set[tuple[int, int]]:
    return {(r, c) for r in range(rows) for c in range(cols)}


def walk_to(window: MainWindow, key: str):
    window.walk.open()
    panel = window.walk.panel
    panel.go_to_key(key)
    assert panel.current_step().key == key
    return panel


def inputs(window: MainWindow):
    return window.inputs_panel.tables


def results(window: MainWindow):
    return window.results_panel.tables


def front_tab(tabs) -> str:
    return tabs.tabText(tabs.currentIndex())


def test_scores_step_outlines_query_row_all_keys_and_the_score_row(window):
    panel = walk_to(window, "raw_scores")
    assert lit_cells(results(window)["q"]) == {(0, 0), (0, 1), (0, 2)}
    assert lit_cells(results(window)["k"]) == every(3, 3)
    assert lit_cells(results(window)["scores"]) == {(0, 0), (0, 1), (0, 2)}
    for name in ("v", "weights", "context", "output", "scaled_scores"):
        assert lit_cells(results(window)[name]) == set(), name
    for name, view in inputs(window).items():
        assert lit_cells(view) == set(), name
    # the heatmap shows the raw scores, with query 1's row outlined
    assert window.view_state.mode == "scores"
    assert window.heatmap.highlighted_cells() == {(0, 0), (0, 1), (0, 2)}
    assert window.heatmap.matrix.highlight_line.isVisible()
    assert front_tab(window.results_panel.tabs) == "Raw scores"
    assert "[2, 4, 4]" in panel.step_text()


def test_next_moves_outlines_from_step_to_step(window):
    panel = walk_to(window, "inputs")
    assert lit_cells(inputs(window)["inputs"]) == every(3, 4)
    assert front_tab(window.inputs_panel.tabs) == "X"
    panel.next()  # the weights
    assert panel.current_step().key == "weights"
    assert lit_cells(inputs(window)["inputs"]) == set()
    for name in ("w_query", "w_key", "w_value"):
        assert lit_cells(inputs(window)[name]) == every(4, 3), name
    assert front_tab(window.inputs_panel.tabs) == "W_Q"
    panel.next()  # input 1's query, key and value: row 1 of X, all weights, row 1 of Q, K, V
    assert panel.current_step().key == "qkv_row"
    assert lit_cells(inputs(window)["inputs"]) == {(0, c) for c in range(4)}
    for name in ("q", "k", "v"):
        assert lit_cells(results(window)[name]) == {(0, 0), (0, 1), (0, 2)}, name
    assert front_tab(window.inputs_panel.tabs) == "X"
    panel.go_to_key("softmax")
    assert window.view_state.mode == "weights"
    assert lit_cells(results(window)["weights"]) == {(0, 0), (0, 1), (0, 2)}
    assert lit_cells(results(window)["scaled_scores"]) == {(0, 0), (0, 1), (0, 2)}
    assert lit_cells(results(window)["scores"]) == set()
    assert window.heatmap.highlighted_cells() == {(0, 0), (0, 1), (0, 2)}
    assert "0.1361" in panel.step_text() and "0.4319" in panel.step_text()


def test_choosing_query_two_follows_its_row(window):
    panel = walk_to(window, "raw_scores")
    panel.query_spin.setValue(2)
    assert panel.current_step().key == "raw_scores"  # same step, other query
    # q2 = [2, 2, 2]; its scores with keys [0,1,1], [4,4,0], [2,3,1] are [4, 16, 12]
    assert "[4, 16, 12]" in panel.step_text()
    assert lit_cells(results(window)["scores"]) == {(1, 0), (1, 1), (1, 2)}
    assert window.heatmap.highlighted_cells() == {(1, 0), (1, 1), (1, 2)}


def test_choosing_head_two_shows_that_head(qtbot, settings, dialogs):
    win = MainWindow(load_bundled("two-heads-self-and-previous"), settings=settings)
    qtbot.addWidget(win)
    win.show()
    panel = walk_to(win, "raw_scores")
    assert panel.head_spin.isVisibleTo(panel)
    panel.head_spin.setValue(2)
    assert win.view_state.head == 1
    n = win.recompute.result.n_keys
    # the scores table follows head 2; only query 1's row is outlined
    assert lit_cells(results(win)["scores"]) == {(0, j) for j in range(n)}
    assert win.walk.panel.walk.head == 1
    win.document.undo_stack.setClean()


def test_an_edit_during_the_scores_step_rewrites_its_numbers(window):
    panel = walk_to(window, "raw_scores")
    assert "[2, 4, 4]" in panel.step_text()
    x = inputs(window)["inputs"].model()
    assert x.setData(x.index(0, 0), "2")
    # x1 = [2, 0, 1, 0]: q1 = [2, 0, 3], k1 = [0, 1, 2]; keys 2, 3 stay [4,4,0], [2,3,1]
    # scores: 0 + 0 + 6 = 6, 8 + 0 + 0 = 8, 4 + 0 + 3 = 7
    assert panel.current_step().key == "raw_scores"
    assert "[6, 8, 7]" in panel.step_text()
    assert "[2, 4, 4]" not in panel.step_text()
    window.document.undo_stack.undo()
    assert "[2, 4, 4]" in panel.step_text()


def test_back_and_next_stop_at_both_ends(window):
    window.walk.open()
    panel = window.walk.panel
    count = len(panel.walk.steps)
    assert panel.index == 0
    assert not panel.back_button.isEnabled() and panel.next_button.isEnabled()
    panel.back()
    assert panel.index == 0  # no wrap to the last step
    for _ in range(count + 3):
        panel.next()
    assert panel.index == count - 1
    assert panel.back_button.isEnabled() and not panel.next_button.isEnabled()
    assert panel.position.text() == f"step {count} of {count}"
    panel.next_button.click()  # disabled: nothing happens
    assert panel.index == count - 1
    panel.back_button.click()
    assert panel.index == count - 2


def test_keys_step_inside_the_panel_but_not_in_the_tables(qtbot, window):
    window.walk.open()
    panel = window.walk.panel
    panel.step_list.setFocus()
    qtbot.waitUntil(panel.step_list.hasFocus)
    for key, expected in (
        (Qt.Key.Key_Right, 1),
        (Qt.Key.Key_PageDown, 2),
        (Qt.Key.Key_Left, 1),
        (Qt.Key.Key_PageUp, 0),
        (Qt.Key.Key_Left, 0),
    ):
        qtbot.keyClick(panel.step_list, key)
        assert panel.index == expected, key
    table = inputs(window)["inputs"]
    window.inputs_panel.tabs.setCurrentWidget(table)
    table.setFocus()
    table.setCurrentIndex(table.model().index(0, 0))
    qtbot.keyClick(table, Qt.Key.Key_Right)
    assert panel.index == 0  # the arrow moved the table's cell instead
    assert table.currentIndex().column() == 1


def test_closing_the_panel_leaves_no_outline(window):
    walk_to(window, "all_queries")
    assert lit_cells(results(window)["weights"]) == every(3, 3)
    window.walk.close()
    assert not window.walk.dock.isVisible()
    assert window.highlights.blocks() == ()
    for view in [*inputs(window).values(), *results(window).values()]:
        assert lit_cells(view) == set()
    assert window.heatmap.highlighted_cells() == frozenset()
    assert not window.heatmap.matrix.highlight_line.isVisible()
    # edits after closing do not bring the outlines back
    x = inputs(window)["inputs"].model()
    assert x.setData(x.index(0, 0), "3")
    assert window.highlights.blocks() == ()
    # opening again starts at the first step
    window.walk.open()
    assert window.walk.panel.index == 0


def test_loading_another_preset_restarts(window):
    panel = walk_to(window, "softmax")
    panel.query_spin.setValue(3)
    assert window.files.open_bundled("causal-the-cat-sat", ask=False)
    assert panel.index == 0
    assert panel.query_spin.value() == 1
    assert panel.walk.preset.name == window.document.preset.name
    assert "causal_mask" in panel.walk.keys
    assert lit_cells(inputs(window)["inputs"]) == every(*window.document.preset.inputs.shape)


def test_export_writes_markdown_and_html(qtbot, window, tmp_path):
    window.walk.open()
    window.walk.panel.query_spin.setValue(2)
    md, page = tmp_path / "seed.md", tmp_path / "seed.html"
    window.walk.export(md)
    qtbot.waitUntil(lambda: not window.walk.exporting, timeout=20000)
    window.walk.export(page)
    qtbot.waitUntil(lambda: not window.walk.exporting, timeout=20000)
    text = md.read_text(encoding="utf-8")
    assert "Prepare the inputs" in text and "[4, 16, 12]" in text  # query 2, as chosen
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "[4, 16, 12]" in html
    assert "http" not in html


def test_export_failure_is_reported(qtbot, window, dialogs, tmp_path):
    window.walk.export(tmp_path / "no-such-folder" / "x.md")
    qtbot.waitUntil(lambda: not window.walk.exporting, timeout=20000)
    assert any("not exported" in text for _kind, text in dialogs.calls)


def test_first_start_invitation_appears_once(qtbot, window, settings):
    assert window.walk.banner is None  # a window given settings (tests, screenshots) stays quiet
    assert window.walk.invite_once(settings)
    banner = window.walk.banner
    assert banner is not None and banner.isVisible()
    assert "walk-through of the seed example" in banner.label.text()
    assert settings.value(INVITED_KEY, False, type=bool)
    again = MainWindow(load_bundled("uniform-attention"), settings=settings)
    qtbot.addWidget(again)
    assert not again.walk.invite_once(settings)
    assert again.walk.banner is None
    banner.close_button.click()
    assert not banner.isVisible()


def test_invitation_opens_the_seed_walkthrough(qtbot, settings, dialogs):
    win = MainWindow(load_bundled("uniform-attention"), settings=settings)
    qtbot.addWidget(win)
    win.show()
    assert win.walk.invite_once(settings)
    win.walk.banner.take_button.click()
    assert win.document.preset.name == "Seed example"
    assert win.walk.dock.isVisible() and win.walk.panel.index == 0
    assert not win.walk.banner.isVisible()  # taken: it does not stay and repeat itself
    win.document.undo_stack.setClean()


def test_a_step_replaces_the_cell_clicked_before(window):
    # X[3,1] clicked first outlines what it feeds and fills Explain; the scores step then
    # must show its own cells only, not the old focus's outlines beside them.
    x_table = inputs(window)["inputs"]
    x_table.setCurrentIndex(x_table.model().index(2, 0))
    assert window.highlights.focus() is not None
    walk_to(window, "raw_scores")
    assert window.highlights.focus() is None
    assert window.highlights.outlined() == {}
    assert window.heatmap.highlighted_cells() == {(0, 0), (0, 1), (0, 2)}


def test_menus_and_toolbar_have_the_actions(window):
    texts = [a.text() for menu in window.menuBar().findChildren(QMenu) for a in menu.actions()]
    assert "&Walk through" in texts
    assert "What am I &looking at?" in texts
    assert "Export &walk-through…" in texts
    window.walk.action_walk.trigger()
    assert window.walk.dock.isVisible()
    toolbar = window.findChild(QToolBar, "toolbar_main")
    assert window.walk.action_walk in toolbar.actions()


def test_help_page_describes_the_panels(window):
    window.walk.action_help.trigger()
    pages = window.findChildren(HelpPage)
    assert len(pages) == 1 and pages[0].isVisible()
    text = pages[0].browser.toPlainText()
    for panel in ("Inputs", "Options", "heatmap", "Results", "Explain", "Walk through"):
        assert panel in text
    window.walk.action_help.trigger()
    assert len(window.findChildren(HelpPage)) == 1  # reused, not stacked


def test_named_blocks_of_two_sources_do_not_clear_each_other(window):
    h = window.highlights
    h.set_blocks("walkthrough", [Block.of("scores", [0], [0, 1], head=0)])
    h.set_blocks("other", [Block.of("inputs", [1], [2])])
    assert h.state("scores", 0, 0, 1) & STEP
    assert not h.state("scores", 1, 0, 1) & STEP  # another head
    assert not h.state("scores", 0, 1, 1) & STEP
    assert h.block_rects("scores", 0) == [(0, 0, 1, 2)]
    h.clear_blocks("walkthrough")
    assert not h.state("scores", 0, 0, 1) & STEP
    assert h.state("inputs", 0, 1, 2) & STEP
    h.clear_blocks("other")
    assert h.blocks() == ()


def test_opening_the_panel_keeps_the_heatmap_colour_bar_in_view(qtbot, window):
    """The dock narrows the heatmap; its colour bar must not be pushed out of the view."""
    window.walk.open()
    glw = window.heatmap.graphics_widget

    def bar_inside() -> bool:
        right = window.heatmap.colorbar.sceneBoundingRect().right()
        return 0 < right <= glw.viewport().width()

    qtbot.waitUntil(bar_inside, timeout=3000)
    assert window.heatmap.graphics_widget.centralWidget.geometry().width() <= glw.width()
