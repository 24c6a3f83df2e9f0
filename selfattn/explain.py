"""Where does this number come from? One cell's arithmetic, written out with its numbers.

Every explanation is built from the numbers of an `AttentionResult` (the q, k, v,
scores, logits, weights, context and output arrays), so what a learner reads is
what the program computed. Intermediate values the result does not store (the
products of a dot product, the max-subtracted exponentials and their sum) are
recomputed here for display only; the stated total of each step is always the
result's own number, and a step whose terms do not add up to it (beyond
rounding) says so in a note.

    ex = explain_weight(preset, result, head=0, i=0, j=1)
    print(ex.title)     # Weight  query 1 'input_1' → key 2 'input_2'  (head 1) = 0.4319371012
    print(ex.render())  # the steps, starting with "1. Raw score: ..."

The arguments and the structured data (CellRef) are 0-based like the arrays
(`result.weights[head, i, j]`). Everything rendered speaks the window's language
instead: rows, heads and keys count from 1, and columns are named by the tables'
labels (q1.., k1.., v1.., c1.., o1..; head-local, with the head said in words).
Rendered prose is wrapped at 88 characters so nothing is cut off in the panel.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

import numpy as np

from .attention import AttentionResult
from .numbers import EXPLAIN_DIGITS, significant
from .preset import Preset

MATRICES = ("scores", "scaled_scores", "weights", "context", "output")

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
    exponential) or "" (the value on its own).
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
    """The arithmetic behind one cell; `value` is the result's own number for it."""

    title: str
    cell: CellRef
    value: float
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()

    def render(self, width: int = WIDTH) -> str:
        """The steps as plain text for a monospace font, numbers aligned, 10 significant digits.

        Prose is wrapped at `width` characters (a panel may pass how many columns it shows);
        aligned term lines are never wrapped. The title is not repeated: the panel shows it
        above the text.
        """
        lines: list[str] = []
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


_TEMPLATES = {"exp": "exp({0} − {1})", "×": "{0} × {1}", "/": "{0} / {1}"}


def _formula(term: Term, operands: list[str]) -> str:
    """The operand part of a line, e.g. "1 × 4" or "exp(1.15 − 2.31)"."""
    template = _TEMPLATES.get(term.op)
    if template is not None and len(operands) == 2:
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


def _scale_text(preset: Preset, result: AttentionResult) -> str:
    scale = preset.options.scale
    if scale == "sqrt_dk":
        return f"scale = sqrt(d_k) = sqrt({result.d_k}) = {format_number(result.scale)}"
    if scale == "none":
        return "scale = none (1)"
    return f"scale = custom {format_number(result.scale)}"


def _mask_reasons(preset: Preset, i: int, j: int) -> list[str]:
    reasons = []
    if preset.options.causal and j > i:
        reasons.append(
            f"Causal mask: {_key(preset, j)} comes after {_query(preset, i)}, and with "
            "'causal' ticked in Options a query may only look at itself and earlier keys."
        )
    key_mask = preset.options.key_mask
    if key_mask is not None and j < len(key_mask) and not key_mask[j]:
        tab = "Source" if preset.source_inputs is not None else "Tokens"
        reasons.append(
            f"Key mask: {_key(preset, j)} is masked (its 'attend' box is unticked in the "
            f"Inputs panel's {tab} tab, e.g. a padding token), so no query may attend to it."
        )
    return reasons or ["Masked: this key is not visible to this query."]


def _fully_masked_note(preset: Preset, i: int) -> str:
    return (
        f"Row {i + 1} ({_query(preset, i)}) is fully masked: every key is hidden from this "
        "query, so the softmax has nothing to normalise. By convention the whole row's "
        "weights are 0 (never NaN) and its context is 0."
    )


def _dot_step(preset: Preset, result: AttentionResult, head: int, i: int, j: int) -> Step:
    """Raw score = Q row i · K row j over the head's column block of Q and K."""
    d_k = result.d_k
    terms = []
    for t in range(d_k):
        col = head * d_k + t  # the column of Q and K
        a, b = float(result.q[i, col]), float(result.k[j, col])
        terms.append(
            Term(
                label=f"Q[{i + 1},q{t + 1}] × K[{j + 1},k{t + 1}]",
                value=a * b,  # exact in float64 for float32 operands too
                operands=(a, b),
                op="×",
                refs=(CellRef("q", None, i, col), CellRef("k", None, j, col)),
            )
        )
    stored = float(result.scores[head, i, j])
    q_cols, k_cols = _span("q", d_k), _span("k", d_k)
    if result.heads > 1:
        how = (
            f" over head {head + 1}'s columns: multiply {q_cols} by {k_cols} "
            f"({_table_span('q', head, d_k)} and {_table_span('k', head, d_k)} in the tables)"
        )
    else:
        how = f": multiply Q's {q_cols} by K's {k_cols}"
    return Step(
        label=f"Raw score = Q row {i + 1} · K row {j + 1}{how} pair by pair and add (d_k = {d_k})",
        terms=tuple(terms),
        result=stored,
        result_label=f"score[{i + 1},{j + 1}]",
        combine="sum",
        notes=_sum_note(result, terms, stored),
    )


