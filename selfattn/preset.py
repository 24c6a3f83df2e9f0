"""Presets: the numbers of one attention layer, and their JSON file format (versions 1 and 2).

Version 2 adds the optional `options.kv_heads`, `options.window`, `options.rope` and
`source.positions`; a preset that uses none of them is written as version 1, byte
for byte as before, so older readers still open it.

Loading validates everything before any array is built and never executes
anything from the file; saving is atomic (temporary file beside the target,
then rename), so a failed save leaves the old file byte-identical.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .attention import DTYPES, AttentionError, AttentionResult, Biases, attention
from .rope import MAX_POSITION, ROPE_STYLES, Rope, check_positions, check_rope

FORMAT_TAG = "selfattn.preset"
FORMAT_VERSION = 2  # the newest version this program reads and writes
BASE_VERSION = 1  # what a preset using no version-2 field is written as

# Size limits, checked before arrays are allocated. A whole BERT-base layer
# (768 x 768 weights x 4, 512 tokens) is about 2.75 million cells.
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_TOKENS = 16384
MAX_WIDTH = 8192
MAX_HEADS = 1024
MAX_TOTAL_CELLS = 20_000_000
MAX_TEXT_CHARS = 100_000

MATRIX_NAMES = ("query", "key", "value", "output")
# The array fields of a Preset, i.e. every matrix a person can edit (biases are vectors).
ARRAY_FIELDS = (
    "inputs",
    "source_inputs",
    "w_query",
    "w_key",
    "w_value",
    "w_output",
    "b_query",
    "b_key",
    "b_value",
    "b_output",
)
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


class PresetError(ValueError):
    """A preset file or preset value that breaks the format's rules.

    The message is always one line of printable, encodable text: it quotes file and
    field names from outside (a JSON key may hold a newline, NUL, a bidi override or
    a lone surrogate) and goes to stderr, dialogs and the status bar.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(_printable(a) if isinstance(a, str) else a for a in args))


