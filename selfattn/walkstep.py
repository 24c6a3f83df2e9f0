"""The pieces of a walk-through: its value types and the helpers its steps share.

`selfattn.walkthrough` builds the steps; this module holds what they are made of
(Cells, Table, WalkStep, Walkthrough) and the text helpers, so neither module
grows past a screenful of ideas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .attention import AttentionResult
from .explain import (
    CellRef,
    Explanation,
    Step,
    Term,
    format_number,
)
from .preset import Preset

MAX_EXPLAINED = 4  # cells whose arithmetic a step writes out; the text says "likewise"
MAX_PROJECTION_TERMS = 16  # longer dot products (d_model) are not written out term by term
VECTOR_SHOWN = 8  # numbers of a vector quoted in a step's text


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
    x = float(x)
    if math.isfinite(x) and x != 0:
        return f"{x:.4g}"
    return format_number(x)


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
    if total <= shown:
        return ""
    return f" The arithmetic is written out for the first {shown} {what}; the other {total - shown} go the same way."


# Building blocks -----------------------------------------------------------------


class Builder:
    """Holds the preset, its result and the chosen query/head while the steps are made."""

    def __init__(self, preset: Preset, result: AttentionResult, query: int, head: int) -> None:
        self.p = preset
        self.r = result
        self.i = query
        self.h = head
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
        return f" (head {self.h + 1} of {self.r.heads})" if self.r.heads > 1 else ""

    def all_rows(self, count: int) -> tuple[int, ...]:
        return tuple(range(count))

    def qk_cols(self) -> tuple[int, ...]:
        d = self.r.d_k
        return tuple(range(self.h * d, (self.h + 1) * d))

    def v_cols(self) -> tuple[int, ...]:
        d = self.r.d_v
        return tuple(range(self.h * d, (self.h + 1) * d))

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

    # Projections (no Explain function covers them: built from its Term/Step) ---
    def projection(self, name: str, x_name: str, x: np.ndarray, row: int, col: int) -> Explanation:
        """q/k/v[row, col] = Σ_t x[row, t] W[t, col] (+ b[col]), with the result's number."""
        weights = {"q": self.p.w_query, "k": self.p.w_key, "v": self.p.w_value}[name]
        bias = {"q": self.p.b_query, "k": self.p.b_key, "v": self.p.b_value}[name]
        w_field = {"q": "w_query", "k": "w_key", "v": "w_value"}[name]
        big = name.upper()
        xs = np.asarray(x, dtype=self.dtype)
        ws = np.asarray(weights, dtype=self.dtype)
        x_label = "X" if x_name == "inputs" else "Xs"
        terms = [
            Term(
                label=f"{x_label}[{row + 1},{t + 1}] × W_{big}[{t + 1},{col + 1}]",
                value=float(xs[row, t]) * float(ws[t, col]),
                operands=(float(xs[row, t]), float(ws[t, col])),
                op="×",
                refs=(CellRef(x_name, None, row, t), CellRef(w_field, None, t, col)),
            )
            for t in range(xs.shape[1])
        ]
        if bias is not None:
            b = float(np.asarray(bias, dtype=self.dtype)[col])
            terms.append(
                Term(
                    label=f"b_{big}[{col + 1}]",
                    value=b,
                    refs=(CellRef(f"b_{w_field[2:]}", None, 0, col),),
                )
            )
        stored = float(getattr(self.r, name)[row, col])
        label = column_labels(name, self.r.heads, getattr(self.r, "d_k" if name != "v" else "d_v"))
        cell = f"{big}[{row + 1},{label[col]}]"
        what = f"row {row + 1} of {x_label} times column {col + 1} of W_{big}"
        if bias is not None:
            what += f", plus b_{big}[{col + 1}]"
        return Explanation(
            title=f"{cell} = {format_number(stored)}",
            cell=CellRef(name, None, row, col),
            value=stored,
            steps=(
                Step(
                    label=f"{cell} = {what}", terms=tuple(terms), result=stored, result_label=cell
                ),
            ),
        )

    def projections(self, name: str, x_name: str, x: np.ndarray, row: int) -> list[Explanation]:
        """The first columns of the chosen head in row `row` of q, k or v, written out."""
        if x.shape[1] > MAX_PROJECTION_TERMS:
            return []
        cols = self.v_cols() if name == "v" else self.qk_cols()  # the chosen head's block
        return [self.projection(name, x_name, x, row, c) for c in cols[:MAX_EXPLAINED]]
