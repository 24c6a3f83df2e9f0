"""The walk-through steps a preset needs beyond the tutorial's: the source tokens of
cross-attention, biases, the causal and padding masks, a sliding window, grouped heads,
RoPE, several heads and the output projection (see `selfattn.walkthrough`)."""

from __future__ import annotations

import numpy as np

from .explain import explain_output
from .rope import pair_columns, rope_angles
from .walkstep import (
    MAX_EXPLAINED,
    VECTOR_SHOWN,
    Builder,
    Cells,
    WalkStep,
    column_labels,
    likewise,
    logit_explanation,
    ordinals,
    plural,
    present,
    vector,
)


def source_step(b: Builder) -> WalkStep:
    p = b.p
    assert p.source_inputs is not None
    text = (
        f"Cross-attention: the queries come from X, but the keys and values come from "
        f"{plural(b.m, 'source token')} Xs (for example the sentence being translated). "
        f"Each query row will be compared with every source row."
    )
    return WalkStep(
        "source",
        "The source tokens (cross-attention)",
        text,
        (Cells("source_inputs", b.all_rows(b.m), tuple(range(p.d_model))),),
        (
            b.table(
                "Xs (source inputs)",
                "source_inputs",
                p.source_inputs,
                b.key_labels(),
                column_labels("x", 1, p.d_model),
            ),
        ),
    )


def biases_step(b: Builder) -> WalkStep:
    p, r = b.p, b.r
    given = [
        (name, big, vec, prefix, d)
        for name, big, vec, prefix, d in (
            ("b_query", "Q", p.b_query, "q", r.d_k),
            ("b_key", "K", p.b_key, "k", r.d_k),
            ("b_value", "V", p.b_value, "v", r.d_v),
        )
        if vec is not None
    ]
    parts = [f"b_{big} = {vector(vec)}" for _, big, vec, _, _ in given]
    text = (
        "Each projection adds a bias vector after the multiplication, the same for every "
        f"row: {_bias_formula(b, given)}. Here " + "; ".join(parts) + "."
    )
    return WalkStep(
        "biases",
        "The biases",
        text,
        tuple(Cells(name, (0,), tuple(range(len(vec)))) for name, _, vec, _, _ in given),
        tuple(
            b.table(
                f"b_{big}",
                name,
                vec,
                ("bias",),
                column_labels(prefix, r.heads if prefix == "q" else r.kv_heads, d),
            )
            for name, big, vec, prefix, d in given
        ),
    )


def _bias_formula(b: Builder, given: list[tuple[str, str, np.ndarray, str, int]]) -> str:
    """E.g. "Q = X W_Q + b_Q, K = Xs W_K + b_K"."""
    x = {"Q": "X", "K": "Xs" if b.cross else "X", "V": "Xs" if b.cross else "X"}
    return ", ".join(f"{big} = {x[big]} W_{big} + b_{big}" for _, big, _, _, _ in given)


def _keys(indices: list[int]) -> str:
    """ "key 3" or "keys 1, 2" (1-based)."""
    return f"key {indices[0] + 1}" if len(indices) == 1 else f"keys {ordinals(indices)}"


def _keys_come_later(hidden: list[int]) -> str:
    return f"{_keys(hidden)} {'comes' if len(hidden) == 1 else 'come'} later"


def causal_mask_step(b: Builder) -> WalkStep:
    r, i = b.r, b.i
    p_i = int(r.positions[i])
    hidden = [j for j in range(b.m) if int(r.key_positions[j]) > p_i]
    seen = [j for j in range(b.m) if int(r.key_positions[j]) <= p_i]
    text = (
        "Causal mask: a token may only look at itself and the tokens before it, as in a "
        f"language model that predicts the next word. {b.query_name(capital=True)} sees "
        + (_keys(seen) if seen else "no key")
    )
    if hidden:
        text += (
            f"; {_keys_come_later(hidden)}, so their scaled scores are −∞ and their "
            "weights will be exactly 0."
        )
    else:
        text += "; no key comes after it, so nothing is hidden from this query."
    return WalkStep(
        "causal_mask",
        "The causal mask",
        text,
        (Cells("scaled_scores", (i,), tuple(hidden), b.h),),
        (),
        present(logit_explanation(b, hidden[0])) if hidden else (),
    )


def _window_rule(b: Builder, query: int) -> tuple[str, list[int]]:
    """What the sliding window lets `query` see, in words, and the keys it hides."""
    r, w = b.r, b.p.options.window
    assert w is not None
    p_i = int(r.positions[query])
    if b.p.options.causal:
        rule = f"only the keys at positions {max(p_i - w + 1, 0)}..{p_i} (the last {w})"
        hidden = [j for j in range(b.m) if int(r.key_positions[j]) <= p_i - w]
    else:
        rule = f"only the keys less than {w} positions away ({max(p_i - w + 1, 0)}..{p_i + w - 1})"
        hidden = [j for j in range(b.m) if abs(int(r.key_positions[j]) - p_i) >= w]
    return rule, hidden


