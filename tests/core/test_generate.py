"""The generation loop and its files, over a hand-made model whose every number is known.

The toy model ("bigram") gives logits that depend only on the last token, from a
table written below, and an attention row that records which keys it saw. So
every chosen token, probability and call can be worked out by hand. The real
decoder is checked against transformers in tests/core/test_generate_model.py.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfattn.generate import (
    STEPS_COLUMNS,
    Generation,
    GenerationError,
    Step,
    StepOutput,
    generate,
    iter_generate,
    read_token_cell,
    steps_rows,
    token_cell,
    write_outputs,
)
from selfattn.sampling import Sampling

EOS = 4
WORDS = ["<s>", " the", " cat", " sat", "</s>", "a,b", 'say "hi"', "x|y", "new\nline"]
# next-token logits after each token: row i = logits after token i
LOG = math.log
TABLE = np.full((len(WORDS), len(WORDS)), -np.inf)
TABLE[0, [1, 2]] = [LOG(3), LOG(1)]  # <s> -> " the" 3/4, " cat" 1/4
TABLE[1, [2, 3]] = [LOG(1), LOG(1)]  # " the" -> " cat" / " sat" tie: greedy takes id 2
TABLE[2, [3, 5]] = [LOG(7), LOG(1)]  # " cat" -> " sat" 7/8
TABLE[3, [4, 6]] = [LOG(5), LOG(3)]  # " sat" -> </s> 5/8
TABLE[4, 0] = 0.0
TABLE[5:, 7] = 0.0


class Bigram:
    """A Stepper: remembers every id it has seen (its "cache"); attention row j of a new
    token is 1/(number of keys) for every key (uniform), shape (1 layer, 2 heads, new, keys)."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.calls: list[list[int]] = []

    def __call__(self, new_ids: Sequence[int]) -> StepOutput:
        self.calls.append(list(new_ids))
        start = len(self.seen)
        self.seen.extend(new_ids)
        keys = len(self.seen)
        attention = np.zeros((1, 2, len(new_ids), keys))
        for r in range(len(new_ids)):
            attention[:, :, r, : start + r + 1] = 1.0 / (start + r + 1)
        return StepOutput(logits=TABLE[self.seen[-1]].copy(), attention=attention)


def decode(ids: Sequence[int]) -> str:
    return "".join(WORDS[i] for i in ids)


def test_greedy_follows_the_largest_probability_and_stops_at_eos():
    model = Bigram()
    gen = generate(model, [0], decode=decode, max_new_tokens=10, eos_ids=[EOS], top=2)
    # <s> -> the (3/4) -> cat (tie with sat: lowest id) -> sat (7/8) -> </s> (5/8)
    assert gen.new_ids == (1, 2, 3, 4)
    assert gen.stopped_by == "eos"
    assert gen.text == "<s> the cat sat</s>"
    assert [s.prob for s in gen.steps] == pytest.approx([3 / 4, 1 / 2, 7 / 8, 5 / 8], rel=1e-15)
    assert [s.position for s in gen.steps] == [1, 2, 3, 4]
    assert [s.step for s in gen.steps] == [1, 2, 3, 4]


def test_the_prompt_runs_once_then_one_new_token_per_step():
    model = Bigram()
    generate(model, [0, 1], decode=decode, max_new_tokens=10, eos_ids=[EOS])
    # the chosen EOS is not run: nothing follows it
    assert model.calls == [[0, 1], [2], [3]]


def test_with_attention_the_last_token_is_run_too_and_each_step_has_its_row():
    model = Bigram()
    gen = generate(model, [0], decode=decode, max_new_tokens=3, keep_attention=True)
    assert model.calls == [[0], [1], [2], [3]]
    assert gen.stopped_by == "limit"
    assert gen.prompt_attention.shape == (1, 2, 1, 1)
    for step in gen.steps:
        # the new token at `position` sees keys 0 .. position, uniformly in this toy
        assert step.attention.shape == (1, 2, step.position + 1)
        np.testing.assert_array_equal(step.attention, 1.0 / (step.position + 1))


def test_the_step_limit_stops_before_eos():
    gen = generate(Bigram(), [0], decode=decode, max_new_tokens=2, eos_ids=[EOS])
    assert gen.new_ids == (1, 2)
    assert gen.stopped_by == "limit"


