"""A validating, memory-mapped reader of the safetensors format.

Format (https://huggingface.co/docs/safetensors): 8 bytes little-endian header
length N, N bytes of JSON `{name: {"dtype", "shape", "data_offsets": [begin, end]}}`
(plus an optional "__metadata__" of strings), then the data buffer; offsets are
relative to the buffer. Everything in the header is checked against the file
size before any array is made, so a corrupt or hostile header is a ModelError,
never a crash or a huge allocation. Tensors are `np.memmap` views: nothing is
read until used.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError

# The reference implementation refuses headers above 100 MB.
MAX_HEADER_BYTES = 100_000_000

# Stored dtype -> (bytes per element, numpy dtype or None when numpy has none).
_DTYPES: dict[str, tuple[int, str | None]] = {
    "BOOL": (1, "|b1"),
    "U8": (1, "|u1"),
    "I8": (1, "|i1"),
    "F8_E5M2": (1, None),
    "F8_E4M3": (1, None),
    "I16": (2, "<i2"),
    "U16": (2, "<u2"),
    "F16": (2, "<f2"),
    "BF16": (2, "<u2"),  # raw bits; widened to float32 by `to_float32`
    "I32": (4, "<i4"),
    "U32": (4, "<u4"),
    "F32": (4, "<f4"),
    "F64": (8, "<f8"),
    "I64": (8, "<i8"),
    "U64": (8, "<u8"),
}
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int  # absolute offset in the file
    end: int


def read_header(path: Path) -> dict[str, TensorInfo]:
    """Validate a safetensors header and return its tensors (no tensor data is read)."""
    origin = path.name
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise ModelError(f"{origin}: corrupt safetensors file: shorter than 8 bytes")
            (n,) = struct.unpack("<Q", prefix)
            if n > MAX_HEADER_BYTES:
                raise ModelError(
                    f"{origin}: corrupt safetensors header: declared length {n:,} bytes "
                    f"exceeds the limit of {MAX_HEADER_BYTES:,}"
                )
            if n > size - 8:
                raise ModelError(
                    f"{origin}: corrupt safetensors header: declared length {n:,} bytes "
                    f"but the file has only {size - 8:,} after the length"
                )
            raw = fh.read(n)
    except OSError as exc:
        raise ModelError(f"{origin}: cannot read: {exc.strerror or exc}") from None
    if len(raw) != n:
        raise ModelError(f"{origin}: corrupt safetensors file: header truncated")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelError(f"{origin}: corrupt safetensors header: not valid JSON") from None
    if not isinstance(header, dict):
        raise ModelError(f"{origin}: corrupt safetensors header: not a JSON object")

    data_start = 8 + n
    data_size = size - data_start
    tensors: dict[str, TensorInfo] = {}
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        tensors[name] = _tensor_info(origin, name, entry, data_start, data_size)
        t = tensors[name]
        if t.end > t.begin:
            spans.append((t.begin, t.end, name))
    spans.sort()
    for (_, end_a, name_a), (begin_b, _, name_b) in zip(spans, spans[1:], strict=False):
        if begin_b < end_a:
            raise ModelError(
                f"{origin}: corrupt safetensors header: tensors {name_a!r} and {name_b!r} overlap"
            )
    return tensors


def _tensor_info(
    origin: str, name: str, entry: object, data_start: int, data_size: int
) -> TensorInfo:
    def bad(message: str) -> ModelError:
        return ModelError(f"{origin}: corrupt safetensors header: tensor {name!r}: {message}")

    if not isinstance(entry, dict):
        raise bad("entry is not an object")
    dtype = entry.get("dtype")
    if not isinstance(dtype, str) or dtype not in _DTYPES:
        raise bad(f"unknown dtype {dtype!r:.40}")
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise bad("shape must be a list of non-negative integers")
    offsets = entry.get("data_offsets")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        raise bad("data_offsets must be two integers")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise bad(f"data_offsets [{begin}, {end}] outside the {data_size:,}-byte data buffer")
    expected = math.prod(shape) * _DTYPES[dtype][0]
    if end - begin != expected:
        raise bad(
            f"data_offsets span {end - begin:,} bytes but dtype {dtype} and shape "
            f"{shape} need {expected:,}"
        )
    return TensorInfo(name, dtype, tuple(shape), data_start + begin, data_start + end)


class SafetensorsFile:
    """A validated safetensors file whose tensors are read-only memory maps."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tensors = read_header(path)
        self._map: np.memmap | None = None

    def _buffer(self) -> np.memmap:
        if self._map is None:
            try:
                self._map = np.memmap(self.path, dtype=np.uint8, mode="r")
            except (OSError, ValueError) as exc:
                raise ModelError(f"{self.path.name}: cannot map: {exc}") from None
        return self._map

    def raw(self, name: str) -> tuple[str, np.ndarray]:
        """(stored dtype, array view in the stored representation) of one tensor."""
        info = self.tensors[name]
        np_dtype = _DTYPES[info.dtype][1]
        if np_dtype is None:
            raise ModelError(f"{self.path.name}: tensor {name!r}: dtype {info.dtype} unsupported")
        view = self._buffer()[info.begin : info.end].view(np.dtype(np_dtype))
        return info.dtype, view.reshape(info.shape)

    def float32(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        """One floating-point tensor (optionally only some rows) as a fresh float32 array."""
        dtype, view = self.raw(name)
        if dtype not in FLOAT_DTYPES:
            raise ModelError(
                f"{self.path.name}: tensor {name!r} has dtype {dtype}, expected a float"
            )
        part = view if rows is None else view[rows]
        if dtype == "BF16":
            return (part.astype(np.uint32) << 16).view(np.float32)
        return np.array(part, dtype=np.float32)
