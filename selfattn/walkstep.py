"""The pieces of a walk-through: its value types and the helpers its steps share.

`selfattn.walkthrough` builds the steps; this module holds what they are made of
(Cells, Table, WalkStep, Walkthrough) and the text helpers, so neither module
grows past a screenful of ideas.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from .attention import AttentionResult
from .explain import CellRef, Explanation, Step, explain_scaled_score
from .explain_inputs import explain_projection
from .explain_rope import rotation_step
from .numbers import significant
from .preset import Preset

MAX_EXPLAINED = 4  # cells whose arithmetic a step writes out; the text says "likewise"
MAX_PROJECTION_TERMS = 16  # longer dot products (d_model) are not written out term by term
VECTOR_SHOWN = 8  # numbers of a vector quoted in a step's text
PROSE_DIGITS = 4  # significant digits of the numbers quoted in a step's text


class WalkthroughError(ValueError):
    """A walk-through that cannot be made (e.g. a query the preset does not have)."""


@dataclass(frozen=True)
class Cells:
    """A block of one matrix that a step involves: every (row, col) of rows x cols.

    matrix is a Preset field ("inputs", "source_inputs", "w_query", "w_key", "w_value",
    "w_output", "b_query", "b_key", "b_value", "b_output"; a bias is one row, row 0)
    or an AttentionResult array ("q", "k", "v", "scores", "scaled_scores", "weights",
    "context", "output"). head is set for the per-head arrays (scores .. context,
    whose cols count within the head) and None otherwise (q, k, v use their absolute
    columns).
    """

    matrix: str
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    head: int | None = None


@dataclass(frozen=True, eq=False)
class Table:
    """Numbers a step shows, labelled like the window's tables (values are read-only)."""

    title: str
    matrix: str  # the Cells matrix name the numbers come from
    values: np.ndarray  # 2-D
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    heatmap: bool = False  # attention weights: a worksheet may draw them as a heatmap


@dataclass(frozen=True, eq=False)
class WalkStep:
    """One step: a stable key (e.g. "softmax", "causal_mask"), a title and a short text."""

    key: str
    title: str
    text: str
    cells: tuple[Cells, ...]
    tables: tuple[Table, ...] = ()
    explanations: tuple[Explanation, ...] = ()


@dataclass(frozen=True, eq=False)
class Walkthrough:
    """The steps of one preset for one query (and the head its one-query steps use)."""

    preset: Preset
    result: AttentionResult
    query: int
    head: int
    steps: tuple[WalkStep, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(step.key for step in self.steps)

    def step(self, key: str) -> WalkStep:
        """The step with this key; KeyError if the walk-through has none."""
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)


# Text pieces ---------------------------------------------------------------------


def num(x: float) -> str:
    """A number in a step's prose: 4 significant digits (the tables and Explain show more)."""
    return significant(x, PROSE_DIGITS)


def vector(values: Sequence[float] | np.ndarray) -> str:
    """E.g. "[1, 0, 2]"; long vectors are cut: "[0.1, 0.2, …] (384 numbers)"."""
    seq = [float(v) for v in np.asarray(values).ravel()]
    shown = ", ".join(num(v) for v in seq[:VECTOR_SHOWN])
    if len(seq) > VECTOR_SHOWN:
        return f"[{shown}, …] ({len(seq)} numbers)"
    return f"[{shown}]"


def ordinals(indices: Sequence[int]) -> str:
    """1-based numbers with runs shortened: [0, 1, 2, 4] -> "1..3, 5"."""
    parts: list[str] = []
    start = 0
    while start < len(indices):
        stop = start
        while stop + 1 < len(indices) and indices[stop + 1] == indices[stop] + 1:
            stop += 1
        first, last = indices[start] + 1, indices[stop] + 1
        parts.append(
            f"{first}..{last}"
            if stop - start >= 2
            else ", ".join(str(k) for k in range(first, last + 1))
        )
        start = stop + 1
    return ", ".join(parts)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def token_text(labels: tuple[str, ...], index: int) -> str:
    label = " ".join(labels[index].split()) if index < len(labels) else ""
    return f" '{label}'" if label else ""


def column_labels(prefix: str, heads: int, d: int) -> tuple[str, ...]:
    """The tables' column names: q1..q3, or h1:q1..h2:q3 with several heads."""
    if heads == 1:
        return tuple(f"{prefix}{c + 1}" for c in range(d))
    return tuple(f"h{h + 1}:{prefix}{c + 1}" for h in range(heads) for c in range(d))


def likewise(shown: int, total: int, what: str) -> str:
    if total <= shown or shown == 0:
        return ""
    rest = "the last one goes" if total - shown == 1 else f"the other {total - shown} go"
    return f" The arithmetic is written out for the first {shown} {what}; {rest} the same way."


# Building blocks -----------------------------------------------------------------