def _printable(text: str) -> str:
    """`text` with every non-printable character (line breaks, NUL, surrogates) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class Options:
    heads: int = 1
    scale: str | float = "sqrt_dk"  # "sqrt_dk" | "none" | positive divisor
    temperature: float = 1.0
    causal: bool = False
    key_mask: tuple[bool, ...] | None = None  # one per key; False masks the key
    dtype: str = "float64"
    kv_heads: int | None = None  # None = heads (plain multi-head); must divide heads
    window: int | None = None  # sliding window w >= 1, None = off
    rope: Rope | None = None  # None = off

    @property
    def uses_version_2(self) -> bool:
        """True if any option only version 2 of the file format can hold is set."""
        return self.kv_heads is not None or self.window is not None or self.rope is not None


@dataclass(frozen=True, eq=False)
class Preset:
    """One attention layer's inputs, weights and options (arrays are float64, read-only)."""

    inputs: np.ndarray  # X, (n, d_model)
    w_query: np.ndarray  # (d_model, H*d_k)
    w_key: np.ndarray  # (d_model, H*d_k)
    w_value: np.ndarray  # (d_model, H*d_v)
    w_output: np.ndarray | None = None  # (H*d_v, d_out)
    b_query: np.ndarray | None = None
    b_key: np.ndarray | None = None
    b_value: np.ndarray | None = None
    b_output: np.ndarray | None = None
    source_inputs: np.ndarray | None = None  # Xs, (m, d_model), cross-attention
    tokens: tuple[str, ...] = ()
    source_tokens: tuple[str, ...] | None = None
    name: str = "Untitled"
    description: str = ""
    options: Options = field(default_factory=Options)
    source_positions: tuple[int, ...] | None = None  # key positions for cross-attention

    # The editable matrices (module constant ARRAY_FIELDS), for code holding a Preset.
    ARRAY_FIELDS: ClassVar[tuple[str, ...]] = ARRAY_FIELDS

    def __post_init__(self) -> None:
        for name in ARRAY_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if (
                isinstance(value, np.ndarray)
                and value.dtype == np.float64
                and not value.flags.writeable
                and value.base is None
            ):
                continue  # already an immutable array we own: share it between presets
            arr = np.array(value, dtype=np.float64)  # private copy
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        if not self.tokens:
            object.__setattr__(self, "tokens", default_tokens(self.inputs.shape[0]))
        else:
            object.__setattr__(self, "tokens", tuple(self.tokens))
        if self.source_inputs is not None and not self.source_tokens:
            object.__setattr__(
                self, "source_tokens", default_tokens(self.source_inputs.shape[0], "s")
            )
        elif self.source_tokens is not None:
            object.__setattr__(self, "source_tokens", tuple(self.source_tokens))
        if self.source_positions is not None:
            object.__setattr__(
                self,
                "source_positions",
                tuple(p.item() if isinstance(p, np.generic) else p for p in self.source_positions),
            )

    # Shapes -----------------------------------------------------------------
    @property
    def n_tokens(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def d_model(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def n_keys(self) -> int:
        return self.n_tokens if self.source_inputs is None else int(self.source_inputs.shape[0])

    @property
    def key_tokens(self) -> tuple[str, ...]:
        """Labels of the keys: the source tokens for cross-attention, else the tokens."""
        return self.tokens if self.source_tokens is None else self.source_tokens

    @property
    def d_k(self) -> int:
        return int(self.w_query.shape[1]) // max(self.options.heads, 1)

    @property
    def kv_heads(self) -> int:
        """G: the key/value heads (the heads themselves unless grouped)."""
        kv = self.options.kv_heads
        return max(self.options.heads if kv is None else kv, 1)

    @property
    def d_v(self) -> int:
        return int(self.w_value.shape[1]) // self.kv_heads

    @property
    def uses_version_2(self) -> bool:
        """True if the preset needs file format version 2 (any of its new fields is set)."""
        return self.options.uses_version_2 or self.source_positions is not None

    def replace(self, **changes: Any) -> Preset:
        return replace(self, **changes)

    def with_options(self, **changes: Any) -> Preset:
        return replace(self, options=replace(self.options, **changes))


def default_tokens(n: int, prefix: str = "t") -> tuple[str, ...]:
    return tuple(f"{prefix}{i + 1}" for i in range(n))


def attention_arguments(preset: Preset, dtype: str | None = None) -> dict[str, Any]:
    """The keyword arguments of `attention` for a preset (shared with the incremental engine)."""
    o = preset.options
    return {
        "x": preset.inputs,
        "w_q": preset.w_query,
        "w_k": preset.w_key,
        "w_v": preset.w_value,
        "heads": o.heads,
        "w_o": preset.w_output,
        "biases": Biases(preset.b_query, preset.b_key, preset.b_value, preset.b_output),
        "source": preset.source_inputs,
        "scale": o.scale,
        "temperature": o.temperature,
        "causal": o.causal,
        "key_mask": o.key_mask,
        "dtype": dtype or o.dtype,
        "kv_heads": o.kv_heads,
        "rope": o.rope,
        "window": o.window,
        "positions": None if o.rope is None else o.rope.positions,
        "key_positions": preset.source_positions if preset.source_inputs is not None else None,
    }


def compute(preset: Preset, dtype: str | None = None) -> AttentionResult:
    """Run a preset through `attention`."""
    return attention(**attention_arguments(preset, dtype))


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


def preset_from_dict(data: Any, origin: str = "<preset>") -> Preset:
    """Validate parsed JSON and build a Preset; raises PresetError naming the fault."""
    c = _Checker(origin)
    if not isinstance(data, dict):
        raise c.fail("top level", f"expected a JSON object, got {_describe(data)}")
    known = {
        "format",
        "version",
        "name",
        "description",
        "tokens",
        "inputs",
        "source",
        "weights",
        "biases",
        "options",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise c.fail(unknown[0], "unknown field")
    if "format" not in data:
        raise c.fail("format", f"missing; expected {FORMAT_TAG!r}")
    if data["format"] != FORMAT_TAG:
        raise c.fail("format", f"expected {FORMAT_TAG!r}, got {data['format']!r:.60}")
    if "version" not in data:
        raise c.fail("version", "missing")
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise c.fail("version", f"expected an integer, got {_describe(version)}")
    if version > FORMAT_VERSION:
        raise c.fail(
            "version",
            f"version {version} is newer than this program understands ({FORMAT_VERSION})",
        )
    if version < 1:
        raise c.fail("version", f"unknown version {version}")

    def needs_version_2(field_name: str) -> None:
        if version < 2:
            raise c.fail(
                field_name, f"needs version 2 of the format, but the file says version {version}"
            )

    name = c.text("name", data.get("name", "Untitled"))
    description = c.text("description", data.get("description", ""))
    budget = [0]

    if "inputs" not in data:
        raise c.fail("inputs", "missing")
    x = c.matrix("inputs", data["inputs"], budget)
    n, d_model = x.shape
    if n > MAX_TOKENS:
        raise c.fail("inputs", f"{n} tokens exceeds the limit of {MAX_TOKENS}")
    tokens = c.labels("tokens", data["tokens"], n) if "tokens" in data else default_tokens(n)

    source_inputs = None
    source_tokens = None
    source_positions = None
    if "source" in data and data["source"] is not None:
        src = data["source"]
        if not isinstance(src, dict):
            raise c.fail("source", f"expected an object, got {_describe(src)}")
        extra = sorted(set(src) - {"tokens", "inputs", "positions"})
        if extra:
            raise c.fail(f"source.{extra[0]}", "unknown field")
        if "inputs" not in src:
            raise c.fail("source.inputs", "missing")
        source_inputs = c.matrix("source.inputs", src["inputs"], budget)
        if source_inputs.shape[0] > MAX_TOKENS:
            raise c.fail("source.inputs", f"{source_inputs.shape[0]} tokens exceeds the limit")
        if source_inputs.shape[1] != d_model:
            raise c.fail(
                "source.inputs",
                f"shape {source_inputs.shape[0]}x{source_inputs.shape[1]}: width must equal "
                f"d_model={d_model} (the width of inputs)",
            )
        m = source_inputs.shape[0]
        source_tokens = (
            c.labels("source.tokens", src["tokens"], m)
            if "tokens" in src
            else default_tokens(m, "s")
        )
        if src.get("positions") is not None:
            needs_version_2("source.positions")
            source_positions = _positions(
                c, "source.positions", src["positions"], m, "source token"
            )
    m = n if source_inputs is None else source_inputs.shape[0]

    weights = data.get("weights")
    if not isinstance(weights, dict):
        raise c.fail(
            "weights",
            "missing" if weights is None else f"expected an object, got {_describe(weights)}",
        )
    extra = sorted(set(weights) - set(MATRIX_NAMES))
    if extra:
        raise c.fail(f"weights.{extra[0]}", "unknown field")
    mats: dict[str, np.ndarray | None] = {}
    for key in ("query", "key", "value"):
        if key not in weights:
            raise c.fail(f"weights.{key}", "missing")
        mats[key] = c.matrix(f"weights.{key}", weights[key], budget)
    mats["output"] = (
        c.matrix("weights.output", weights["output"], budget)
        if weights.get("output") is not None
        else None
    )
    for key in ("query", "key", "value"):
        w = mats[key]
        assert w is not None
        if w.shape[0] != d_model:
            raise c.fail(
                f"weights.{key}",
                f"shape {w.shape[0]}x{w.shape[1]}: needs {d_model} rows (d_model, the width of inputs)",
            )
    wq, wk, wv, wo = mats["query"], mats["key"], mats["value"], mats["output"]
    assert wq is not None and wk is not None and wv is not None

    opts_raw = data.get("options", {})
    if not isinstance(opts_raw, dict):
        raise c.fail("options", f"expected an object, got {_describe(opts_raw)}")
    extra = sorted(set(opts_raw) - set(OPTION_NAMES))
    if extra:
        raise c.fail(f"options.{extra[0]}", "unknown option")
    heads = opts_raw.get("heads", 1)
    if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
        raise c.fail("options.heads", f"expected a positive integer, got {heads!r:.40}")
    if heads > MAX_HEADS:
        raise c.fail("options.heads", f"{heads} exceeds the limit of {MAX_HEADS}")
    kv_heads = opts_raw.get("kv_heads")
    if kv_heads is not None:
        needs_version_2("options.kv_heads")
        if isinstance(kv_heads, bool) or not isinstance(kv_heads, int) or kv_heads < 1:
            raise c.fail("options.kv_heads", f"expected a positive integer, got {kv_heads!r:.40}")
        if heads % kv_heads:
            raise c.fail(
                "options.kv_heads", f"{kv_heads} key/value heads do not divide heads={heads}"
            )
    groups = heads if kv_heads is None else kv_heads
    if wq.shape[1] % heads:
        raise c.fail(
            "options.heads",
            f"{heads} heads do not divide the query/key width {wq.shape[1]}",
        )
    d_k = wq.shape[1] // heads
    if kv_heads is None and wk.shape[1] != wq.shape[1]:
        raise c.fail(
            "weights.key",
            f"shape {wk.shape[0]}x{wk.shape[1]}: needs {wq.shape[1]} columns like weights.query",
        )
    if wk.shape[1] != groups * d_k:
        raise c.fail(
            "weights.key",
            f"shape {wk.shape[0]}x{wk.shape[1]}: needs kv_heads*d_k = {groups}*{d_k} = "
            f"{groups * d_k} columns",
        )
    if wv.shape[1] % groups:
        if kv_heads is None:
            raise c.fail(
                "options.heads", f"{heads} heads do not divide the value width {wv.shape[1]}"
            )
        raise c.fail(
            "weights.value",
            f"shape {wv.shape[0]}x{wv.shape[1]}: the width must be kv_heads*d_v, a multiple "
            f"of kv_heads={kv_heads}",
        )
    concat_width = heads * (wv.shape[1] // groups)  # H*d_v: what W_O multiplies
    if wo is not None and wo.shape[0] != concat_width:
        what = "the width of weights.value" if kv_heads is None else "heads times d_v"
        raise c.fail(
            "weights.output",
            f"shape {wo.shape[0]}x{wo.shape[1]}: needs {concat_width} rows (H*d_v, {what})",
        )
    window = opts_raw.get("window")
    if window is not None:
        needs_version_2("options.window")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise c.fail("options.window", f"expected a positive integer, got {window!r:.40}")
        if window > MAX_WINDOW:
            raise c.fail("options.window", f"{window} exceeds the limit of {MAX_WINDOW}")
    rope = None
    if opts_raw.get("rope") is not None:
        needs_version_2("options.rope")
        rope = _rope(c, opts_raw["rope"], d_k, n)
    scale = opts_raw.get("scale", "sqrt_dk")
    if isinstance(scale, str):
        if scale not in ("sqrt_dk", "none"):
            raise c.fail(
                "options.scale",
                f"expected 'sqrt_dk', 'none' or a positive number, got {scale!r:.40}",
            )
    else:
        scale = c.number("options.scale", scale)
        if scale <= 0:
            raise c.fail("options.scale", f"must be positive, got {scale!r}")
    temperature = c.number("options.temperature", opts_raw.get("temperature", 1.0))
    if temperature <= 0:
        raise c.fail("options.temperature", f"must be positive, got {temperature!r}")
    causal = opts_raw.get("causal", False)
    if not isinstance(causal, bool):
        raise c.fail("options.causal", f"expected true or false, got {_describe(causal)}")
    key_mask = opts_raw.get("key_mask")
    if key_mask is not None:
        if not isinstance(key_mask, list):
            raise c.fail(
                "options.key_mask", f"expected a list of booleans, got {_describe(key_mask)}"
            )
        if len(key_mask) != m:
            raise c.fail(
                "options.key_mask", f"has {len(key_mask)} entries, expected {m} (one per key)"
            )
        for j, flag in enumerate(key_mask):
            if not isinstance(flag, bool):
                raise c.fail(
                    f"options.key_mask[{j}]", f"expected true or false, got {_describe(flag)}"
                )
        key_mask = tuple(key_mask)
    dtype = opts_raw.get("dtype", "float64")
    if dtype not in DTYPES:
        raise c.fail("options.dtype", f"expected one of {', '.join(DTYPES)}, got {dtype!r:.40}")

    biases_raw = data.get("biases", {})
    if biases_raw is None:
        biases_raw = {}
    if not isinstance(biases_raw, dict):
        raise c.fail("biases", f"expected an object, got {_describe(biases_raw)}")
    extra = sorted(set(biases_raw) - set(MATRIX_NAMES))
    if extra:
        raise c.fail(f"biases.{extra[0]}", "unknown field")
    d_out = wo.shape[1] if wo is not None else concat_width
    expected = {"query": wq.shape[1], "key": wk.shape[1], "value": wv.shape[1], "output": d_out}
    bias: dict[str, np.ndarray | None] = {}
    for key in MATRIX_NAMES:
        raw = biases_raw.get(key)
        if raw is None:
            bias[key] = None
            continue
        b = c.vector(f"biases.{key}", raw, budget)
        if b.shape[0] != expected[key]:
            raise c.fail(f"biases.{key}", f"has {b.shape[0]} entries, expected {expected[key]}")
        bias[key] = b

    return Preset(
        inputs=x,
        w_query=wq,
        w_key=wk,
        w_value=wv,
        w_output=wo,
        b_query=bias["query"],
        b_key=bias["key"],
        b_value=bias["value"],
        b_output=bias["output"],
        source_inputs=source_inputs,
        tokens=tokens,
        source_tokens=source_tokens,
        name=name,
        description=description,
        options=Options(
            heads=heads,
            scale=scale,
            temperature=temperature,
            causal=causal,
            key_mask=key_mask,
            dtype=dtype,
            kv_heads=kv_heads,
            window=window,
            rope=rope,
        ),
        source_positions=source_positions,
    )


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


def validate(preset: Preset, origin: str = "<preset>") -> Preset:
    """Check an in-memory preset against the same rules as a file (round-trips through dict)."""
    return preset_from_dict(preset_to_dict(preset), origin)


def parse_preset(text: str | bytes, origin: str = "<preset>") -> Preset:
    """Parse JSON text of a preset. Never executes anything; NaN/Infinity are refused.

    NaN/Infinity literals are parsed into markers that no check accepts, so the
    refusal names the field and cell (``inputs[1][2]: expected a finite number, got NaN``).
    """
    if len(text) > MAX_FILE_BYTES:
        raise PresetError(
            f"{origin}: file is larger than the limit of {MAX_FILE_BYTES // 2**20} MiB"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PresetError(f"{origin}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_keep_constant)
    except RecursionError:
        raise PresetError(f"{origin}: JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise PresetError(
            f"{origin}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise PresetError(f"{origin}: not valid JSON: {exc}") from None
    try:
        return preset_from_dict(data, origin)
    except RecursionError:
        raise PresetError(f"{origin}: JSON nested too deeply") from None


def load_preset(path: str | os.PathLike[str]) -> Preset:
    """Read and validate a preset file; raises PresetError naming file, field and cell."""
    path = Path(path)
    origin = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PresetError(f"{origin}: cannot read: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise PresetError(
            f"{origin}: file is {size / 2**20:.0f} MiB, larger than the limit of "
            f"{MAX_FILE_BYTES // 2**20} MiB"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PresetError(f"{origin}: cannot read: {exc.strerror or exc}") from None
    return parse_preset(raw, origin)


def _matrix_list(a: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in a]


def preset_to_dict(preset: Preset) -> dict[str, Any]:
    """The JSON-ready dict of a preset (floats are Python floats: exact round trip)."""
    o = preset.options
    data: dict[str, Any] = {
        "format": FORMAT_TAG,
        "version": FORMAT_VERSION if preset.uses_version_2 else BASE_VERSION,
        "name": preset.name,
        "description": preset.description,
        "tokens": list(preset.tokens),
        "inputs": _matrix_list(preset.inputs),
    }
    if preset.source_inputs is not None:
        data["source"] = {
            "tokens": list(preset.key_tokens),
            "inputs": _matrix_list(preset.source_inputs),
        }
        if preset.source_positions is not None:
            data["source"]["positions"] = [int(p) for p in preset.source_positions]
    elif preset.source_positions is not None:
        raise PresetError("source.positions: set, but the preset has no source sequence")
    weights = {
        "query": _matrix_list(preset.w_query),
        "key": _matrix_list(preset.w_key),
        "value": _matrix_list(preset.w_value),
    }
    if preset.w_output is not None:
        weights["output"] = _matrix_list(preset.w_output)
    data["weights"] = weights
    biases = {}
    for key, b in (
        ("query", preset.b_query),
        ("key", preset.b_key),
        ("value", preset.b_value),
        ("output", preset.b_output),
    ):
        if b is not None:
            biases[key] = [float(v) for v in b]
    if biases:
        data["biases"] = biases
    options: dict[str, Any] = {
        "heads": int(o.heads),
        "scale": o.scale if isinstance(o.scale, str) else float(o.scale),
        "temperature": float(o.temperature),
        "causal": bool(o.causal),
    }
    if o.key_mask is not None:
        options["key_mask"] = [bool(f) for f in o.key_mask]
    options["dtype"] = o.dtype
    if o.kv_heads is not None:
        options["kv_heads"] = int(o.kv_heads)
    if o.window is not None:
        options["window"] = int(o.window)
    if o.rope is not None:
        options["rope"] = _rope_dict(o.rope)
    data["options"] = options
    return data


def _rope_dict(rope: Rope) -> dict[str, Any]:
    """options.rope as JSON: style and theta always, the optional parts when set."""
    out: dict[str, Any] = {"style": rope.style, "theta": _json_number(rope.theta)}
    if rope.dims is not None:
        out["dims"] = int(rope.dims)
    if rope.inv_freq is not None:
        out["inv_freq"] = [float(f) for f in rope.inv_freq]
    if rope.positions is not None:
        out["positions"] = [int(p) for p in rope.positions]
    return out


def _json_number(value: float) -> float | int:
    """An integral theta stays an integer in the file (10000, not 10000.0)."""
    f = float(value)
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


def dumps_preset(preset: Preset) -> str:
    """Serialise a preset as readable JSON: one matrix row per line, exact floats."""
    return _emit(preset_to_dict(preset), 0) + "\n"


def _emit(value: Any, indent: int) -> str:
    """JSON with lists of scalars kept on one line (a matrix row reads as a row)."""
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {_emit(v, indent + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list) and any(isinstance(v, list | dict) for v in value):
        items = [pad + _emit(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def save_preset(preset: Preset, path: str | os.PathLike[str]) -> None:
    """Write a preset atomically: a temporary file beside the target, then rename over it."""
    path = Path(path)
    try:
        # The loader's own rules, so that whatever is saved always opens again.
        preset_from_dict(preset_to_dict(preset), f"{path}")
        data = dumps_preset(preset).encode("utf-8")
    except PresetError as exc:
        raise PresetError(f"cannot save: {exc}") from None
    except (ValueError, TypeError) as exc:  # NaN cell, lone surrogate in a label
        raise PresetError(f"{path}: cannot save: {exc}") from None
    directory = path.parent if str(path.parent) else Path(".")
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp_name, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise PresetError(f"{path}: cannot save: {exc.strerror or exc}") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


__all__ = [
    "AttentionError",
    "Options",
    "Rope",
    "Preset",
    "PresetError",
    "compute",
    "dumps_preset",
    "load_preset",
    "parse_preset",
    "preset_from_dict",
    "preset_to_dict",
    "save_preset",
    "validate",
]
