"""The Atlas in the window: a central tab beside Pipeline and Heatmap, and its entry points.

The atlas grid needs width (SmolLM2: 30 layers x 9 heads, MiniLM: 12 heads across),
which a dock beside the heatmap never had. The tab stays out of the tab bar until
an atlas is asked for (File → Load from model… "whole model", the toolbar's Atlas
button, View → Atlas). A click on a head opens it as the window's preset and brings
the Pipeline or Heatmap tab to the front, where the opened head is shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QMenu, QToolBar, QWidget

from .atlas_view import BUNDLED_BY_NAME, AtlasView, ModelArg, model_preset_source
from .pipeline_view import is_small


def install_atlas(window: Any) -> AtlasView:
    """Build the Atlas tab of `window` (a MainWindow), its toolbar button and View entry."""
    view = AtlasView(window.background, window.files.load_model_preset)
    view.message.connect(window.show_message)
    tabs = window.center_tabs
    tabs.setTabVisible(tabs.addTab(view, "Atlas"), False)
    view.headOpened.connect(lambda: show_opened_preset(window))
    window.action_atlas = window._action(
        "Atlas",
        lambda: open_atlas_of_preset(window),
        tip="Every layer and head of this preset's model for its text",
    )
    toolbar = window.findChild(QToolBar, "toolbar_main")
    assert toolbar is not None
    toolbar.addAction(window.action_atlas)
    window.action_show_atlas = window._action(
        "&Atlas", lambda: show_atlas_tab(window), tip="Show the Atlas tab"
    )
    for action in window.menuBar().actions():
        menu = action.menu()
        if isinstance(menu, QMenu) and action.text() == "&View":
            menu.addAction(window.action_show_atlas)
    window.files.atlasRequested.connect(lambda model, text: show_atlas(window, model, text))

    def button_shown(*_: object) -> None:
        window.action_atlas.setVisible(
            window.document.origin is not None
            or model_preset_source(window.document.preset) is not None
        )

    window.document.changed.connect(button_shown)
    window.document.originChanged.connect(button_shown)
    button_shown()
    return view


def show_atlas_tab(window: Any) -> None:
    """Put the Atlas tab in the tab bar and in front."""
    tabs = window.center_tabs
    tabs.setTabVisible(tabs.indexOf(window.atlas_view), True)
    tabs.setCurrentWidget(window.atlas_view)


def show_opened_preset(window: Any) -> None:
    """After a head was opened from the atlas: the tab that shows a preset of its size."""
    p = window.document.preset
    small = is_small(p.n_tokens, p.n_keys, p.d_model)
    window.center_tabs.setCurrentWidget(window.pipeline if small else window.heatmap_stack)


def show_atlas(window: Any, model: ModelArg, text: str) -> None:
    """Show the Atlas tab of `window` and start the atlas of model and text."""
    show_atlas_tab(window)
    window.atlas_view.start(model, text)


def ask_model_path(parent: QWidget, name: str) -> Path | None:
    """Ask where the model called `name` is: its GGUF file or its checkpoint's config.json."""
    from PySide6.QtWidgets import QFileDialog  # noqa: PLC0415 - only when asked

    path, _ = QFileDialog.getOpenFileName(
        parent,
        f"Where is {name}? Choose its GGUF file or its checkpoint's config.json",
        "",
        "Models (*.gguf config.json);;All files (*)",
    )
    if not path:
        return None
    chosen = Path(path)
    return chosen.parent if chosen.name == "config.json" else chosen


def open_atlas_of_preset(window: Any) -> None:
    """The toolbar's Atlas button: the atlas of the model and text the preset came from.

    The document's origin says it exactly (any model, its file included); a preset
    opened from a file only has its description to go by.
    """
    origin = window.document.origin
    if origin is not None:
        show_atlas(window, origin.model, origin.text)
        return
    source = model_preset_source(window.document.preset)
    if source is None:
        window.show_message("This preset did not come from a model: use File → Load from model…")
        return
    name, text = source
    model: ModelArg
    if name in BUNDLED_BY_NAME:
        model = BUNDLED_BY_NAME[name]
    else:
        model = ask_model_path(window, name)
        if model is None:
            return
    show_atlas(window, model, text)