class Builder:
    """Holds the preset, its result and the chosen query/head while the steps are made."""

    def __init__(self, preset: Preset, result: AttentionResult, query: int, head: int) -> None:
        self.p = preset
        self.r = result
        self.i = query
        self.h = head
        self.g = result.kv_head(head)  # the key/value head it reads (== head unless grouped)
        self.n, self.m = result.n_queries, result.n_keys
        self.cross = preset.source_inputs is not None
        self.dtype = np.dtype(result.dtype)

    # Labels and helpers -------------------------------------------------------
    def query_name(self, capital: bool = False) -> str:
        """E.g. "query 1 'input_1'" (the chosen query)."""
        word = "Query" if capital else "query"
        return f"{word} {self.i + 1}{token_text(self.p.tokens, self.i)}"

    def key_name(self, j: int) -> str:
        return f"key {j + 1}{token_text(self.p.key_tokens, j)}"

    def head_note(self) -> str:
        if self.r.heads == 1:
            return ""
        if self.r.kv_heads < self.r.heads:
            return f" (head {self.h + 1} of {self.r.heads}, key/value head {self.g + 1})"
        return f" (head {self.h + 1} of {self.r.heads})"

    def all_rows(self, count: int) -> tuple[int, ...]:
        return tuple(range(count))

    def q_cols(self) -> tuple[int, ...]:
        """The chosen head's columns of Q (and of q_rot)."""
        d = self.r.d_k
        return tuple(range(self.h * d, (self.h + 1) * d))

    def k_cols(self) -> tuple[int, ...]:
        """The columns of K (and k_rot) the chosen head reads: its key/value head's block."""
        d = self.r.d_k
        return tuple(range(self.g * d, (self.g + 1) * d))

    def v_cols(self) -> tuple[int, ...]:
        d = self.r.d_v
        return tuple(range(self.g * d, (self.g + 1) * d))

    @property
    def q_name(self) -> str:
        """The query matrix the scores use: q, or q_rot with RoPE."""
        return "q_rot" if self.r.has_rope else "q"

    @property
    def k_name(self) -> str:
        return "k_rot" if self.r.has_rope else "k"

    def table(
        self,
        title: str,
        matrix: str,
        values: np.ndarray,
        rows: tuple[str, ...],
        cols: tuple[str, ...],
        heatmap: bool = False,
    ) -> Table:
        arr = np.asarray(values)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        view = arr.view()
        view.flags.writeable = False
        return Table(title, matrix, view, rows, cols, heatmap)

    def key_labels(self) -> tuple[str, ...]:
        return tuple(self.p.key_tokens)

    def head_row_labels(self) -> tuple[str, ...]:
        return (self.p.tokens[self.i],)

    # Explain's arithmetic ------------------------------------------------------
    def projections(self, name: str, row: int) -> list[Explanation]:
        """The chosen head's first columns of row `row` of q, k or v, written out by Explain."""
        if self.p.d_model > MAX_PROJECTION_TERMS:
            return []
        cols = self.v_cols() if name == "v" else (self.q_cols() if name == "q" else self.k_cols())
        return [
            explain_projection(self.p, self.r, CellRef(name, None, row, c))
            for c in cols[:MAX_EXPLAINED]
        ]

    def rotation(self, name: str, row: int) -> Explanation:
        """Row `row` of q (the chosen head) or k (its key/value head) rotated by RoPE, as
        Explain writes it out pair by pair; its cell and value are the row's first column."""
        block = self.h if name == "q" else self.g
        step = rotation_step(self.p, self.r, name, block, row)
        col = block * self.r.d_k
        value = float(getattr(self.r, f"{name}_rot")[row, col])
        return Explanation(
            title=step.label.split(":")[0],
            cell=CellRef(f"{name}_rot", None, row, col),
            value=value,
            steps=(step,),
        )


# Explain's arithmetic, where it adds up ------------------------------------------


def logit_explanation(b: Builder, j: int) -> Explanation | None:
    """Explain's scaled-score step alone, its last (the dot product was the step before);
    for a masked cell its lead says why the cell is masked."""
    return explained(partial(explain_scaled_score, b.p, b.r, b.h, b.i, j), last_step)


def softmax_steps(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """A weight's explanation from the row's maximum on (its max, exponentials, division)."""
    start = next((k for k, step in enumerate(steps) if step.combine == "max"), len(steps))
    return steps[start:]


def last_step(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """The step that gives the cell (a score's dot product after any RoPE rotations)."""
    return steps[-1:]


def explained(
    make: Callable[[], Explanation],
    part: Callable[[tuple[Step, ...]], tuple[Step, ...]] | None = None,
) -> Explanation | None:
    """Explain's arithmetic for a cell (or the `part` of its steps a walk-through step
    shows), or None where Explain cannot write it out for this preset (it refuses, or a
    sum misses the stored number): a worksheet never shows a sum that does not add up."""
    try:
        ex = make()
    except (IndexError, ValueError):
        return None
    steps = ex.steps if part is None else part(ex.steps)
    if not steps:
        return None
    for step in steps:
        if step.combine == "sum" and step.terms:
            total = math.fsum(t.value for t in step.terms)
            size = math.fsum(abs(t.value) for t in step.terms)
            if not abs(total - step.result) <= 1e-5 * size + 1e-12:
                return None
    return (
        ex if part is None else Explanation(ex.title, ex.cell, ex.value, steps, ex.notes, ex.lead)
    )


def explained_all(
    makers: Iterable[Callable[[], Explanation]],
    part: Callable[[tuple[Step, ...]], tuple[Step, ...]] | None = None,
) -> tuple[Explanation, ...]:
    """All of the explanations (see `explained`), or none if any cannot be written out."""
    out = []
    for make in makers:
        ex = explained(make, part)
        if ex is None:
            return ()
        out.append(ex)
    return tuple(out)


def present(*explanations: Explanation | None) -> tuple[Explanation, ...]:
    return tuple(ex for ex in explanations if ex is not None)