def _too_far(hidden: list[int]) -> str:
    return f"{_keys(hidden)} {'is' if len(hidden) == 1 else 'are'} too far away"


def window_step(b: Builder) -> WalkStep:
    r, i = b.r, b.i
    w = b.p.options.window
    assert w is not None
    rule, hidden = _window_rule(b, i)
    text = (
        f"Sliding window w = {w}: {b.query_name()} at position {int(r.positions[i])} may look "
        f"at {rule}. "
    )
    if hidden:
        text += f"{_too_far(hidden).capitalize()}: scaled score −∞, weight 0."
    else:
        text += "No key is too far away for this query."
        # Show the window at work on the nearest query it hides a key from.
        hiding = [k for k in range(b.n) if _window_rule(b, k)[1]]
        if hiding:
            other = min(hiding, key=lambda k: (abs(k - i), k))
            other_rule, other_hidden = _window_rule(b, other)
            name = Builder(b.p, r, other, b.h).query_name()
            text += (
                f" For another query it matters: {name} at position {int(r.positions[other])} may "
                f"look at {other_rule}, so {_too_far(other_hidden)}."
            )
    return WalkStep(
        "window",
        "The sliding window",
        text,
        (Cells("scaled_scores", (i,), tuple(hidden), b.h),),
        (),
        present(logit_explanation(b, hidden[0])) if hidden else (),
    )


def grouped_heads_step(b: Builder) -> WalkStep:
    r = b.r
    group = r.heads // r.kv_heads
    k_labels = column_labels("k", r.kv_heads, r.d_k)
    cols = b.k_cols()
    text = (
        f"Grouped heads: the {r.heads} query heads share {plural(r.kv_heads, 'key/value head')}, "
        f"{group} query heads each; query head h reads key/value head h // {group} (counting "
        f"from 0). Head {b.h + 1} reads key/value head {b.g + 1}: columns "
        f"{k_labels[cols[0]]}..{k_labels[cols[-1]]} of K and the same block of V. "
        "Fewer key/value heads make the key/value cache of a language model smaller."
    )
    return WalkStep(
        "grouped_heads",
        "Grouped heads: shared keys and values",
        text,
        (
            Cells("q", b.all_rows(b.n), b.q_cols()),
            Cells("k", b.all_rows(b.m), b.k_cols()),
            Cells("v", b.all_rows(b.m), b.v_cols()),
        ),
    )


def turning_query(b: Builder) -> int | None:
    """A query RoPE visibly turns, to show next to the chosen one when the chosen one sits
    at position 0 (angle 0 leaves a row as it is): the nearest query at another position,
    or None if there is no such query or the chosen one is not at position 0."""
    positions = [int(pos) for pos in b.r.positions]
    if positions[b.i] != 0:
        return None
    others = [k for k in range(b.n) if positions[k] != 0]
    return min(others, key=lambda k: (abs(k - b.i), k)) if others else None


def rope_step(b: Builder) -> WalkStep:
    p, r, i = b.p, b.r, b.i
    rope = p.options.rope
    assert rope is not None and r.q_rot is not None and r.k_rot is not None
    dims = rope.rotary_dims(r.d_k)
    freqs = rope.frequencies(r.d_k)
    first, second = pair_columns(dims, rope.style)
    labels = column_labels("q", 1, r.d_k)
    pairs = ", ".join(
        f"({labels[int(a)]}, {labels[int(c)]})" for a, c in zip(first[:3], second[:3], strict=True)
    ) + (", …" if len(first) > 3 else "")
    cols = list(b.q_cols())
    angles = rope_angles(r.positions[i : i + 1], freqs)[0]
    text = (
        f"RoPE (rotary position embedding, style '{rope.style}'): before the scores, each "
        f"head's query and key rows are rotated by angles that grow with the token's position. "
        f"The first {dims} of d_k = {r.d_k} columns form pairs {pairs}; pair k turns by "
        f"position × inv_freq[k], inv_freq = {vector(freqs)}. "
    )
    other = turning_query(b)
    if other is None:
        text += (
            f"{b.query_name(capital=True)} is at position {int(r.positions[i])}: angles "
            f"{vector(angles)}, so its rotated query row{b.head_note()} is "
            f"{vector(r.q_rot[i, cols])}. "
        )
        shown = [i]
    else:
        o = Builder(p, r, other, b.h)
        turns = rope_angles(r.positions[other : other + 1], freqs)[0]
        text += (
            f"{b.query_name(capital=True)} is at position 0, and position 0 is not rotated: "
            f"every angle is 0, so its rotated query row{b.head_note()} is its query row, "
            f"{vector(r.q_rot[i, cols])}. To see a turn, take {o.query_name()} at position "
            f"{int(r.positions[other])}: its angles are {vector(turns)}, and its query row "
            f"{vector(r.q[other, cols])} becomes {vector(r.q_rot[other, cols])}. "
        )
        shown = [i, other]
    text += "A rotated query and key then score by how far apart they are, not where they are."
    # The rows followed (and a turning one), each with the key row of the same number.
    explanations = tuple(
        ex for row in shown for ex in (b.rotation("q", row), b.rotation("k", min(row, b.m - 1)))
    )
    rows = tuple(shown)
    return WalkStep(
        "rope",
        "RoPE: rotate queries and keys by position",
        text,
        (
            Cells("q", rows, b.q_cols()),
            Cells("q_rot", rows, b.q_cols()),
            Cells("k", b.all_rows(b.m), b.k_cols()),
            Cells("k_rot", b.all_rows(b.m), b.k_cols()),
        ),
        (
            b.table("Q rotated", "q_rot", r.q_rot, p.tokens, column_labels("q", r.heads, r.d_k)),
            b.table(
                "K rotated", "k_rot", r.k_rot, b.key_labels(), column_labels("k", r.kv_heads, r.d_k)
            ),
        ),
        explanations,
    )


