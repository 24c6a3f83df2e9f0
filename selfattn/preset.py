"""Presets: the numbers of one attention layer, and their JSON file format (versions 1 and 2).

Version 2 adds the optional `options.kv_heads`, `options.window`, `options.rope` and
`source.positions`; a preset that uses none of them is written as version 1, byte
for byte as before, so older readers still open it.

Loading validates everything before any array is built and never executes
anything from the file; saving is atomic (temporary file beside the target,
then rename), so a failed save leaves the old file byte-identical. The values
themselves are in `selfattn.preset_model`, the field checks and size limits in
`selfattn.preset_checks`; both are re-exported here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import preset_checks as _checks
from .atomic import write_bytes_atomically
from .attention import DTYPES, AttentionError
from .preset_checks import (
    MAX_FILE_BYTES,
    MAX_HEADS,
    MAX_TEXT_CHARS,
    MAX_TOKENS,
    MAX_TOTAL_CELLS,
    MAX_WIDTH,
    MAX_WINDOW,
    OPTION_NAMES,
    ROPE_NAMES,
    V2_OPTION_NAMES,
    _Checker,
    _describe,
    _keep_constant,
    _positions,
    _rope,
)
from .preset_model import (
    ARRAY_FIELDS,
    MATRIX_NAMES,
    Options,
    Preset,
    PresetError,
    attention_arguments,
    compute,
    default_tokens,
)
from .rope import Rope

FORMAT_TAG = "selfattn.preset"
FORMAT_VERSION = 2  # the newest version this program reads and writes
BASE_VERSION = 1  # what a preset using no version-2 field is written as


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


def validate(preset: Preset, origin: str = "<preset>") -> Preset:
    """Check an in-memory preset against the same rules as a file (round-trips through dict)."""
    return preset_from_dict(preset_to_dict(preset), origin)


def parse_preset(text: str | bytes, origin: str = "<preset>") -> Preset:
    """Parse JSON text of a preset. Never executes anything; NaN/Infinity are refused.

    NaN/Infinity literals are parsed into markers that no check accepts, so the
    refusal names the field and cell (``inputs[1][2]: expected a finite number, got NaN``).
    """
    if len(text) > _checks.MAX_FILE_BYTES:  # looked up here, so tests can lower it
        raise PresetError(
            f"{origin}: file is larger than the limit of {_checks.MAX_FILE_BYTES // 2**20} MiB"
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
    if size > _checks.MAX_FILE_BYTES:
        raise PresetError(
            f"{origin}: file is {size / 2**20:.0f} MiB, larger than the limit of "
            f"{_checks.MAX_FILE_BYTES // 2**20} MiB"
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
    try:
        write_bytes_atomically(path, data, sync=True)
    except OSError as exc:
        raise PresetError(f"{path}: cannot save: {exc.strerror or exc}") from None


__all__ = [
    "ARRAY_FIELDS",
    "BASE_VERSION",
    "FORMAT_TAG",
    "FORMAT_VERSION",
    "MATRIX_NAMES",
    "MAX_FILE_BYTES",
    "MAX_HEADS",
    "MAX_TEXT_CHARS",
    "MAX_TOKENS",
    "MAX_TOTAL_CELLS",
    "MAX_WIDTH",
    "MAX_WINDOW",
    "OPTION_NAMES",
    "ROPE_NAMES",
    "V2_OPTION_NAMES",
    "AttentionError",
    "Options",
    "Preset",
    "PresetError",
    "Rope",
    "attention_arguments",
    "compute",
    "default_tokens",
    "dumps_preset",
    "load_preset",
    "parse_preset",
    "preset_from_dict",
    "preset_to_dict",
    "save_preset",
    "validate",
]
