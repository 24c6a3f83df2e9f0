"""Presets shipped inside the package, found with importlib.resources (never the CWD)."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .preset import Preset, PresetError, load_preset, parse_preset

_PACKAGE = "resources.presets"
LESSON_INDEX = "lessons.json"  # in the ``resources`` package: lesson order and summaries
MAX_SUMMARY_CHARS = 100  # a summary is one line of a menu


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


@dataclass(frozen=True)
class Lesson:
    """A bundled preset in its place in the lessons: number (1-based), file stem, the
    preset's own name, the index's one-line summary and the preset's description."""

    number: int
    name: str
    title: str
    summary: str
    description: str

    @property
    def label(self) -> str:
        """What menus and ``selfattn presets`` show: "3. Temperature — summary"."""
        return f"{self.number}. {self.title} \u2014 {self.summary}"


def _first_sentence(text: str, limit: int = MAX_SUMMARY_CHARS) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    if end != -1:
        text = text[: end + 1]
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def read_lesson_index() -> tuple[list[tuple[str, str]], list[str]]:
    """The bundled lesson index checked against the bundled preset files."""
    try:
        raw = resources.files("resources").joinpath(LESSON_INDEX).read_bytes()
    except OSError as exc:
        return [], [f"resources/{LESSON_INDEX}: cannot read the lesson index: {exc}"]
    return parse_lesson_index(raw, set(bundled_names()))


def parse_lesson_index(raw: bytes, names: set[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """The index's (preset, summary) entries in lesson order, and every problem found:
    unreadable JSON, a malformed entry, a duplicate, a summary that is not one short
    line, an entry without a preset file, a preset file (of ``names``) left out."""
    problems: list[str] = []
    entries: list[tuple[str, str]] = []
    where = f"resources/{LESSON_INDEX}"
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return [], [f"{where}: cannot read the lesson index: {exc}"]
    items = data.get("lessons") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return [], [f'{where}: expected an object with a list "lessons"']
    seen: set[str] = set()
    for number, item in enumerate(items, start=1):
        at = f"{where}: lesson {number}"
        if not isinstance(item, dict):
            problems.append(f'{at}: expected an object with "preset" and "summary"')
            continue
        name, summary = item.get("preset"), item.get("summary")
        if not isinstance(name, str) or not isinstance(summary, str):
            problems.append(f'{at}: "preset" and "summary" must be texts')
            continue
        if name in seen:
            problems.append(f"{at}: {name!r} is listed twice")
            continue
        seen.add(name)
        if name not in names:
            problems.append(f"{at}: no preset file resources/presets/{name}.json")
            continue
        if not summary.strip() or "\n" in summary or len(summary) > MAX_SUMMARY_CHARS:
            problems.append(
                f"{at} ({name}): the summary must be one line of 1 to {MAX_SUMMARY_CHARS} "
                f"characters, got {len(summary)}"
            )
            summary = _first_sentence(summary) or name
        entries.append((name, summary.strip()))
    for name in sorted(names - seen):
        problems.append(f"{where}: the preset {name!r} is not in the lesson index")
    return entries, problems


@functools.lru_cache(maxsize=1)
def lessons() -> tuple[Lesson, ...]:
    """Every bundled preset in lesson order, numbered, with its summary.

    Never fails: a preset the index leaves out comes last with its description's first
    sentence as summary (the tests refuse such an index; the program still lists it).
    """
    entries, _problems = read_lesson_index()
    described = {name: (title, text) for name, title, text in bundled_descriptions()}
    listed = {name for name, _ in entries}
    entries += [
        (name, _first_sentence(text)) for name, (_, text) in described.items() if name not in listed
    ]
    return tuple(
        Lesson(number, name, described[name][0], summary, described[name][1])
        for number, (name, summary) in enumerate(entries, start=1)
    )


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
