"""Explanations of the cells `selfattn.explain` does not cover: Q, K, V and the inputs.

- a Q, K or V cell: the input row · the weight column (+ bias), product by product;
- an input or weight cell (X, source X, W_Q, W_K, W_V, W_O, a bias): what it feeds
  (its share of each Q, K, V or output cell it enters, then which scores, weights,
  context and output cells it reaches) and, when a result cell is selected as the
  target, the exact partial derivative of that cell with respect to it;
- any result cell: where it comes from (`with_dependencies` adds the input cells it
  depends on, and what reaches it only through the softmax normaliser).

Everything is built from `explain`'s Explanation, Step and Term, so it renders like
the other explanations (10 significant digits, 1-based rows, the tables' column
labels: X[1,x3], W_Q[x3,q1], W_O[h2:v1,o1], b_Q[q1], Q[1,q1], weight[1,2]).
Arguments are 0-based CellRefs, as in `selfattn.provenance`.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .attention import AttentionResult
from .cell_names import (
    NAMES,
    cell_label,
    cell_name,
    col_label,
    column_label,
    describe_cells,
    describe_difference,
    describe_matrices,
    format_number,
    head_words,
    numbers_text,
    row_label,
    value_of,
)
from .explain import CellRef, Explanation, Step, Term, explain_cell
from .gradient import gradient
from .preset import Preset
from .provenance import (
    INPUT_MATRICES,
    Layout,
    check_cell,
    depends_on,
    feeds,
)
from .rope import pair_columns, rope_angles

MAX_TERMS = 12  # product lines shown for one step; the rest are summed up in a note
INLINE_TERMS = 8  # a dot product this short is also written on one line


def _sum_note(result: AttentionResult, terms: list[Term], stored: float) -> tuple[str, ...]:
    """A note when the terms do not add up to the stored number (float32 rounding).

    The same check as `explain`'s own (private there): 4 eps per term of the magnitude.
    """
    values = [t.value for t in terms]
    total = math.fsum(values)
    magnitude = math.fsum(abs(v) for v in values)
    dtype = np.dtype(result.dtype)
    allowed = 4 * float(np.finfo(dtype).eps) * max(len(values), 1) * magnitude
    if abs(total - stored) <= allowed + float(np.finfo(dtype).tiny):
        return ()
    return (
        f"(the terms add up to {format_number(total)} exactly; the stored {result.dtype} "
        f"value differs by {format_number(stored - total)} through rounding)",
    )


# Q, K and V ----------------------------------------------------------------------------

_PROJECTION = {
    "q": ("inputs", "w_query", "b_query", "query"),
    "k": ("source_inputs", "w_key", "b_key", "key"),
    "v": ("source_inputs", "w_value", "b_value", "value"),
}


def _projection_step(preset: Preset, result: AttentionResult, lay: Layout, cell: CellRef) -> Step:
    """Q[i,c] = X row i · W_Q column c (+ b_Q[c]), product by product."""
    x_name, w_name, b_name, _ = _PROJECTION[cell.matrix]
    if x_name == "source_inputs" and preset.source_inputs is None:
        x_name = "inputs"
    x = np.asarray(getattr(preset, x_name))[cell.row]
    w = np.asarray(getattr(preset, w_name))[:, cell.col]
    terms = [
        Term(
            label=f"{cell_name(lay, CellRef(x_name, None, cell.row, t))} × "
            f"{cell_name(lay, CellRef(w_name, None, t, cell.col))}",
            value=float(x[t]) * float(w[t]),
            operands=(float(x[t]), float(w[t])),
            op="×",
            refs=(CellRef(x_name, None, cell.row, t), CellRef(w_name, None, t, cell.col)),
        )
        for t in range(lay.d_model)
    ]
    bias = getattr(preset, b_name)
    if bias is not None:
        b_cell = CellRef(b_name, None, 0, cell.col)
        terms.append(
            Term(label=cell_name(lay, b_cell), value=float(bias[cell.col]), refs=(b_cell,))
        )
    stored = value_of(preset, result, cell)
    name = cell_name(lay, cell)
    x_text = f"{NAMES[x_name]} row {cell.row + 1}"
    w_text = f"{NAMES[w_name]} column {col_label(lay, w_name, cell.col)}"
    label = f"{name} = {x_text} · {w_text}: multiply pair by pair and add (d_model = {lay.d_model})"
    if bias is not None:
        label += f", plus the bias {cell_name(lay, CellRef(b_name, None, 0, cell.col))}"
    notes = list(_sum_note(result, terms, stored))
    if len(terms) <= INLINE_TERMS:
        products = ""
        for t in terms:
            text = (
                f"{format_number(t.operands[0])}·{format_number(t.operands[1])}"
                if t.operands
                else format_number(t.value)
            )
            if not products:
                products = text
            elif text.startswith("-"):  # 2·1 − 1, not 2·1 + -1
                products += f" − {text[1:]}"
            else:
                products += f" + {text}"
        notes.insert(0, f"{name} = {x_text} · {w_text} = {products} = {format_number(stored)}")
    return Step(
        label=label,
        terms=tuple(terms),
        result=stored,
        result_label=name,
        combine="sum",
        notes=tuple(notes),
    )


def _head_note(lay: Layout, cell: CellRef) -> str:
    """Where a Q, K or V column goes next (its head and, with grouped heads, who shares it)."""
    i = cell.row + 1
    if cell.matrix == "q":
        h, local = divmod(cell.col, lay.d_k)
        if lay.heads == 1:
            return f"Next, Q row {i} meets every key row in the raw scores of row {i}."
        return (
            f"Column {col_label(lay, 'q', cell.col)} is column q{local + 1} of head {h + 1}'s "
            f"queries: Q row {i} meets head {h + 1}'s key rows in its raw scores of row {i}."
        )
    d = lay.d_k if cell.matrix == "k" else lay.d_v
    g, local = divmod(cell.col, d)
    use = (
        f"meets every query row in the raw scores of key {i}"
        if cell.matrix == "k"
        else f"is mixed into every context row by the weights of key {i}"
    )
    row = f"{NAMES[cell.matrix]} row {i}"
    if lay.kv_heads == 1 and lay.heads == 1:
        return f"Next, {row} {use}."
    if lay.kv_heads == lay.heads:
        return f"Next, head {g + 1}'s {row} (column {cell.matrix}{local + 1}) {use}."
    first, last = g * lay.group + 1, (g + 1) * lay.group
    return (
        f"Column {col_label(lay, cell.matrix, cell.col)} belongs to key/value head {g + 1} "
        f"of {lay.kv_heads}, shared by query heads {first}..{last} (grouped heads): "
        f"{row} {use} for each of them."
    )


def _rotation_step(
    preset: Preset, result: AttentionResult, lay: Layout, matrix: str, row: int, col: int
) -> Step:
    """RoPE: the rotated cell from its Q (or K) cell and the pair's partner."""
    rope = preset.options.rope
    rotated = CellRef(f"{matrix}_rot", None, row, col)
    rot_name = cell_name(lay, rotated)
    value = value_of(preset, result, rotated)
    own = CellRef(matrix, None, row, col)
    local = col % lay.d_k
    if rope is None or local >= lay.rope_dims:
        return Step(
            label=(
                f"RoPE rotates the first {lay.rope_dims} columns of each head; column "
                f"{col_label(lay, matrix, col)} is not one of them and passes unchanged"
            ),
            terms=(
                Term(label=cell_name(lay, own), value=value_of(preset, result, own), refs=(own,)),
            ),
            result=value,
            result_label=rot_name,
            combine="",
        )
    first, second = pair_columns(lay.rope_dims, rope.style)
    pair = int(np.flatnonzero((first == local) | (second == local))[0])
    base = col - local
    u_cell = CellRef(matrix, None, row, base + int(first[pair]))
    w_cell = CellRef(matrix, None, row, base + int(second[pair]))
    u, w = value_of(preset, result, u_cell), value_of(preset, result, w_cell)
    positions = result.positions if matrix == "q" else result.key_positions
    position = int(positions[row])
    inv_freq = float(rope.frequencies(lay.d_k)[pair])
    angle = float(rope_angles(np.array([position]), np.array([inv_freq]))[0, 0])
    cos, sin = math.cos(angle), math.sin(angle)
    u_name, w_name = cell_name(lay, u_cell), cell_name(lay, w_cell)
    if own == u_cell:  # u' = u cos a − w sin a
        terms = [
            Term(f"{u_name} × cos a", u * cos, (u, cos), "×", (u_cell,)),
            Term(f"{w_name} × (−sin a)", w * -sin, (w, -sin), "×", (w_cell,)),
        ]
    else:  # w' = w cos a + u sin a
        terms = [
            Term(f"{w_name} × cos a", w * cos, (w, cos), "×", (w_cell,)),
            Term(f"{u_name} × sin a", u * sin, (u, sin), "×", (u_cell,)),
        ]
    layout = (
        "column i with column i + r/2" if rope.style == "half" else "column 2i with column 2i+1"
    )
    notes = [
        f"The angle: a = position {position} × inv_freq {format_number(inv_freq)} = "
        f"{format_number(angle)} (cos a = {format_number(cos)}, sin a = {format_number(sin)}).",
        f"Style '{rope.style}' pairs {layout} (r = {lay.rope_dims} rotated columns); the "
        "scores multiply the rotated rows, so q · k depends on the positions only through "
        "their difference.",
        *_sum_note(result, terms, value),
    ]
    return Step(
        label=(
            f"RoPE turns the pair ({col_label(lay, matrix, u_cell.col)}, "
            f"{col_label(lay, matrix, w_cell.col)}) of row {row + 1} by its position's angle a"
        ),
        terms=tuple(terms),
        result=value,
        result_label=rot_name,
        combine="sum",
        notes=tuple(notes),
    )