def _logit_step(preset: Preset, result: AttentionResult, head: int, i: int, j: int) -> Step:
    """Scaled score (logit) = raw score / (scale × temperature), or -inf when masked."""
    score = float(result.scores[head, i, j])
    logit = float(result.scaled_scores[head, i, j])
    notes = [
        _scale_text(preset, result),
        f"temperature T = {format_number(result.temperature)}",
        f"divisor = scale × T = {format_number(result.divisor)}",
    ]
    if not result.mask[i, j]:
        notes.extend(_mask_reasons(preset, i, j))
        notes.append("A masked cell's scaled score is -inf, so its exponential is exactly 0.")
        term = Term(label="masked", value=logit)
    else:
        term = Term(
            label="score / divisor",
            value=logit,
            operands=(score, float(result.divisor)),
            op="/",
            refs=(CellRef("scores", head, i, j),),
        )
        computed = float(np.asarray(score, dtype=result.dtype) / result.divisor)
        notes.extend(_quotient_note(result, computed, logit))
    return Step(
        label="Scaled score (the logit): the raw score divided by scale × temperature",
        terms=(term,),
        result=logit,
        result_label=f"scaled[{i + 1},{j + 1}]",
        combine="",
        notes=tuple(notes),
    )


def _row_exponentials(result: AttentionResult, head: int, i: int) -> tuple[np.ndarray, float]:
    """The max-subtracted exponentials of row i and their sum, as the softmax computes them."""
    logits = np.asarray(result.scaled_scores[head, i])  # (m,), -inf where masked
    row_max = logits.max()
    e = np.exp(logits - row_max)  # in the result's dtype; masked cells give exact 0
    return e, float(e.sum())


def _softmax_steps(
    preset: Preset, result: AttentionResult, head: int, i: int, j: int
) -> list[Step]:
    logits = result.scaled_scores[head, i]
    visible = [jj for jj in range(result.n_keys) if result.mask[i, jj]]
    hidden = [jj for jj in range(result.n_keys) if not result.mask[i, jj]]
    plural = "s" if len(hidden) > 1 else ""
    hidden_note = (
        (f"Masked key{plural} {_numbers(hidden)} left out (scaled score -inf, exp 0).",)
        if hidden
        else ()
    )
    row_max = float(logits[visible].max())
    max_terms = [
        Term(
            label=_key(preset, jj),
            value=float(logits[jj]),
            refs=(CellRef("scaled_scores", head, i, jj),),
            note="← this cell" if jj == j else "",
        )
        for jj in visible
    ]
    e, total = _row_exponentials(result, head, i)
    exp_terms = [
        Term(
            label=_key(preset, jj),
            value=float(e[jj]),
            operands=(float(logits[jj]), row_max),
            op="exp",
            refs=(CellRef("scaled_scores", head, i, jj),),
            note="← this cell" if jj == j else "",
        )
        for jj in visible
    ]
    return [
        Step(
            label=(
                f"Row {i + 1} ({_query(preset, i)}): the scaled scores of the visible keys "
                "and their maximum"
            ),
            terms=tuple(max_terms),
            result=row_max,
            result_label=f"row {i + 1}",
            combine="max",
            notes=hidden_note,
        ),
        Step(
            label="Max-subtracted exponentials exp(scaled score − max) and their sum",
            terms=tuple(exp_terms),
            result=total,
            result_label="Σ exp",
            combine="sum",
            notes=("Subtracting the row max changes no weight but keeps exp from overflowing.",),
        ),
    ]


def _title(kind: str, where: str, value: float) -> str:
    """A short heading for the panel's label, e.g. "Weight  query 1 'a' → key 2 'b' = 0.43"."""
    return f"{kind}  {where} = {format_number(value)}"


def _pair(preset: Preset, result: AttentionResult, head: int, i: int, j: int) -> str:
    return f"{_query(preset, i)} → {_key(preset, j)}  ({_head_text(result, head)})"


def _check_score_cell(result: AttentionResult, head: int, i: int, j: int) -> None:
    _check_head(result, head)
    _check_cell("query", i, result.n_queries)
    _check_cell("key", j, result.n_keys)


# Public explanations ------------------------------------------------------------