def padding_mask_step(b: Builder) -> WalkStep:
    key_mask = b.p.options.key_mask
    assert key_mask is not None
    hidden = [j for j, visible in enumerate(key_mask) if not visible]
    names = ", ".join(b.key_name(j) for j in hidden[:VECTOR_SHOWN])
    if len(hidden) > VECTOR_SHOWN:
        names += ", …"
    text = (
        f"Padding mask: {names} {'is' if len(hidden) == 1 else 'are'} masked for every query "
        "(padding that only fills a batch to equal length, or keys switched off). Their "
        "scaled scores are −∞ in every row, so no query gives them any weight."
    )
    return WalkStep(
        "padding_mask",
        "The padding mask",
        text,
        (Cells("scaled_scores", b.all_rows(b.n), tuple(hidden), b.h),),
        (),
        present(logit_explanation(b, hidden[0])),
    )


def heads_step(b: Builder) -> WalkStep:
    p, r, i = b.p, b.r, b.i
    per_head = "; ".join(f"head {h + 1} {vector(r.weights[h, i])}" for h in range(r.heads))
    text = (
        f"This preset has {r.heads} heads. Head h uses its own block of d_k = {r.d_k} columns "
        + (
            f"of Q and K and d_v = {r.d_v} columns of V"
            if r.kv_heads == r.heads
            else "of Q and the keys and values of its key/value head (grouped heads)"
        )
        + ", and computes its own weights: "
        f"the weights of {b.query_name()} are {per_head}. The heads' contexts are then set side "
        f"by side, {r.heads} × {r.d_v} = {r.heads * r.d_v} columns."
    )
    keys = b.key_labels()
    tables = [
        b.table(f"Weights, head {h + 1}", "weights", r.weights[h], p.tokens, keys, heatmap=True)
        for h in range(r.heads)
    ]
    tables.append(
        b.table(
            "Contexts side by side",
            "context",
            r.concat_context,
            p.tokens,
            column_labels("c", r.heads, r.d_v),
        )
    )
    cells = tuple(
        Cells("weights", b.all_rows(b.n), b.all_rows(b.m), h) for h in range(r.heads)
    ) + tuple(Cells("context", b.all_rows(b.n), tuple(range(r.d_v)), h) for h in range(r.heads))
    return WalkStep("heads", "Several heads", text, cells, tuple(tables))


def output_step(b: Builder) -> WalkStep:
    p, r, i = b.p, b.r, b.i
    d_out = r.output.shape[1]
    concat = r.heads * r.d_v
    if p.w_output is not None:
        text = (
            f"The output projection W_O ({concat} × {d_out}) mixes the heads' contexts "
            f"({concat} columns side by side) into the output"
        )
    else:
        text = "There is no W_O: the output is the heads' contexts side by side"
    if p.b_output is not None:
        text += f", plus the output bias b_O = {vector(p.b_output)}"
    text += f". Output {i + 1} is {vector(r.output[i])}."
    shown = min(d_out, MAX_EXPLAINED)
    text += likewise(shown, d_out, "columns")
    out_cols = column_labels("o", 1, d_out)
    cells = [Cells("context", (i,), tuple(range(r.d_v)), h) for h in range(r.heads)]
    tables = []
    if p.w_output is not None:
        cells.append(Cells("w_output", b.all_rows(concat), tuple(range(d_out))))
        tables.append(
            b.table("W_O", "w_output", p.w_output, column_labels("v", r.heads, r.d_v), out_cols)
        )
    if p.b_output is not None:
        cells.append(Cells("b_output", (0,), tuple(range(d_out))))
        tables.append(b.table("b_O", "b_output", p.b_output, ("bias",), out_cols))
    cells.append(Cells("output", (i,), tuple(range(d_out))))
    tables.append(b.table("Output", "output", r.output, p.tokens, out_cols))
    return WalkStep(
        "output",
        "The output projection",
        text,
        tuple(cells),
        tuple(tables),
        tuple(explain_output(p, r, i, c) for c in range(shown)),
    )