def explain_projection(preset: Preset, result: AttentionResult, cell: CellRef) -> Explanation:
    """A Q, K or V cell: the input row times the weight column, plus the bias; with RoPE,
    then the rotation of a Q or K cell (a q_rot or k_rot cell: the rotation alone)."""
    lay = check_cell(preset, result, cell)
    if cell.matrix not in (*_PROJECTION, "q_rot", "k_rot"):
        raise ValueError(f"explain_projection explains Q, K and V cells, not {cell.matrix!r}")
    stored = value_of(preset, result, cell)
    plain = cell.matrix.removesuffix("_rot")
    _, _, _, role = _PROJECTION[plain]
    rows = preset.tokens if plain == "q" else preset.key_tokens
    token = f" '{rows[cell.row]}'" if cell.row < len(rows) else ""
    where = f"{role} {cell.row + 1}{token}, column {col_label(lay, cell.matrix, cell.col)}"
    steps = []
    if cell.matrix == plain:
        steps.append(_projection_step(preset, result, lay, cell))
    if lay.rope and plain in ("q", "k"):
        steps.append(_rotation_step(preset, result, lay, plain, cell.row, cell.col))
    return Explanation(
        title=f"{NAMES[cell.matrix]}  {where} = {format_number(stored)}",
        cell=cell,
        value=stored,
        steps=tuple(steps),
        notes=(_head_note(lay, CellRef(plain, None, cell.row, cell.col)),),
    )