def test_top_alternatives_are_listed_most_probable_first_with_t1_probabilities():
    gen = generate(
        Bigram(),
        [3],
        decode=decode,
        max_new_tokens=1,
        top=3,
        sampling=Sampling(temperature=5.0, seed=1),
    )
    step = gen.steps[0]
    # 5/8 and 3/8, then the zero-probability ids from the lowest
    assert step.top_ids == (4, 6, 0)
    assert step.top_tokens == ("</s>", 'say "hi"', "<s>")
    assert step.top_probs == pytest.approx((5 / 8, 3 / 8, 0.0), rel=1e-15)
    # the record shows T = 1 probabilities whatever temperature the draw used
    assert step.prob == pytest.approx(5 / 8 if step.token_id == 4 else 3 / 8, rel=1e-15)


def test_sampling_is_reproducible_with_a_seed_and_varies_between_seeds():
    def run(seed: int) -> tuple[int, ...]:
        s = Sampling(temperature=1.0, seed=seed)
        return generate(Bigram(), [0], decode=decode, max_new_tokens=4, sampling=s).new_ids

    assert run(7) == run(7)
    assert len({run(seed) for seed in range(30)}) > 1


def test_a_caller_can_stop_after_any_step():
    model = Bigram()
    steps = iter_generate(model, [0], decode=decode, max_new_tokens=50)
    first = next(steps)
    steps.close()
    assert first.token_id == 1
    assert model.calls == [[0], [1]]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"prompt_ids": []}, "no tokens"),
        ({"max_new_tokens": 0}, "at least 1"),
        ({"max_new_tokens": 2.0}, "whole number"),
        ({"top": 0}, "top"),
    ],
)
def test_bad_settings_are_refused_before_the_model_runs(kwargs, words):
    model = Bigram()
    args = {"prompt_ids": [0], "decode": decode, **kwargs}
    with pytest.raises(GenerationError, match=words):
        generate(model, args.pop("prompt_ids"), **args)
    assert model.calls == []


# ---------------------------------------------------------------- files


def _generation() -> Generation:
    steps = (
        Step(1, 3, 5, "a,b", 0.1, (5, 7), ("a,b", "x|y"), (0.1, 0.05)),
        Step(2, 4, 8, "new\nline", 1 / 3, (8, 6), ("new\nline", 'say "hi"'), (1 / 3, 2 / 3)),
    )
    return Generation(prompt_ids=(0, 1, 2), steps=steps, stopped_by="limit", text="t\u00e9xt\n")


def test_steps_csv_has_the_documented_columns_and_reads_back(tmp_path):
    written = write_outputs(_generation(), tmp_path / "new" / "dir")
    assert [p.name for p in written] == ["text.txt", "steps.csv"]
    with open(tmp_path / "new" / "dir" / "steps.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert (
        rows[0]
        == list(STEPS_COLUMNS)
        == [
            "step",
            "position",
            "token_id",
            "token",
            "prob",
            "top_ids",
            "top_tokens",
            "top_probs",
        ]
    )
    assert rows[1][:3] == ["1", "3", "5"]
    assert read_token_cell(rows[1][3]) == "a,b"
    assert rows[1][5] == "5|7"
    assert [read_token_cell(t) for t in rows[1][6].split("|")] == ["a,b", "x|y"]
    assert rows[2][3] == "new\\nline"  # one line per step
    assert [float(p) for p in rows[2][7].split("|")] == [1 / 3, 2 / 3]  # exact round trip
    assert float(rows[2][4]) == 1 / 3
    assert rows[2][7] == "0.3333333333333333|0.6666666666666666"  # shortest round-trip text
    assert (tmp_path / "new" / "dir" / "text.txt").read_text(encoding="utf-8") == "t\u00e9xt\n"


def test_every_row_lists_k_alternatives():
    rows = list(steps_rows(_generation().steps))[1:]
    for row in rows:
        counts = {len(row[c].split("|")) for c in (5, 6, 7)}
        assert counts == {2}


def test_writing_leaves_no_temporary_files(tmp_path):
    write_outputs(_generation(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps.csv", "text.txt"]


@given(st.text(max_size=40))
def test_token_cells_are_one_line_without_bars_and_read_back(text):
    cell = token_cell(text)
    assert "|" not in cell and "\n" not in cell and "\r" not in cell
    assert read_token_cell(cell) == text


def test_token_cell_escapes_by_hand():
    assert token_cell(" the") == " the"
    assert token_cell("a|b\\c\td\x00\u200b\U0001f600") == "a\\x7cb\\\\c\\td\\x00\\u200b\U0001f600"
