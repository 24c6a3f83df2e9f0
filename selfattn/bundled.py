"""Presets shipped inside the package, found with importlib.resources (never the CWD)."""

from __future__ import annotations

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


def bundled_descriptions() -> list[tuple[str, str, str]]:
    """(name, title, description) of every bundled preset."""
    out = []
    for name in bundled_names():
        preset = load_bundled(name)
        out.append((name, preset.name, preset.description))
    return out


def resolve_preset(spec: str | os.PathLike[str]) -> Preset:
    """A path to a preset file, or the name of a bundled preset."""
    path = Path(spec)
    if path.exists() or path.suffix.lower() == ".json" or os.sep in str(spec):
        return load_preset(path)
    return load_bundled(str(spec))
