"""A walk through one preset's attention, step by step, in the tutorial's order.

The program grew from a tutorial that computes self-attention by hand: prepare the
inputs; initialise the weights; derive one input's query, key and value (then
everyone's); that input's scores; softmax; multiply the values by the weights; sum
them into its output; repeat for the other inputs. `walkthrough(preset)` returns
those steps for any preset, with steps added where the preset needs them (biases,
cross-attention, masks, several heads, an output projection).

Each step says what it does with the preset's actual numbers (`text`), names the
cells it involves (`cells`, so a view can highlight them), carries the numbers as
tables (for a worksheet) and the cell-by-cell arithmetic as `selfattn.explain`
Explanations: one source of numbers, one formatter.

Indices in the API are 0-based like the arrays; every text counts from 1 like the
window's tables.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np

from . import walkextras
from .attention import AttentionResult
from .explain import (
    CellRef,
    Explanation,
    Step,
    explain_context,
    explain_score,
    explain_weight,
)
from .preset import Preset, compute
from .walkstep import (
    MAX_EXPLAINED,
    Builder,
    Cells,
    Table,
    WalkStep,
    Walkthrough,
    WalkthroughError,
    column_labels,
    explained_all,
    last_step,
    likewise,
    logit_explanation,
    num,
    ordinals,
    plural,
    softmax_steps,
    vector,
)

# The steps -----------------------------------------------------------------------


def _inputs(b: Builder) -> WalkStep:
    p, i = b.p, b.i
    text = (
        f"Each of the {plural(b.n, 'token')} is one row of the input matrix X, with "
        f"d_model = {p.d_model} numbers. {b.query_name(capital=True)} is "
        f"X row {i + 1} = {vector(p.inputs[i])}."
    )
    return WalkStep(
        "inputs",
        "Prepare the inputs",
        text,
        (Cells("inputs", b.all_rows(b.n), tuple(range(p.d_model))),),
        (b.table("X (inputs)", "inputs", p.inputs, p.tokens, column_labels("x", 1, p.d_model)),),
    )


def _weights(b: Builder) -> WalkStep:
    p, r = b.p, b.r
    text = (
        f"Three weight matrices turn an input row into a query, a key and a value: W_Q and "
        f"W_K are {p.d_model} × {p.w_query.shape[1]}, W_V is {p.d_model} × "
        f"{p.w_value.shape[1]} (d_model = {p.d_model} rows; {_width_text(r)}). A trained "
        "model learns them; here they are the preset's numbers."
    )
    rows = column_labels("x", 1, p.d_model)
    tables = (
        b.table("W_Q", "w_query", p.w_query, rows, column_labels("q", r.heads, r.d_k)),
        b.table("W_K", "w_key", p.w_key, rows, column_labels("k", r.kv_heads, r.d_k)),
        b.table("W_V", "w_value", p.w_value, rows, column_labels("v", r.kv_heads, r.d_v)),
    )
    cells = tuple(
        Cells(name, b.all_rows(p.d_model), tuple(range(getattr(p, name).shape[1])))
        for name in ("w_query", "w_key", "w_value")
    )
    return WalkStep("weights", "Initialise the weights", text, cells, tables)


def _width_text(r: AttentionResult) -> str:
    if r.heads == 1:
        return f"d_k = {r.d_k} and d_v = {r.d_v} columns"
    if r.kv_heads < r.heads:
        return (
            f"{r.heads} query heads × d_k = {r.d_k} columns for W_Q, {r.kv_heads} key/value "
            f"heads × d_k = {r.d_k} and × d_v = {r.d_v} for W_K and W_V"
        )
    return f"{r.heads} heads × d_k = {r.d_k} and × d_v = {r.d_v} columns"


def _qkv_row(b: Builder) -> WalkStep:
    p, r, i = b.p, b.r, b.i
    # Rows are "X row 1", "Q row 1": x1 and q1 name the tables' columns.
    x = f"X row {i + 1} = {vector(p.inputs[i])}"
    if b.cross:
        text = (
            f"The input row of {b.query_name()}, {x}, times W_Q gives its query "
            f"Q row {i + 1} = {vector(r.q[i])}. Its keys and values are not its own: they come "
            "from the source tokens (next step)."
        )
        names: tuple[str, ...] = ("q",)
    else:
        text = (
            f"The input row of {b.query_name()}, {x}, is multiplied with each weight "
            f"matrix: times W_Q it gives its query Q row {i + 1} = {vector(r.q[i])}, "
            f"times W_K its key K row {i + 1} = {vector(r.k[i])}, times W_V its value "
            f"V row {i + 1} = "
            f"{vector(r.v[i])}."
        )
        names = ("q", "k", "v")
    explanations = [e for name in names for e in b.projections(name, i)]
    if not explanations:
        text += f" Each number is a sum of {p.d_model} products (too many to write out here)."
    w_fields = {"q": "w_query", "k": "w_key", "v": "w_value"}
    cells = [Cells("inputs", (i,), tuple(range(p.d_model)))]
    tables = []
    for name in names:
        width = getattr(r, name).shape[1]
        cells.append(Cells(w_fields[name], b.all_rows(p.d_model), tuple(range(width))))
        cells.append(Cells(name, (i,), tuple(range(width))))
        d = r.d_v if name == "v" else r.d_k
        tables.append(
            b.table(
                f"{name.upper()} row {i + 1}",
                name,
                getattr(r, name)[i],
                b.head_row_labels(),
                column_labels(name, r.heads, d),
            )
        )
    title = f"Query {i + 1}'s query" if b.cross else f"Query, key and value of input {i + 1}"
    return WalkStep("qkv_row", title, text, tuple(cells), tuple(tables), tuple(explanations))


def _qkv_all(b: Builder) -> WalkStep:
    p, r = b.p, b.r
    xs = "Xs" if b.cross else "X"
    text = (
        f"The same multiplication for every row: Q = X W_Q is {b.n} × {r.q.shape[1]}, "
        f"K = {xs} W_K is {b.m} × {r.k.shape[1]} and V = {xs} W_V is {b.m} × {r.v.shape[1]}."
    )
    if p.b_query is not None or p.b_key is not None or p.b_value is not None:
        text += " The biases are added to every row."
    tables = (
        b.table("Q (queries)", "q", r.q, p.tokens, column_labels("q", r.heads, r.d_k)),
        b.table("K (keys)", "k", r.k, b.key_labels(), column_labels("k", r.kv_heads, r.d_k)),
        b.table("V (values)", "v", r.v, b.key_labels(), column_labels("v", r.kv_heads, r.d_v)),
    )
    cells = (
        Cells("q", b.all_rows(b.n), tuple(range(r.q.shape[1]))),
        Cells("k", b.all_rows(b.m), tuple(range(r.k.shape[1]))),
        Cells("v", b.all_rows(b.m), tuple(range(r.v.shape[1]))),
    )
    return WalkStep("qkv_all", "Queries, keys and values of every token", text, cells, tables)


def _raw_scores(b: Builder) -> WalkStep:
    r, i, h = b.r, b.i, b.h
    row = r.scores[h, i]
    rotated = " rotated" if r.has_rope else ""
    text = (
        f"The{rotated} query row of {b.query_name()} is multiplied with every{rotated} key "
        f"row: a dot product over d_k = {r.d_k} columns{b.head_note()}, one score per key. "
        f"Its raw scores are {vector(row)}."
    )
    # The dot products; RoPE's rotations were the step before.
    explanations = explained_all(
        (partial(explain_score, b.p, r, h, i, j) for j in range(min(b.m, MAX_EXPLAINED))),
        last_step,
    )
    text += likewise(len(explanations), b.m, "keys")
    return WalkStep(
        "raw_scores",
        f"Query {i + 1}'s attention scores",
        text,
        (
            Cells(b.q_name, (i,), b.q_cols()),
            Cells(b.k_name, b.all_rows(b.m), b.k_cols()),
            Cells("scores", (i,), b.all_rows(b.m), h),
        ),
        (
            b.table(
                f"Raw scores of query {i + 1}", "scores", row, b.head_row_labels(), b.key_labels()
            ),
        ),
        explanations,
    )


def _scaled_scores(b: Builder) -> WalkStep:
    p, r, i, h = b.p, b.r, b.i, b.h
    scale = p.options.scale
    if scale == "sqrt_dk":
        how = f"the square root of d_k, sqrt({r.d_k}) = {num(r.scale)}"
    elif scale == "none":
        how = "1 (this preset does not scale)"
    else:
        how = f"the preset's custom scale {num(r.scale)}"
    text = (
        f"Large scores would make the softmax very peaked, so they are divided by {how}"
        f", times the temperature T = {num(r.temperature)}: the divisor is {num(r.divisor)}. "
        f"The scaled scores of {b.query_name()} are {vector(r.scaled_scores[h, i])}."
    )
    if not r.mask[i].all():
        text += " Masked keys get −∞ (see the next step)."
    visible = np.flatnonzero(r.mask[i])
    explanations: tuple[Explanation, ...] = ()
    division = logit_explanation(b, int(visible[0])) if visible.size else None
    if division is not None:
        explanations = (division,)
        text += (
            f" Written out for {b.key_name(int(visible[0]))}; every key is divided by the "
            "same number."
        )
    return WalkStep(
        "scaled_scores",
        "Scale the scores",
        text,
        (
            Cells("scores", (i,), b.all_rows(b.m), h),
            Cells("scaled_scores", (i,), b.all_rows(b.m), h),
        ),
        (
            b.table(
                f"Scaled scores of query {i + 1}",
                "scaled_scores",
                r.scaled_scores[h, i],
                b.head_row_labels(),
                b.key_labels(),
            ),
        ),
        explanations,
    )


def _unmarked(step: Step) -> Step:
    return replace(step, terms=tuple(replace(t, note="") for t in step.terms))


def _softmax(b: Builder) -> WalkStep:
    p, r, i, h = b.p, b.r, b.i, b.h
    weights = r.weights[h, i]
    visible = [int(j) for j in np.flatnonzero(r.mask[i])]
    explanations: list[Explanation] = []
    if r.fully_masked[i]:
        text = (
            f"Every key is masked for {b.query_name()}, so the softmax has nothing to "
            "normalise: by convention its weights are all 0 (never NaN)."
        )
    else:
        shown = visible[:MAX_EXPLAINED]
        # Explain's weight steps after the dot product and the scaling: the row's max,
        # its exponentials and this key's division.
        each = explained_all((partial(explain_weight, p, r, h, i, j) for j in shown), softmax_steps)
        how = "subtract the row's largest score, take exp of each, and divide by their sum"
        if each:
            # Explain marks the cell it explains ("← this cell"); here the whole row is meant.
            max_step, exp_step = (_unmarked(step) for step in each[0].steps[:2])
            how = (
                f"subtract the row's largest score ({num(max_step.result)}), take exp of "
                f"each, and divide by their sum ({num(exp_step.result)})"
            )
            explanations.append(
                Explanation(
                    title=f"Softmax of row {i + 1}",
                    cell=CellRef("weights", h, i, shown[0]),
                    value=float(weights[shown[0]]),
                    steps=(max_step, exp_step, *(ex.steps[-1] for ex in each)),
                )
            )
            text_more = likewise(len(shown), len(visible), "visible keys")
        else:
            text_more = ""
        text = (
            "Softmax turns the scaled scores into weights that are positive and add up to 1: "
            f"{how}. The weights of {b.query_name()} are {vector(weights)}.{text_more}"
        )
    return WalkStep(
        "softmax",
        "Softmax: from scores to weights",
        text,
        (
            Cells("scaled_scores", (i,), b.all_rows(b.m), h),
            Cells("weights", (i,), b.all_rows(b.m), h),
        ),
        (
            b.table(
                f"Weights of query {i + 1}", "weights", weights, b.head_row_labels(), b.key_labels()
            ),
        ),
        tuple(explanations),
    )


def _context_explanations(b: Builder) -> tuple[Explanation, ...]:
    return explained_all(partial(explain_context, b.p, b.r, b.h, b.i, c) for c in range(b.r.d_v))


def _weighted_values(b: Builder) -> WalkStep:
    r, i, h = b.r, b.i, b.h
    contexts = _context_explanations(b)
    if contexts:
        # The products weight[i, j] × V[j, c] as Explain computes them: row j, column c.
        products = np.array([[ex.steps[0].terms[j].value for ex in contexts] for j in range(b.m)])
    else:  # the same products from the result, where Explain cannot write them out
        products = r.weights[h, i][:, None] * r.v[:, list(b.v_cols())]
    lines = [
        f"{num(r.weights[h, i, j])} × V row {j + 1} {vector(r.v[j, list(b.v_cols())])}"
        for j in range(min(b.m, MAX_EXPLAINED))
    ]
    text = (
        f"Each key's value row is multiplied by the weight {b.query_name()} gives that key"
        f"{b.head_note()}: " + "; ".join(lines) + (", …" if b.m > MAX_EXPLAINED else "") + "."
    )
    return WalkStep(
        "weighted_values",
        "Multiply the values by the weights",
        text,
        (
            Cells("weights", (i,), b.all_rows(b.m), h),
            Cells("v", b.all_rows(b.m), b.v_cols()),
        ),
        (
            b.table(
                f"Weighted values for query {i + 1}",
                "v",
                products,
                b.key_labels(),
                column_labels("v", 1, r.d_v),
            ),
        ),
    )


def _is_output(b: Builder) -> bool:
    """True when the context is the output itself (one head, no W_O, no b_O)."""
    return b.r.heads == 1 and b.p.w_output is None and b.p.b_output is None


def _context_row(b: Builder) -> WalkStep:
    r, i, h = b.r, b.i, b.h
    row = r.context[h, i]
    name = f"output {i + 1}" if _is_output(b) else f"context row {i + 1}{b.head_note()}"
    text = f"Adding the weighted value rows column by column gives {name}: {vector(row)}."
    if _is_output(b):
        text += " With one head and no output projection, this is the layer's output."
    shown = min(r.d_v, MAX_EXPLAINED)
    text += likewise(shown, r.d_v, "columns")
    cells = [Cells("context", (i,), tuple(range(r.d_v)), h)]
    if _is_output(b):
        cells.append(Cells("output", (i,), tuple(range(r.output.shape[1]))))
    return WalkStep(
        "context_row",
        f"Sum them: output {i + 1}" if _is_output(b) else f"Sum them: context row {i + 1}",
        text,
        tuple(cells),
        (
            b.table(
                name.capitalize(),
                "context",
                row,
                b.head_row_labels(),
                column_labels("c", 1, r.d_v),
            ),
        ),
        _context_explanations(b)[:shown],
    )


def _all_queries(b: Builder) -> WalkStep:
    p, r, h = b.p, b.r, b.h
    text = (
        f"The same steps for every query give the whole weights matrix{b.head_note()}: "
        f"{b.n} rows (queries) × {b.m} columns (keys), each row adding up to 1 — the heatmap — "
        f"and the context, {b.n} × {r.d_v}."
    )
    if r.fully_masked.any():
        rows = [int(k) for k in np.flatnonzero(r.fully_masked)]
        text += f" Rows {ordinals(rows)} see no key and are all 0."
    keys = b.key_labels()
    return WalkStep(
        "all_queries",
        "Repeat for every query",
        text,
        (
            Cells("scores", b.all_rows(b.n), b.all_rows(b.m), h),
            Cells("weights", b.all_rows(b.n), b.all_rows(b.m), h),
            Cells("context", b.all_rows(b.n), tuple(range(r.d_v)), h),
        ),
        (
            b.table(f"Raw scores{b.head_note()}", "scores", r.scores[h], p.tokens, keys),
            b.table(
                f"Weights{b.head_note()}", "weights", r.weights[h], p.tokens, keys, heatmap=True
            ),
            b.table(
                f"Context{b.head_note()}",
                "context",
                r.context[h],
                p.tokens,
                column_labels("c", 1, r.d_v),
            ),
        ),
    )


# The walk-through ----------------------------------------------------------------


def walkthrough(
    preset: Preset, query: int = 0, head: int = 0, result: AttentionResult | None = None
) -> Walkthrough:
    """The steps of `preset` for one query (0-based) and head, in the tutorial's order.

    Pass the already computed `result` to avoid computing again (a window has it).
    """
    if result is None:
        with np.errstate(all="ignore"):  # overflow is AttentionError, not a warning
            result = compute(preset)
    if not 0 <= query < result.n_queries:
        raise WalkthroughError(
            f"query {query + 1} does not exist: the preset has {plural(result.n_queries, 'query')}".replace(
                "querys", "queries"
            )
        )
    if not 0 <= head < result.heads:
        raise WalkthroughError(
            f"head {head + 1} does not exist: the preset has {plural(result.heads, 'head')}"
        )
    b = Builder(preset, result, query, head)
    p = preset
    steps = [_inputs(b)]
    if b.cross:
        steps.append(walkextras.source_step(b))
    steps.append(_weights(b))
    if p.b_query is not None or p.b_key is not None or p.b_value is not None:
        steps.append(walkextras.biases_step(b))
    steps += [_qkv_row(b), _qkv_all(b)]
    if result.kv_heads < result.heads:
        steps.append(walkextras.grouped_heads_step(b))
    if result.has_rope:
        steps.append(walkextras.rope_step(b))
    steps += [_raw_scores(b), _scaled_scores(b)]
    if p.options.causal:
        steps.append(walkextras.causal_mask_step(b))
    if p.options.window is not None:
        steps.append(walkextras.window_step(b))
    if p.options.key_mask is not None and not all(p.options.key_mask):
        steps.append(walkextras.padding_mask_step(b))
    steps += [_softmax(b), _weighted_values(b), _context_row(b), _all_queries(b)]
    if result.heads > 1:
        steps.append(walkextras.heads_step(b))
    if not _is_output(b):
        steps.append(walkextras.output_step(b))
    return Walkthrough(p, result, query, head, tuple(steps))


__all__ = [
    "Cells",
    "Table",
    "WalkStep",
    "Walkthrough",
    "WalkthroughError",
    "walkthrough",
]