# Where a result comes from -----------------------------------------------------------------


def dependency_notes(preset: Preset, result: AttentionResult, cell: CellRef) -> tuple[str, ...]:
    """Where a result cell comes from, in words: its direct inputs and the normaliser's."""
    lay = check_cell(preset, result, cell)
    prov = depends_on(preset, result, cell)
    name = cell_label(preset, result, cell)
    if not prov.full:
        if cell.matrix in ("scaled_scores", "weights", "context") or cell.matrix == "output":
            return (
                f"{name} depends on no input cell: the masks hold it constant whatever the "
                "numbers (see above).",
            )
        return (f"{name} depends on no input cell.",)
    notes = [f"{name} is computed from: " + "; ".join(describe_cells(preset, result, prov.direct))]
    source = lay.source
    shape = lay.shape(source)
    extra_rows = np.flatnonzero(
        (prov.full.mask_of(source, None, shape) & ~prov.direct.mask_of(source, None, shape)).any(
            axis=1
        )
    )
    if cell.matrix == "weights":
        name_x = NAMES[source]
        also = (
            f"so {name_x} {'rows' if extra_rows.size > 1 else 'row'} {numbers_text(extra_rows)} "
            f"{'move' if extra_rows.size > 1 else 'moves'} this weight too, though its own "
            "formula does not read them"
            if extra_rows.size
            else f"whose {name_x} rows it already reads"
        )
        notes.append(
            f"Through the softmax it also depends on every other visible key of row "
            f"{cell.row + 1}: the weights of a row share one denominator, Σ exp over its "
            f"visible keys, {also}."
        )
    if "b_key" in lay.biases and cell.matrix in ("weights", "context", "output") and not lay.rope:
        notes.append(
            "b_K is left out: it adds the same q · b_K to every score of a row, and a softmax "
            "ignores a shift of its whole row."
        )
    return tuple(notes)


def with_dependencies(
    explanation: Explanation, preset: Preset, result: AttentionResult
) -> Explanation:
    """`explanation` (of a result cell) with notes saying which input cells it depends on."""
    notes = explanation.notes + dependency_notes(preset, result, explanation.cell)
    return replace(explanation, notes=notes)


