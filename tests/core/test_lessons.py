"""The lesson index (resources/lessons.json): every bundled preset exactly once, in
lesson order, each with a one-line summary; menus and `selfattn presets` follow it.

The truth here is the index file and the preset files read directly with json,
not through selfattn.bundled.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfattn import bundled
from selfattn.bundled import lessons, parse_lesson_index, read_lesson_index
from selfattn.cli import main

ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "resources" / "lessons.json"
PRESETS = ROOT / "resources" / "presets"


def index_entries() -> list[dict[str, str]]:
    return json.loads(INDEX.read_text(encoding="utf-8"))["lessons"]


def preset_files() -> list[str]:
    return sorted(path.stem for path in PRESETS.glob("*.json"))


def test_index_lists_every_preset_file_exactly_once():
    listed = [entry["preset"] for entry in index_entries()]
    assert len(listed) == len(set(listed)), "a preset is listed twice"
    assert sorted(listed) == preset_files(), (
        "resources/lessons.json and resources/presets/*.json disagree: add the new preset "
        "to the lesson index, or remove the entry whose file is gone"
    )


def test_bundled_index_has_no_problems():
    _entries, problems = read_lesson_index()
    assert problems == []


def test_lesson_order_starts_with_the_seed_example_and_ends_with_real_models():
    names = [entry["preset"] for entry in index_entries()]
    assert names[0] == "seed-example"
    real = [i for i, name in enumerate(names) if name.startswith("real-")]
    assert real == list(range(len(names) - len(real), len(names))), "real models come last"
    # a step a learner takes builds on the one before: masks after scaling, heads after masks
    assert names.index("seed-example-unscaled") < names.index("causal-the-cat-sat")
    assert names.index("causal-the-cat-sat") < names.index("padding-mask")
    assert names.index("padding-mask") < names.index("two-heads-self-and-previous")
    assert names.index("two-heads-self-and-previous") < names.index("cross-attention-translation")


@pytest.mark.parametrize("entry", index_entries(), ids=lambda e: e["preset"])
def test_every_summary_is_one_short_line_of_its_own(entry):
    summary = entry["summary"]
    data = json.loads((PRESETS / f"{entry['preset']}.json").read_text(encoding="utf-8"))
    assert summary == summary.strip() and "\n" not in summary
    assert 20 <= len(summary) <= bundled.MAX_SUMMARY_CHARS
    assert summary.lower() != data["name"].lower()  # says something the name does not


def test_lessons_follow_the_index_numbered_with_the_presets_own_names():
    entries = index_entries()
    got = lessons()
    assert [lesson.name for lesson in got] == [e["preset"] for e in entries]
    assert [lesson.number for lesson in got] == list(range(1, len(entries) + 1))
    for lesson, entry in zip(got, entries, strict=True):
        data = json.loads((PRESETS / f"{entry['preset']}.json").read_text(encoding="utf-8"))
        assert lesson.title == data["name"]
        assert lesson.summary == entry["summary"]
        assert lesson.label == f"{lesson.number}. {data['name']} — {entry['summary']}"
    assert got[0].label.startswith("1. Seed example — ")


def index_bytes(*entries: object) -> bytes:
    return json.dumps({"lessons": list(entries)}).encode()


def test_an_index_entry_without_a_file_is_a_problem():
    raw = index_bytes({"preset": "a", "summary": "first"}, {"preset": "gone", "summary": "x"})
    entries, problems = parse_lesson_index(raw, {"a"})
    assert entries == [("a", "first")]
    assert problems == [
        "resources/lessons.json: lesson 2: no preset file resources/presets/gone.json"
    ]


def test_a_preset_missing_from_the_index_is_a_problem():
    entries, problems = parse_lesson_index(index_bytes({"preset": "a", "summary": "s"}), {"a", "b"})
    assert entries == [("a", "s")]
    assert problems == ["resources/lessons.json: the preset 'b' is not in the lesson index"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "cannot read the lesson index"),
        (b"[]", 'expected an object with a list "lessons"'),
        (index_bytes("a"), 'lesson 1: expected an object with "preset" and "summary"'),
        (index_bytes({"preset": "a"}), 'lesson 1: "preset" and "summary" must be texts'),
        (
            index_bytes({"preset": "a", "summary": "s"}, {"preset": "a", "summary": "t"}),
            "'a' is listed twice",
        ),
        (
            index_bytes({"preset": "a", "summary": "two\nlines"}),
            "lesson 1 (a): the summary must be one line",
        ),
        (index_bytes({"preset": "a", "summary": "x" * 101}), "got 101"),
        (index_bytes({"preset": "a", "summary": "  "}), "the summary must be one line"),
    ],
)
def test_malformed_indexes_are_refused_naming_the_entry(raw, fragment):
    _entries, problems = parse_lesson_index(raw, {"a"})
    assert any(fragment in problem for problem in problems), problems


def test_a_preset_left_out_of_the_index_is_still_listed_last(monkeypatch):
    """The program never hides a preset; only the tests refuse the incomplete index."""
    partial = ([("seed-example", "the first lesson")], ["(problems)"])
    monkeypatch.setattr(bundled, "read_lesson_index", lambda: partial)
    bundled.lessons.cache_clear()
    try:
        got = lessons()
    finally:
        monkeypatch.undo()
        bundled.lessons.cache_clear()
    assert [lesson.name for lesson in got] == ["seed-example"] + [
        name for name in preset_files() if name != "seed-example"
    ]
    assert got[0].summary == "the first lesson"
    temperature = next(lesson for lesson in got if lesson.name == "temperature")
    data = json.loads((PRESETS / "temperature.json").read_text(encoding="utf-8"))
    first_sentence = data["description"].split(". ")[0] + "."
    assert len(first_sentence) > bundled.MAX_SUMMARY_CHARS  # cut to one menu line
    assert len(temperature.summary) == bundled.MAX_SUMMARY_CHARS
    assert temperature.summary == first_sentence[: bundled.MAX_SUMMARY_CHARS - 1] + "…"


def test_presets_command_prints_the_lessons_in_index_order(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    entries = index_entries()
    assert len(lines) == len(entries)
    for number, (line, entry) in enumerate(zip(lines, entries, strict=True), start=1):
        name, rest = line.split(maxsplit=1)
        data = json.loads((PRESETS / f"{entry['preset']}.json").read_text(encoding="utf-8"))
        assert name == entry["preset"]
        assert rest == f"{number}. {data['name']} — {entry['summary']}"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@given(
    raw=st.binary(max_size=64)
    | json_values.map(lambda v: json.dumps({"lessons": v}).encode())
    | st.lists(
        st.fixed_dictionaries(
            {"preset": st.sampled_from(["a", "b", "c", "gone"]), "summary": st.text(max_size=12)}
        ),
        max_size=5,
    ).map(lambda entries: json.dumps({"lessons": entries}).encode())
)
def test_any_index_gives_known_presets_once_or_a_problem(raw):
    """Whatever the file holds: no exception, only existing presets, each once, and a
    clean result only when every preset is listed."""
    names = {"a", "b", "c"}
    entries, problems = parse_lesson_index(raw, names)
    listed = [name for name, _ in entries]
    assert set(listed) <= names and len(listed) == len(set(listed))
    if not problems:
        assert set(listed) == names
        assert all(summary.strip() and "\n" not in summary for _, summary in entries)
