"""The pieces every explanation is made of, and how they are written out as text.

A CellRef names a cell (0-based, like the arrays); a Term is one line of a step
(`label   operands = value`); a Step groups terms and the number they give; an
Explanation is the steps behind one cell. `Explanation.render` writes them for a
monospace font with 10 significant digits and the window's 1-based numbering.
Used by `selfattn.explain`, `selfattn.explain_rope` and the walk-through.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

import numpy as np

from .attention import AttentionResult
from .numbers import EXPLAIN_DIGITS, significant
from .preset import Preset

WIDTH = 88  # the longest rendered prose line; the Explain panel does not wrap
LABEL_CHARS = 16  # token labels longer than this are shortened with "…"


@dataclass(frozen=True)
class CellRef:
    """A cell of the result (or of the preset's W_O / b_O) that a term comes from."""

    matrix: str  # "q", "k", "v", "scores", "scaled_scores", "weights", "context", "output",
    # "w_output" or "b_output"
    head: int | None  # for per-head matrices, else None
    row: int
    col: int


@dataclass(frozen=True)
class Term:
    """One line of a step: `label   operands (combined by op) = value`.

    op is "×" (a product), "/" (a quotient), "exp" (exp(a − b), a max-subtracted
    exponential), "rot−" / "rot+" (a × b ∓ c × d, a RoPE pair turning) or "" (the
    value on its own).
    """

    label: str
    value: float
    operands: tuple[float, ...] = ()
    op: str = ""
    refs: tuple[CellRef, ...] = ()  # where the operands (or the value) come from
    note: str = ""


@dataclass(frozen=True)
class Step:
    """A labelled group of terms and the number they produce.

    combine says how the terms give the result: "sum" (result = Σ values), "max"
    (result = the largest value) or "" (the single term's value is the result).
    """

    label: str
    terms: tuple[Term, ...]
    result: float
    result_label: str
    combine: str = "sum"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Explanation:
    """The arithmetic behind one cell; `value` is the result's own number for it.

    `lead` is the answer that comes before any arithmetic, e.g. why a masked cell's
    weight is 0: a learner should not have to read the steps to find it.
    """

    title: str
    cell: CellRef
    value: float
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    lead: tuple[str, ...] = ()

    def render(self, width: int = WIDTH) -> str:
        """The steps as plain text for a monospace font, numbers aligned, 10 significant digits.

        Prose is wrapped at `width` characters (a panel may pass how many columns it shows);
        aligned term lines are never wrapped. The title is not repeated: the panel shows it
        above the text.
        """
        lines: list[str] = []
        for paragraph in self.lead:
            lines.extend(_wrap(paragraph, "", "  ", width))
        for number, step in enumerate(self.steps, start=1):
            if lines:
                lines.append("")
            lines.extend(_wrap(f"{number}. {step.label}", "", "   ", width))
            lines.extend(_render_step(step, width))
        if self.notes:
            lines.append("")
            for note in self.notes:
                lines.extend(_wrap(note, "", "  ", width))
        return "\n".join(lines) + "\n"


# Formatting -------------------------------------------------------------------


def format_number(x: float) -> str:
    """10 significant digits, everywhere the same: 0.4319371007, 4, -inf."""
    return significant(x, EXPLAIN_DIGITS, ascii_minus=True)


def _decimal_align(texts: list[str]) -> list[str]:
    """Pad numbers so their decimal points (or ends) line up in a column."""
    heads, tails = [], []
    for t in texts:
        cut = len(t)
        for mark in (".", "e"):
            pos = t.find(mark)
            if pos != -1:
                cut = min(cut, pos)
        heads.append(t[:cut])
        tails.append(t[cut:])
    hw = max((len(h) for h in heads), default=0)
    tw = max((len(t) for t in tails), default=0)
    return [h.rjust(hw) + t.ljust(tw) for h, t in zip(heads, tails, strict=True)]


_TEMPLATES = {
    "exp": "exp({0} − {1})",
    "×": "{0} × {1}",
    "/": "{0} / {1}",
    "rot−": "{0} × {1} − {2} × {3}",  # a RoPE pair's first value: u cos − w sin
    "rot+": "{0} × {1} + {2} × {3}",  # and its second: w cos + u sin
}


def _formula(term: Term, operands: list[str]) -> str:
    """The operand part of a line, e.g. "1 × 4" or "exp(1.15 − 2.31)"."""
    template = _TEMPLATES.get(term.op)
    if template is not None and len(operands) == template.count("{"):
        return template.format(*operands)
    return "  ".join(operands)


def _wrap(text: str, indent: str, hanging: str, width: int) -> list[str]:
    """Prose at most `width` characters a line; continuation lines get the hanging indent."""
    return textwrap.wrap(
        text,
        width=max(width, len(hanging) + 8),  # a silly small width still makes progress
        initial_indent=indent,
        subsequent_indent=hanging,
        break_on_hyphens=False,  # keep "-inf" and "x1-x2" whole
    ) or [indent.rstrip()]


def _render_step(step: Step, width: int) -> list[str]:
    terms = step.terms
    n_ops = max((len(t.operands) for t in terms), default=0)
    # Align each operand position over the step's terms (they share one op).
    columns = [
        _decimal_align([format_number(t.operands[c]) if c < len(t.operands) else "" for t in terms])
        for c in range(n_ops)
    ]
    rows = [
        (
            t.label,
            _formula(t, [columns[c][r] for c in range(len(t.operands))]),
            format_number(t.value),
            t.note,
        )
        for r, t in enumerate(terms)
    ]
    values = _decimal_align([v for _, _, v, _ in rows] + [format_number(step.result)])
    result_label = {"sum": "sum", "max": "max"}.get(step.combine, "")
    result_text = f"{result_label}: {step.result_label}" if result_label else step.result_label
    shows_result = step.combine in ("sum", "max") or not rows
    label_width = max((len(r[0]) for r in rows), default=0)
    formula_width = max((len(r[1]) for r in rows), default=0)
    lefts = [
        label.ljust(label_width) + (f"  {formula.ljust(formula_width)}" if formula_width else "")
        for label, formula, _, _ in rows
    ]
    # The result's label may run into the formula column, which is empty on its line.
    left_width = max([len(t) for t in lefts] + [len(result_text) if shows_result else 0])
    out = []
    for left, (_, _, _, note), value in zip(lefts, rows, values, strict=False):
        line = f"   {left.ljust(left_width)}  = {value}"
        if note:
            line += f"  {note}"
        out.append(line.rstrip())
    if shows_result:
        out.append(f"   {result_text.ljust(left_width)}  = {values[-1]}".rstrip())
    elif step.result_label:
        out.extend(_wrap(f"→ {step.result_label}", "   ", "     ", width))
    for note in step.notes:
        out.extend(_wrap(note, "   ", "     ", width))
    return out


# Checks -----------------------------------------------------------------------


def _tolerance(result: AttentionResult, magnitude: float, count: int) -> float:
    eps = float(np.finfo(np.dtype(result.dtype)).eps)
    tiny = float(np.finfo(np.dtype(result.dtype)).tiny)
    return 4 * eps * max(count, 1) * magnitude + tiny


def _sum_note(result: AttentionResult, terms: list[Term], stored: float) -> tuple[str, ...]:
    """A note when the displayed terms do not add up to the stored number (float32 rounding)."""
    values = [t.value for t in terms]
    total = math.fsum(values)
    magnitude = math.fsum(abs(v) for v in values)
    if abs(total - stored) <= _tolerance(result, magnitude, len(values)):
        return ()
    return (
        f"(the terms add up to {format_number(total)} exactly; the stored {result.dtype} "
        f"value differs by {format_number(stored - total)} through rounding)",
    )


def _quotient_note(result: AttentionResult, computed: float, stored: float) -> tuple[str, ...]:
    if abs(computed - stored) <= _tolerance(result, abs(computed), 1):
        return ()
    return (f"(recomputed here as {format_number(computed)}; stored as {format_number(stored)})",)


# Shared pieces ----------------------------------------------------------------
# Everything below that builds text turns the 0-based indices into the window's
# 1-based row numbers and column labels.


def _check_head(result: AttentionResult, head: int) -> None:
    if not 0 <= head < result.heads:
        raise IndexError(f"head {head} out of range: the result has {result.heads} head(s)")


def _check_cell(name: str, index: int, size: int) -> None:
    if not 0 <= index < size:
        raise IndexError(f"{name} {index} out of range 0..{size - 1}")


def _short(label: str) -> str:
    """A token label on one line, cut to LABEL_CHARS so term lines stay short."""
    label = "".join(" " if ch.isspace() else ch for ch in label)  # a tab or newline too
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _tok(labels: tuple[str, ...], index: int) -> str:
    return f"'{_short(labels[index])}'" if index < len(labels) else ""


def _query(preset: Preset, i: int) -> str:
    """E.g. "query 2 'cat'": the row number of the tables and the token's label."""
    return f"query {i + 1} {_tok(preset.tokens, i)}".rstrip()


def _key(preset: Preset, j: int) -> str:
    return f"key {j + 1} {_tok(preset.key_tokens, j)}".rstrip()


def _head_text(result: AttentionResult, head: int) -> str:
    return f"head {head + 1} of {result.heads}" if result.heads > 1 else "head 1"


def _span(prefix: str, d: int) -> str:
    """A head's column labels: "q1" or "q1..q3"."""
    return f"{prefix}1" if d == 1 else f"{prefix}1..{prefix}{d}"


def _table_span(prefix: str, head: int, d: int) -> str:
    """The same columns as the several-head tables label them: "h2:q1..h2:q3"."""
    h = f"h{head + 1}:"
    return f"{h}{prefix}1" if d == 1 else f"{h}{prefix}1..{h}{prefix}{d}"


def _numbers(indices: list[int]) -> str:
    """1-based numbers with runs shortened: [3, 4, 5, 6, 8] -> "4..7, 9"."""
    parts: list[str] = []
    start = 0
    while start < len(indices):
        stop = start
        while stop + 1 < len(indices) and indices[stop + 1] == indices[stop] + 1:
            stop += 1
        first, last = indices[start] + 1, indices[stop] + 1
        if stop - start >= 2:
            parts.append(f"{first}..{last}")
        else:
            parts.extend(str(n) for n in range(first, last + 1))
        start = stop + 1
    return ", ".join(parts)