def explain_score(
    preset: Preset, result: AttentionResult, head: int, i: int, j: int
) -> Explanation:
    """A raw score S_h[i, j]: the dot product q_i · k_j over the head's columns."""
    _check_score_cell(result, head, i, j)
    value = float(result.scores[head, i, j])
    return Explanation(
        title=_title("Raw score", _pair(preset, result, head, i, j), value),
        cell=CellRef("scores", head, i, j),
        value=value,
        steps=(_dot_step(preset, result, head, i, j),),
    )


def explain_scaled_score(
    preset: Preset, result: AttentionResult, head: int, i: int, j: int
) -> Explanation:
    """A logit L_h[i, j]: the raw score divided by scale × temperature (or -inf if masked)."""
    _check_score_cell(result, head, i, j)
    value = float(result.scaled_scores[head, i, j])
    return Explanation(
        title=_title("Scaled score", _pair(preset, result, head, i, j), value),
        cell=CellRef("scaled_scores", head, i, j),
        value=value,
        steps=(_dot_step(preset, result, head, i, j), _logit_step(preset, result, head, i, j)),
    )


def explain_weight(
    preset: Preset, result: AttentionResult, head: int, i: int, j: int
) -> Explanation:
    """An attention weight A_h[i, j]: dot product, scaling, then the row's softmax."""
    _check_score_cell(result, head, i, j)
    stored = float(result.weights[head, i, j])
    steps = [_dot_step(preset, result, head, i, j), _logit_step(preset, result, head, i, j)]
    notes: list[str] = []
    cell = f"weight[{i + 1},{j + 1}]"
    if result.fully_masked[i]:
        notes.append(_fully_masked_note(preset, i))
        steps.append(
            Step(
                label="Weight",
                terms=(Term(label="fully masked row", value=stored),),
                result=stored,
                result_label=f"{cell} = 0 by convention",
                combine="",
            )
        )
    elif not result.mask[i, j]:
        # Why the key is masked is said in the scaled-score step's notes.
        steps.append(
            Step(
                label="Weight",
                terms=(Term(label="exp(-inf − max)", value=stored),),
                result=stored,
                result_label=f"{cell} = 0: masked keys get no weight",
                combine="",
            )
        )
    else:
        softmax = _softmax_steps(preset, result, head, i, j)
        steps.extend(softmax)
        e_j = next(t.value for t in softmax[1].terms if t.refs[0].col == j)
        total = softmax[1].result
        computed = float(np.asarray(e_j, dtype=result.dtype) / np.asarray(total, result.dtype))
        steps.append(
            Step(
                label="Weight = this key's exponential / the sum",
                terms=(
                    Term(
                        label="exp / Σ exp",
                        value=stored,
                        operands=(e_j, total),
                        op="/",
                        refs=(CellRef("weights", head, i, j),),
                    ),
                ),
                result=stored,
                result_label=cell,
                combine="",
                notes=_quotient_note(result, computed, stored),
            )
        )
    return Explanation(
        title=_title("Weight", _pair(preset, result, head, i, j), stored),
        cell=CellRef("weights", head, i, j),
        value=stored,
        steps=tuple(steps),
        notes=tuple(notes),
    )


def explain_context(
    preset: Preset, result: AttentionResult, head: int, i: int, c: int
) -> Explanation:
    """A context cell C_h[i, c] = Σ_j weight[i, j] × v_j[c] (c counts within the head)."""
    _check_head(result, head)
    _check_cell("query", i, result.n_queries)
    _check_cell("context column", c, result.d_v)
    col = head * result.d_v + c  # the column of V
    v_col = f"v{c + 1}"
    terms = []
    for j in range(result.n_keys):
        a, b = float(result.weights[head, i, j]), float(result.v[j, col])
        token = _tok(preset.key_tokens, j)
        terms.append(
            Term(
                label=f"weight[{i + 1},{j + 1}] × V[{j + 1},{v_col}]",
                value=a * b,
                operands=(a, b),
                op="×",
                refs=(CellRef("weights", head, i, j), CellRef("v", None, j, col)),
                note=f"{token} (masked)" if not result.mask[i, j] else token,
            )
        )
    stored = float(result.context[head, i, c])
    notes = [_fully_masked_note(preset, i)] if result.fully_masked[i] else []
    cell = f"context[{i + 1},c{c + 1}]"
    label = (
        f"{cell} = Σ over the {result.n_keys} keys of weight[{i + 1},key] × V[key,{v_col}]: "
        f"the weighted sum of V's column {v_col}"
    )
    if result.heads > 1:
        label += f" of head {head + 1} (h{head + 1}:{v_col} in the V table)"
    return Explanation(
        title=_title(
            "Context",
            f"{_query(preset, i)}, column c{c + 1}  ({_head_text(result, head)})",
            stored,
        ),
        cell=CellRef("context", head, i, c),
        value=stored,
        steps=(
            Step(
                label=label,
                terms=tuple(terms),
                result=stored,
                result_label=cell,
                combine="sum",
                notes=_sum_note(result, terms, stored),
            ),
        ),
        notes=tuple(notes),
    )