# Inputs and weights ------------------------------------------------------------------------


def _share_terms(
    preset: Preset, result: AttentionResult, lay: Layout, cell: CellRef
) -> list[tuple[str, list[Term]]]:
    """(step label, terms): the input cell's share of each Q, K, V or output cell it enters."""
    m, r, c = cell.matrix, cell.row, cell.col
    name = cell_name(lay, cell)
    value = value_of(preset, result, cell)
    steps: list[tuple[str, list[Term]]] = []

    def product(left: CellRef, right: CellRef, into: CellRef) -> Term:
        a, b = value_of(preset, result, left), value_of(preset, result, right)
        into_value = value_of(preset, result, into)
        return Term(
            label=f"{cell_name(lay, left)} × {cell_name(lay, right)}",
            value=a * b,
            operands=(a, b),
            op="×",
            refs=(left, right, into),
            note=f"in {cell_name(lay, into)} = {format_number(into_value)}",
        )

    def added(into: CellRef) -> Term:
        return Term(
            label=cell_name(lay, into),
            value=value_of(preset, result, into),
            refs=(cell, into),
            note=f"includes {name} = {format_number(value)}",
        )

    if m == "inputs":
        steps.append(
            (
                f"As query {r + 1}, {name} enters every column of Q row {r + 1}",
                [
                    product(cell, CellRef("w_query", None, c, t), CellRef("q", None, r, t))
                    for t in range(lay.heads * lay.d_k)
                ],
            )
        )
    if m == lay.source and m in ("inputs", "source_inputs"):
        for w_name, proj, width, role in (
            ("w_key", "k", lay.kv_heads * lay.d_k, "key"),
            ("w_value", "v", lay.kv_heads * lay.d_v, "value"),
        ):
            steps.append(
                (
                    f"As {role} {r + 1}, {name} enters every column of {NAMES[proj]} row {r + 1}",
                    [
                        product(cell, CellRef(w_name, None, c, t), CellRef(proj, None, r, t))
                        for t in range(width)
                    ],
                )
            )
    elif m in ("w_query", "w_key", "w_value"):
        proj = {"w_query": "q", "w_key": "k", "w_value": "v"}[m]
        x_name = "inputs" if proj == "q" else lay.source
        col = col_label(lay, m, c)
        steps.append(
            (
                f"{name} enters column {col} of {NAMES[proj]} in every row: "
                f"{NAMES[x_name]}[row,x{r + 1}] × {name}",
                [
                    product(CellRef(x_name, None, i, r), cell, CellRef(proj, None, i, c))
                    for i in range(lay.shape(proj)[0])
                ],
            )
        )
    elif m in ("b_query", "b_key", "b_value"):
        proj = {"b_query": "q", "b_key": "k", "b_value": "v"}[m]
        steps.append(
            (
                f"{name} is added to every cell of column {col_label(lay, m, c)} of {NAMES[proj]}",
                [added(CellRef(proj, None, i, c)) for i in range(lay.shape(proj)[0])],
            )
        )
    elif m == "w_output":
        h, cc = divmod(r, lay.d_v)
        steps.append(
            (
                f"{name} enters column o{c + 1} of the output in every row: "
                f"context[row,{column_label('c', r, lay.heads, lay.d_v)}] × {name}",
                [
                    product(CellRef("context", h, i, cc), cell, CellRef("output", None, i, c))
                    for i in range(lay.n)
                ],
            )
        )
    elif m == "b_output":
        steps.append(
            (
                f"{name} is added to every cell of column o{c + 1} of the output",
                [added(CellRef("output", None, i, c)) for i in range(lay.n)],
            )
        )
    return steps


def _shortened(terms: list[Term]) -> tuple[tuple[Term, ...], tuple[str, ...]]:
    if len(terms) <= MAX_TERMS:
        return tuple(terms), ()
    return tuple(terms[:MAX_TERMS]), (f"... and {len(terms) - MAX_TERMS} more like these.",)


