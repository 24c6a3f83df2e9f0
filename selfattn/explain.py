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

import numpy as np

from .attention import AttentionResult
from .explain_rope import kv_text, rotation_step, window_reasons
from .explain_text import (
    CellRef,
    Explanation,
    Step,
    Term,
    _check_cell,
    _check_head,
    _head_text,
    _key,
    _numbers,
    _query,
    _quotient_note,
    _span,
    _sum_note,
    _table_span,
    _tok,
    format_number,
)
from .preset import Preset

MATRICES = (*AttentionResult.PER_HEAD_FIELDS, "output")  # the cells explained here


def _scale_text(preset: Preset, result: AttentionResult) -> str:
    scale = preset.options.scale
    if scale == "sqrt_dk":
        return f"scale = sqrt(d_k) = sqrt({result.d_k}) = {format_number(result.scale)}"
    if scale == "none":
        return "scale = none (1)"
    return f"scale = custom {format_number(result.scale)}"


def _key_mask_hides(preset: Preset, j: int) -> bool:
    key_mask = preset.options.key_mask
    return key_mask is not None and j < len(key_mask) and not key_mask[j]


def _mask_rules(preset: Preset, result: AttentionResult, i: int, j: int) -> list[str]:
    """Each rule that hides key j from query i, in a few words (the answer's first line)."""
    rules = []
    if preset.options.causal and j > i:
        rules.append(f"{_key(preset, j)} comes after {_query(preset, i)} (causal mask)")
    if _key_mask_hides(preset, j):
        rules.append(f"{_key(preset, j)} is switched off for every query (key mask)")
    if window_reasons(preset, result, i, j):
        rules.append(
            f"{_key(preset, j)} is outside the sliding window of {_query(preset, i)} "
            f"(window of {preset.options.window})"
        )
    return rules or [f"{_key(preset, j)} is not visible to {_query(preset, i)}"]


def _mask_reasons(preset: Preset, result: AttentionResult, i: int, j: int) -> list[str]:
    """Where each rule that hides key j from query i is set (the answer said which)."""
    reasons = []
    if preset.options.causal and j > i:
        reasons.append(
            "Causal mask: with 'causal' ticked in Options a query may only look at itself "
            "and earlier keys."
        )
    if _key_mask_hides(preset, j):
        tab = "Source" if preset.source_inputs is not None else "Tokens"
        reasons.append(
            f"Key mask: the 'attend' box of {_key(preset, j)} is unticked in the Inputs "
            f"panel's {tab} tab (e.g. a padding token), so no query may attend to it."
        )
    reasons.extend(window_reasons(preset, result, i, j))
    return reasons


# What a masked cell's value means, by the matrix explained (the end of the answer's line).
_MASKED_MEANS = {
    "scores": (
        "this raw score is computed but never used: its scaled score is -inf and its "
        "weight exactly 0."
    ),
    "scaled_scores": (
        "its scaled score is -inf and its weight exactly 0 — the raw score below is "
        "computed but never used."
    ),
    "weights": "its weight is exactly 0 — the score below is computed but never used.",
}


def _mask_lead(
    preset: Preset, result: AttentionResult, matrix: str, i: int, j: int
) -> tuple[str, ...]:
    """The answer for a masked cell, said before any arithmetic; empty for a visible cell."""
    if result.mask[i, j]:
        return ()
    answer = f"Masked: {'; '.join(_mask_rules(preset, result, i, j))}, so {_MASKED_MEANS[matrix]}"
    lead = [answer, *_mask_reasons(preset, result, i, j)]
    if result.fully_masked[i]:
        lead.append(_fully_masked_note(preset, i))
    return tuple(lead)


def _fully_masked_note(preset: Preset, i: int) -> str:
    return (
        f"Row {i + 1} ({_query(preset, i)}) is fully masked: every key is hidden from this "
        "query, so the softmax has nothing to normalise. By convention the whole row's "
        "weights are 0 (never NaN) and its context is 0."
    )