def _concat_col(result: AttentionResult, h: int, cc: int) -> str:
    """A column of the heads' contexts side by side, named as W_O's rows are: v1 or h2:v1."""
    return f"v{cc + 1}" if result.heads == 1 else f"h{h + 1}:v{cc + 1}"


def explain_output(preset: Preset, result: AttentionResult, i: int, c: int) -> Explanation:
    """An output cell: Σ_t concat_context[i, t] × W_O[t, c] (+ b_O[c]), or a context cell."""
    _check_cell("query", i, result.n_queries)
    _check_cell("output column", c, result.output.shape[1])
    stored = float(result.output[i, c])
    d_v = result.d_v
    bias = preset.b_output
    o_col = f"o{c + 1}"
    cell = f"output[{i + 1},{o_col}]"
    terms: list[Term] = []
    notes: list[str] = []
    if preset.w_output is not None:
        w_o = np.asarray(preset.w_output, dtype=result.dtype)
        for t in range(result.heads * d_v):
            h, cc = divmod(t, d_v)
            a, b = float(result.context[h, i, cc]), float(w_o[t, c])
            ctx_col = f"c{cc + 1}" if result.heads == 1 else f"h{h + 1}:c{cc + 1}"
            terms.append(
                Term(
                    label=(
                        f"context[{i + 1},{ctx_col}] × W_O[{_concat_col(result, h, cc)},{o_col}]"
                    ),
                    value=a * b,
                    operands=(a, b),
                    op="×",
                    refs=(CellRef("context", h, i, cc), CellRef("w_output", None, t, c)),
                )
            )
        label = (
            f"{cell} = the heads' contexts side by side ({result.heads} × d_v = "
            f"{result.heads * d_v} columns) times column {o_col} of W_O, product by product"
        )
        if result.heads > 1:
            notes.append(
                f"context[{i + 1},h{result.heads}:c1] is column c1 of the Context table "
                f"with head {result.heads} shown; W_O's rows are named the same way "
                f"(h{result.heads}:v1)."
            )
    else:
        h, cc = divmod(c, d_v)
        terms.append(
            Term(
                label=f"context[{i + 1},c{cc + 1}]"
                + (f" of head {h + 1}" if result.heads > 1 else ""),
                value=float(result.context[h, i, cc]),
                refs=(CellRef("context", h, i, cc),),
            )
        )
        label = f"{cell}: no W_O, so the output is the heads' contexts side by side"
        notes.append(
            f"Output column {o_col} is column c{cc + 1} of head {h + 1}'s context"
            + (", plus the output bias." if bias is not None else ".")
        )
    if bias is not None:
        b = float(np.asarray(bias, dtype=result.dtype)[c])
        terms.append(
            Term(
                label=f"b_O[{o_col}]", value=b, operands=(), refs=(CellRef("b_output", None, 0, c),)
            )
        )
        label += f", plus the output bias b_O[{o_col}]"
    return Explanation(
        title=_title("Output", f"{_query(preset, i)}, column {o_col}", stored),
        cell=CellRef("output", None, i, c),
        value=stored,
        steps=(
            Step(
                label=label,
                terms=tuple(terms),
                result=stored,
                result_label=cell,
                combine="sum",
                notes=_sum_note(result, terms, stored),
            ),
        ),
        notes=tuple(notes),
    )


def explain_cell(
    preset: Preset, result: AttentionResult, matrix: str, head: int, row: int, col: int
) -> Explanation:
    """Dispatch on the matrix name: scores, scaled_scores, weights, context or output."""
    if matrix == "scores":
        return explain_score(preset, result, head, row, col)
    if matrix == "scaled_scores":
        return explain_scaled_score(preset, result, head, row, col)
    if matrix == "weights":
        return explain_weight(preset, result, head, row, col)
    if matrix == "context":
        return explain_context(preset, result, head, row, col)
    if matrix == "output":
        return explain_output(preset, result, row, col)
    raise ValueError(f"cannot explain {matrix!r}; expected one of {', '.join(MATRICES)}")


__all__ = [
    "CellRef",
    "Explanation",
    "Step",
    "Term",
    "explain_cell",
    "explain_context",
    "explain_output",
    "explain_scaled_score",
    "explain_score",
    "explain_weight",
    "format_number",
]
