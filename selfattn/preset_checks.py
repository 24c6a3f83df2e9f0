"""Checks of a preset file's parsed JSON: limits, and messages naming file, field and cell.

`_Checker` turns JSON values into numbers, matrices, vectors and labels or raises a
PresetError that says where the fault is; `_rope` and `_positions` check the
version-2 fields. Used by `selfattn.preset.preset_from_dict`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .preset_model import PresetError
from .rope import MAX_POSITION, ROPE_STYLES, Rope, check_positions, check_rope

# Size limits, checked before arrays are allocated. A whole BERT-base layer
# (768 x 768 weights x 4, 512 tokens) is about 2.75 million cells.
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_TOKENS = 16384
MAX_WIDTH = 8192
MAX_HEADS = 1024
MAX_TOTAL_CELLS = 20_000_000
MAX_TEXT_CHARS = 100_000

OPTION_NAMES = (
    "heads",
    "scale",
    "temperature",
    "causal",
    "key_mask",
    "dtype",
    "kv_heads",
    "window",
    "rope",
)
V2_OPTION_NAMES = ("kv_heads", "window", "rope")  # options a version-1 file may not use
ROPE_NAMES = ("style", "theta", "dims", "inv_freq", "positions")
MAX_WINDOW = MAX_POSITION + 1

# Validation -----------------------------------------------------------------


class _Checker:
    """Validates parsed JSON, raising PresetError messages that name file, field and cell."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, field_name: str, message: str) -> PresetError:
        if len(field_name) > 80:  # an unknown key can be any length
            field_name = field_name[:77] + "..."
        return PresetError(f"{self.origin}: {field_name}: {message}")

    def number(self, field_name: str, value: Any) -> float:
        if isinstance(value, _NonFinite):
            raise self.fail(field_name, f"expected a finite number, got {value.text}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field_name, f"expected a number, got {_describe(value)}")
        try:
            f = float(value)
        except OverflowError:
            raise self.fail(field_name, "number too large for a float") from None
        if not math.isfinite(f):
            why = " (too large for a float)" if math.isinf(f) else ""
            raise self.fail(field_name, f"expected a finite number, got {value!r}{why}")
        return f

    def matrix(self, field_name: str, value: Any, budget: list[int]) -> np.ndarray:
        if not isinstance(value, list):
            raise self.fail(field_name, f"expected a list of rows, got {_describe(value)}")
        if not value:
            raise self.fail(field_name, "must have at least one row")
        if len(value) > MAX_TOKENS and len(value) > MAX_WIDTH:
            raise self.fail(field_name, f"{len(value)} rows exceeds the limit of {MAX_TOKENS}")
        first = value[0]
        if not isinstance(first, list):
            raise self.fail(
                f"{field_name}[0]", f"expected a list of numbers, got {_describe(first)}"
            )
        width = len(first)
        if width == 0:
            raise self.fail(field_name, "rows must have at least one column")
        if width > MAX_WIDTH:
            raise self.fail(field_name, f"{width} columns exceeds the limit of {MAX_WIDTH}")
        cells = len(value) * width
        budget[0] += cells
        if budget[0] > MAX_TOTAL_CELLS:
            raise self.fail(
                field_name, f"the preset holds more than {MAX_TOTAL_CELLS:,} cells in total"
            )
        for i, row in enumerate(value):
            if not isinstance(row, list):
                raise self.fail(
                    f"{field_name}[{i}]", f"expected a list of numbers, got {_describe(row)}"
                )
            if len(row) != width:
                raise self.fail(
                    f"{field_name}[{i}]",
                    f"ragged matrix: this row has {len(row)} numbers, {field_name}[0] has {width}",
                )
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            arr = None
        if arr is None or arr.shape != (len(value), width) or not _all_plain_numbers(value):
            # Find the first bad cell for the message.
            for i, row in enumerate(value):
                for j, cell in enumerate(row):
                    self.number(f"{field_name}[{i}][{j}]", cell)
            raise self.fail(field_name, "not a numeric matrix")  # pragma: no cover
        if not np.all(np.isfinite(arr)):
            i, j = np.argwhere(~np.isfinite(arr))[0]
            self.number(f"{field_name}[{i}][{j}]", value[i][j])
            raise self.fail(f"{field_name}[{i}][{j}]", "expected a finite number")
        return arr

    def vector(self, field_name: str, value: Any, budget: list[int]) -> np.ndarray:
        if not isinstance(value, list):
            raise self.fail(field_name, f"expected a list of numbers, got {_describe(value)}")
        if len(value) > MAX_WIDTH:
            raise self.fail(field_name, f"{len(value)} entries exceeds the limit of {MAX_WIDTH}")
        budget[0] += len(value)
        return np.array(
            [self.number(f"{field_name}[{i}]", v) for i, v in enumerate(value)], dtype=np.float64
        ).reshape(len(value))

    def text(self, field_name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(field_name, f"expected a string, got {_describe(value)}")
        if len(value) > MAX_TEXT_CHARS:
            raise self.fail(field_name, f"longer than {MAX_TEXT_CHARS:,} characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise self.fail(
                field_name, f"not valid Unicode text (lone surrogate at character {exc.start})"
            ) from None
        return value

    def labels(self, field_name: str, value: Any, count: int) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(field_name, f"expected a list of strings, got {_describe(value)}")
        if len(value) != count:
            raise self.fail(field_name, f"has {len(value)} labels, expected {count} (one per row)")
        return tuple(self.text(f"{field_name}[{i}]", v) for i, v in enumerate(value))


def _all_plain_numbers(rows: list[list[Any]]) -> bool:
    return all(not isinstance(c, bool) and isinstance(c, int | float) for row in rows for c in row)


def _describe(value: Any) -> str:
    if isinstance(value, _NonFinite):
        return f"the non-finite number {value.text}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:17] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _NonFinite:
    """A NaN/Infinity/-Infinity literal, kept so the refusal can name its field and cell."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _keep_constant(name: str) -> _NonFinite:
    return _NonFinite(name)


def _positions(c: _Checker, field_name: str, value: Any, count: int, what: str) -> tuple[int, ...]:
    """A list of whole, non-negative token positions, one per token."""
    if not isinstance(value, list):
        raise c.fail(field_name, f"expected a list of whole numbers, got {_describe(value)}")
    if len(value) > MAX_TOKENS:
        raise c.fail(field_name, f"{len(value)} entries exceeds the limit of {MAX_TOKENS}")
    for i, p in enumerate(value):
        if isinstance(p, bool) or not isinstance(p, int):
            raise c.fail(f"{field_name}[{i}]", f"expected a whole number, got {_describe(p)}")
    problem = check_positions(value, count, what)
    if problem is not None:
        if problem.startswith("["):
            cell, _, message = problem.partition(": ")
            raise c.fail(field_name + cell, message)
        raise c.fail(field_name, problem)
    return tuple(value)


def _rope(c: _Checker, raw: Any, d_k: int, n: int) -> Rope:
    """options.rope: {"style", "theta", "dims", "inv_freq", "positions"}, checked for heads of d_k."""
    if not isinstance(raw, dict):
        raise c.fail("options.rope", f"expected an object, got {_describe(raw)}")
    extra = sorted(set(raw) - set(ROPE_NAMES))
    if extra:
        raise c.fail(f"options.rope.{extra[0]}", "unknown field")
    style = raw.get("style", "half")
    if style not in ROPE_STYLES:
        raise c.fail(
            "options.rope.style",
            f"expected one of {', '.join(ROPE_STYLES)}, got {_describe(style)}",
        )
    theta = c.number("options.rope.theta", raw.get("theta", 10000.0))
    dims = raw.get("dims")
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 1):
        raise c.fail(
            "options.rope.dims", f"expected an even positive integer, got {_describe(dims)}"
        )
    inv_freq = None
    if raw.get("inv_freq") is not None:
        inv = raw["inv_freq"]
        if not isinstance(inv, list):
            raise c.fail(
                "options.rope.inv_freq", f"expected a list of numbers, got {_describe(inv)}"
            )
        if len(inv) > MAX_WIDTH:
            raise c.fail(
                "options.rope.inv_freq", f"{len(inv)} entries exceeds the limit of {MAX_WIDTH}"
            )
        inv_freq = tuple(c.number(f"options.rope.inv_freq[{i}]", f) for i, f in enumerate(inv))
    positions = None
    if raw.get("positions") is not None:
        positions = _positions(c, "options.rope.positions", raw["positions"], n, "token")
    rope = Rope(style=style, theta=theta, dims=dims, inv_freq=inv_freq, positions=positions)
    problem = check_rope(rope, d_k)
    if problem is not None:
        field_part, _, message = problem.partition(": ")
        joiner = "" if field_part.startswith("[") else "."
        raise c.fail(f"options.rope{joiner}{field_part}", message)
    return rope
