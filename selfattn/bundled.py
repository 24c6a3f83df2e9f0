"""Presets shipped inside the package, found with importlib.resources (never the CWD)."""

from __future__ import annotations

import functools
import json
import os
from importlib import resources
from pathlib import Path

from .preset import Preset, PresetError, load_preset, parse_preset

_PACKAGE = "resources.presets"


def bundled_names() -> list[str]:
    """Names of the bundled presets (file stems), sorted."""
    folder = resources.files(_PACKAGE)
    return sorted(
        entry.name[: -len(".json")] for entry in folder.iterdir() if entry.name.endswith(".json")
    )


def load_bundled(name: str) -> Preset:
    """Load a bundled preset by name; PresetError if there is no such preset."""
    if name not in bundled_names():
        raise PresetError(
            f"{name}: no such file or bundled preset (bundled: {', '.join(bundled_names())})"
        )
    entry = resources.files(_PACKAGE).joinpath(f"{name}.json")
    return parse_preset(entry.read_bytes(), origin=f"bundled preset {name!r}")


@functools.lru_cache(maxsize=1)
def bundled_descriptions() -> tuple[tuple[str, str, str], ...]:
    """(name, title, description) of every bundled preset (read once; no full validation,
    which happens when a preset is opened)."""
    out = []
    for name in bundled_names():
        entry = resources.files(_PACKAGE).joinpath(f"{name}.json")
        try:
            data = json.loads(entry.read_bytes())
            title, description = str(data.get("name", name)), str(data.get("description", ""))
        except (ValueError, AttributeError):
            title, description = name, "(unreadable)"
        out.append((name, title, description))
    return tuple(out)


def resolve_preset(spec: str | os.PathLike[str]) -> Preset:
    """A path to a preset file, or the name of a bundled preset.

    A file wins over a bundled name; anything that looks like a path (a folder
    separator or a ``.json`` suffix) is only ever read as a path. A bare name that
    is neither a file nor a bundled preset (say, a folder of the same name in the
    working directory) is refused naming both possibilities.
    """
    text = os.fspath(spec)
    path = Path(text)
    looks_like_path = (
        path.suffix.lower() == ".json"
        or os.sep in text
        or (os.altsep is not None and os.altsep in text)
    )
    if path.is_file() or looks_like_path:
        return load_preset(path)
    if text in bundled_names():
        return load_bundled(text)
    if path.exists():
        return load_preset(path)  # e.g. a folder: the "cannot read" message says why
    return load_bundled(text)  # refuses, listing the bundled names