def _dot_step(preset: Preset, result: AttentionResult, head: int, i: int, j: int) -> Step:
    """Raw score = Q row i · K row j over the head's column block of Q and K.

    With RoPE the rows are the rotated ones; a grouped head takes K's columns from
    its key/value head's block.
    """
    d_k = result.d_k
    g = result.kv_head(head)
    rope = result.has_rope
    q = result.q_rot if result.q_rot is not None else result.q
    k = result.k_rot if result.k_rot is not None else result.k
    q_name, k_name = ("q_rot", "k_rot") if rope else ("q", "k")
    q_label, k_label = ("rotQ", "rotK") if rope else ("Q", "K")
    terms = []
    for t in range(d_k):
        q_col, k_col = head * d_k + t, g * d_k + t  # the columns of Q and K
        a, b = float(q[i, q_col]), float(k[j, k_col])
        terms.append(
            Term(
                label=f"{q_label}[{i + 1},q{t + 1}] × {k_label}[{j + 1},k{t + 1}]",
                value=a * b,  # exact in float64 for float32 operands too
                operands=(a, b),
                op="×",
                refs=(CellRef(q_name, None, i, q_col), CellRef(k_name, None, j, k_col)),
            )
        )
    stored = float(result.scores[head, i, j])
    q_cols, k_cols = _span("q", d_k), _span("k", d_k)
    k_table = _table_span("k", g, d_k) if result.kv_heads > 1 else k_cols
    if result.heads > 1:
        keys = f"key/value head {g + 1}'s {k_cols}" if g != head else k_cols
        how = (
            f" over head {head + 1}'s columns: multiply {q_cols} by {keys} "
            f"({_table_span('q', head, d_k)} and {k_table} in the tables)"
        )
    else:
        how = f": multiply Q's {q_cols} by K's {k_cols}"
    what = "rotated Q row {0} · rotated K row {1}" if rope else "Q row {0} · K row {1}"
    return Step(
        label=(f"Raw score = {what.format(i + 1, j + 1)}{how} pair by pair and add (d_k = {d_k})"),
        terms=tuple(terms),
        result=stored,
        result_label=f"score[{i + 1},{j + 1}]",
        combine="sum",
        notes=_sum_note(result, terms, stored),
    )


def _score_steps(
    preset: Preset, result: AttentionResult, head: int, i: int, j: int, unused: bool = False
) -> list[Step]:
    """The steps up to the raw score: with RoPE, q_i and k_j rotated first.

    When the score is never used (a masked weight or scaled score), the rotations are
    left out: hundreds of lines of arithmetic would bury the answer. The raw score's
    own explanation still shows them.
    """
    rotate = result.has_rope and preset.options.rope is not None
    steps = []
    if rotate and not unused:
        steps.append(rotation_step(preset, result, "q", head, i))
        steps.append(rotation_step(preset, result, "k", result.kv_head(head), j))
    dot = _dot_step(preset, result, head, i, j)
    if rotate and unused:
        note = (
            "The rotated rows come from turning Q and K by their positions (RoPE); the "
            "rotation is left out here because this score is never used. Explain the "
            "Raw scores cell to see it pair by pair."
        )
        dot = Step(dot.label, dot.terms, dot.result, dot.result_label, dot.combine,
                   (*dot.notes, note))  # fmt: skip
    steps.append(dot)
    return steps


def _head_notes(result: AttentionResult, head: int) -> tuple[str, ...]:
    note = kv_text(result, head)
    return (note,) if note else ()


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
        notes.append(
            "Masked (why is said at the top): a masked cell's scaled score is -inf, so its "
            "exponential is exactly 0."
        )
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
        steps=tuple(_score_steps(preset, result, head, i, j)),
        notes=_head_notes(result, head),
        lead=_mask_lead(preset, result, "scores", i, j),
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
        steps=(
            *_score_steps(preset, result, head, i, j, unused=not result.mask[i, j]),
            _logit_step(preset, result, head, i, j),
        ),
        notes=_head_notes(result, head),
        lead=_mask_lead(preset, result, "scaled_scores", i, j),
    )


def explain_weight(
    preset: Preset, result: AttentionResult, head: int, i: int, j: int
) -> Explanation:
    """An attention weight A_h[i, j]: dot product, scaling, then the row's softmax."""
    _check_score_cell(result, head, i, j)
    stored = float(result.weights[head, i, j])
    unused = not result.mask[i, j]
    steps = [
        *_score_steps(preset, result, head, i, j, unused),
        _logit_step(preset, result, head, i, j),
    ]
    notes: list[str] = list(_head_notes(result, head))
    cell = f"weight[{i + 1},{j + 1}]"
    if result.fully_masked[i]:
        steps.append(
            Step(
                label="Weight",
                terms=(Term(label="fully masked row", value=stored),),
                result=stored,
                result_label=f"{cell} = 0 by convention",
                combine="",
            )
        )
    elif unused:
        # Why the key is masked is said first, in the explanation's lead.
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
        lead=_mask_lead(preset, result, "weights", i, j),
    )


def explain_context(
    preset: Preset, result: AttentionResult, head: int, i: int, c: int
) -> Explanation:
    """A context cell C_h[i, c] = Σ_j weight[i, j] × v_j[c] (c counts within the head)."""
    _check_head(result, head)
    _check_cell("query", i, result.n_queries)
    _check_cell("context column", c, result.d_v)
    g = result.kv_head(head)  # the key/value head whose V this head reads
    col = g * result.d_v + c  # the column of V
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
    notes.extend(_head_notes(result, head))
    cell = f"context[{i + 1},c{c + 1}]"
    label = (
        f"{cell} = Σ over the {result.n_keys} keys of weight[{i + 1},key] × V[key,{v_col}]: "
        f"the weighted sum of V's column {v_col}"
    )
    if result.heads > 1:
        label += f" of head {head + 1} (h{g + 1}:{v_col} in the V table)"
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
