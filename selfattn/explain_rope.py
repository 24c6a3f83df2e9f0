"""Explain's steps for modern attention: a RoPE rotation pair by pair, grouped heads, windows.

For a score of a RoPE head, `rotation_step` writes out how one row of Q (or K)
turns: for each rotated pair (u, w) its position p, the angle p × inv_freq, cos
and sin, and the rotated values u cos − w sin and w cos + u sin — the result's own
q_rot / k_rot numbers, with a note where recomputing them here differs. The dot
product that follows multiplies the rotated rows (see `selfattn.explain`).
"""

from __future__ import annotations

import math

import numpy as np

from .attention import AttentionResult
from .explain_text import CellRef, Step, Term, _key, _query, _quotient_note, format_number
from .preset import Preset
from .rope import pair_columns


def kv_text(result: AttentionResult, head: int) -> str:
    """How a grouped query head finds its keys and values, or "" without grouping."""
    if result.kv_heads == result.heads:
        return ""
    g = result.kv_head(head)
    size = result.group_size
    first, last = g * size + 1, (g + 1) * size
    return (
        f"Grouped heads: query head {head + 1} reads key/value head {g + 1} of "
        f"{result.kv_heads}, which query heads {first}..{last} share ({result.heads} query "
        f"heads, {result.kv_heads} key/value heads: head h reads h // {size}), so its K and V "
        f"columns are key/value head {g + 1}'s block."
    )


def _frequency_text(preset: Preset, result: AttentionResult, r: int) -> str:
    rope = preset.options.rope
    assert rope is not None
    if rope.inv_freq is not None:
        return f"inv_freq as given in the preset's RoPE settings ({r // 2} numbers)"
    return (
        f"inv_freq_i = theta^(-2i/r) with theta = {format_number(rope.theta)} and r = {r} "
        f"rotary dims ({rope.style} layout)"
    )


def rotation_step(
    preset: Preset, result: AttentionResult, which: str, block: int, row: int
) -> Step:
    """Row `row` of Q (which "q", head `block`) or K ("k", key/value head `block`) rotated."""
    rope = preset.options.rope
    assert rope is not None and result.q_rot is not None and result.k_rot is not None
    query = which == "q"
    before, after = (result.q, result.q_rot) if query else (result.k, result.k_rot)
    position = int((result.positions if query else result.key_positions)[row])
    d_k = result.d_k
    r = rope.rotary_dims(d_k)
    inv_freq = rope.frequencies(d_k)
    first, second = pair_columns(r, rope.style)
    dtype = np.dtype(result.dtype)
    base = block * d_k
    name, matrix = ("q", "Q") if query else ("k", "K")
    terms: list[Term] = []
    notes: list[str] = []
    for t in range(r // 2):
        a, b = base + int(first[t]), base + int(second[t])
        angle = float(np.float64(position) * inv_freq[t])  # as rope_angles computes it
        cos = dtype.type(np.cos(np.float64(angle)))  # rounded like the rotation's
        sin = dtype.type(np.sin(np.float64(angle)))
        u, w = dtype.type(before[row, a]), dtype.type(before[row, b])
        la, lb = f"{name}{a - base + 1}", f"{name}{b - base + 1}"
        terms.append(
            Term(
                label=f"pair {t + 1}: angle",
                value=angle,
                operands=(float(position), float(inv_freq[t])),
                op="×",
            )
        )
        # u' = u cos − w sin and w' = w cos + u sin, one product a line (as in Explain of a
        # rotated cell): four numbers and a result on one line would not fit the panel.
        for own, other, sign, col in ((la, lb, -1, a), (lb, la, 1, b)):
            x, y = (u, w) if own == la else (w, u)
            own_cell = CellRef(which, None, row, col)
            other_cell = CellRef(which, None, row, a if col == b else b)
            products = (x * cos, y * sin)  # the rotation's own arithmetic, in its dtype
            rotated = float(after[row, col])
            terms.append(
                Term(f"{own} × cos", float(products[0]), (float(x), float(cos)), "×", (own_cell,))
            )
            terms.append(
                Term(
                    f"{other} × {'−' if sign < 0 else ''}sin",
                    float(sign * products[1]),
                    (float(y), float(sign * sin)),
                    "×",
                    (other_cell,),
                )
            )
            terms.append(
                Term(
                    label=f"rotated {own} = sum",
                    value=rotated,
                    refs=(own_cell, CellRef(f"{which}_rot", None, row, col)),
                )
            )
            computed = float(products[0] - products[1] if sign < 0 else products[0] + products[1])
            notes.extend(_quotient_note(result, computed, rotated))
    whose = f"head {block + 1}" if query else f"key/value head {block + 1}"
    row_text = ", ".join(format_number(float(v)) for v in before[row, base : base + d_k])
    notes.insert(0, f"{matrix} row {row + 1} of {whose} before rotation: {row_text}")
    notes.append(_frequency_text(preset, result, r) + ".")
    if r == d_k - 1:
        notes.append(f"Column {name}{d_k} is not rotated (dims = {r} of {d_k}).")
    elif r < d_k:
        notes.append(f"Columns {name}{r + 1}..{name}{d_k} are not rotated (dims = {r} of {d_k}).")
    norm = math.sqrt(math.fsum(float(v) ** 2 for v in after[row, base : base + d_k]))
    notes.append(f"A rotation keeps the length: |rotated row| = {format_number(norm)}.")
    who = _query(preset, row) if query else _key(preset, row)
    return Step(
        label=(
            f"Rotate {matrix} row {row + 1} ({who}, {whose}) by its position p = {position}: "
            "each pair (u, w) turns by the angle p × inv_freq into (u cos − w sin, w cos + u sin); "
            "below, each pair's angle, then each rotated value as the sum of its two products"
        ),
        terms=tuple(terms),
        result=norm,
        result_label=f"rotated {matrix} row {row + 1}: the values above",
        combine="",
        notes=tuple(notes),
    )


def window_reasons(preset: Preset, result: AttentionResult, i: int, j: int) -> list[str]:
    """Which sliding-window rule hides key j from query i (empty if the window allows it)."""
    w = preset.options.window
    if w is None:
        return []
    p, pk = int(result.positions[i]), int(result.key_positions[j])
    where = f"key {j + 1} at position {pk}, {_query(preset, i)} at position {p}"
    if not p - w < pk:
        return [
            f"Window: {where}; the window of {w} lets a query see keys only after position "
            f"p − w = {p - w}, and {pk} ≤ {p - w}."
        ]
    if preset.options.causal and pk > p and j <= i:  # (j > i: the causal mask says it)
        return [f"Window with causal: {where}; a key after the query's position is hidden."]
    if not preset.options.causal and not pk < p + w:
        return [
            f"Window: {where}; without causal the window of {w} shows keys before position "
            f"p + w = {p + w} only, and {pk} ≥ {p + w}."
        ]
    return []


__all__ = ["kv_text", "rotation_step", "window_reasons"]