def _target_step(
    preset: Preset, result: AttentionResult, lay: Layout, cell: CellRef, target: CellRef
) -> Step:
    """∂ target / ∂ cell, exact, with what it means."""
    check_cell(preset, result, target)
    name, target_name = cell_name(lay, cell), cell_name(lay, target)
    reach = feeds(preset, result, cell)
    notes = []
    if target in reach.direct:
        derivative = gradient(preset, target, result).at(cell)
    elif target in reach.full:
        derivative = gradient(preset, target, result).at(cell)
        notes.append(
            f"{name} reaches {target_name} only through the softmax normaliser of row "
            f"{target.row + 1}: it moves the other weights of that row, and this one with them."
        )
    else:
        derivative = 0.0  # exactly: no path (the float sum could leave a rounding residue)
        notes.append(f"{target_name} does not depend on {name}: the derivative is exactly 0.")
    if derivative != 0.0:
        notes.append(
            f"So raising {name} by 0.01 moves {target_name} by about "
            f"{format_number(0.01 * derivative)} (to first order)."
        )
    return Step(
        label=(
            f"How the selected {target_name}{head_words(lay, target)} responds to {name}: "
            "the exact partial derivative"
        ),
        terms=(Term(label=f"∂ {target_name} / ∂ {name}", value=derivative, refs=(target, cell)),),
        result=derivative,
        result_label="",
        combine="",
        notes=tuple(notes),
    )


def explain_input(
    preset: Preset, result: AttentionResult, cell: CellRef, target: CellRef | None = None
) -> Explanation:
    """An input or weight cell: what it feeds, and ∂ target / ∂ it when a target is selected."""
    lay = check_cell(preset, result, cell)
    if cell.matrix not in INPUT_MATRICES:
        raise ValueError(f"explain_input explains input and weight cells, not {cell.matrix!r}")
    value = value_of(preset, result, cell)
    steps = []
    for label, terms in _share_terms(preset, result, lay, cell):
        shown, more = _shortened(terms)
        steps.append(Step(label, shown, value, "", combine="", notes=more))
    reach = feeds(preset, result, cell)
    shared = {"q", "k", "v"} | ({"output"} if cell.matrix in ("w_output", "b_output") else set())
    downstream = describe_matrices(
        lay,
        [
            (m, h, reach.direct.mask_of(m, h, lay.shape(m)))
            for m, h in reach.direct.matrices()
            if m not in shared
        ],
    )
    notes = []
    if downstream:
        notes.append("From there it reaches " + "; ".join(downstream) + ".")
    through = describe_difference(lay, reach.full, reach.direct)
    if through:
        notes.append(
            "Through the softmax normaliser (each row's weights share one denominator) it also "
            "moves " + "; ".join(through) + "."
        )
    if cell.matrix == "b_key" and not lay.rope:
        notes.append(
            "It adds the same q · b_K to every score of a row, and a softmax ignores a shift "
            "of its whole row: b_K changes no weight, context or output."
        )
    if cell.matrix == lay.source and not lay.mask[:, cell.row].any():
        notes.append(
            f"Key {cell.row + 1} is masked for every query, so it reaches no weight, context "
            "or output: only its own raw scores."
        )
    if not reach.full:
        notes.append("It reaches no result cell: the masks hold everything it could reach.")
    steps[-1] = replace(steps[-1], notes=steps[-1].notes + tuple(notes))
    if target is not None:
        steps.append(_target_step(preset, result, lay, cell, target))
    rows = preset.tokens if cell.matrix == "inputs" else preset.key_tokens
    if cell.matrix in ("inputs", "source_inputs"):
        token = f" '{rows[cell.row]}'" if cell.row < len(rows) else ""
        where = f"token {cell.row + 1}{token}, column x{cell.col + 1}"
    elif cell.matrix.startswith("b_"):
        where = f"column {col_label(lay, cell.matrix, cell.col)}"
    else:
        row = row_label(lay, cell.matrix, cell.row)
        where = f"row {row}, column {col_label(lay, cell.matrix, cell.col)}"
    return Explanation(
        title=f"{NAMES[cell.matrix]}  {where} = {format_number(value)}",
        cell=cell,
        value=value,
        steps=tuple(steps),
    )


def explain_any(
    preset: Preset, result: AttentionResult, cell: CellRef, target: CellRef | None = None
) -> Explanation:
    """Any cell: an input (with ∂ target / ∂ it), Q/K/V, or a later result with its inputs."""
    if cell.matrix in INPUT_MATRICES:
        return explain_input(preset, result, cell, target)
    if cell.matrix in (*_PROJECTION, "q_rot", "k_rot"):
        return with_dependencies(explain_projection(preset, result, cell), preset, result)
    check_cell(preset, result, cell)
    head = 0 if cell.head is None else cell.head
    explanation = explain_cell(preset, result, cell.matrix, head, cell.row, cell.col)
    return with_dependencies(explanation, preset, result)


__all__ = [
    "cell_label",
    "dependency_notes",
    "describe_cells",
    "explain_any",
    "explain_input",
    "explain_projection",
    "with_dependencies",
]
