"""A validating, memory-mapped reader of GGUF files (llama.cpp, Ollama, LM Studio).

Format (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), little-endian:

    "GGUF"  u32 version (2 or 3)  u64 tensor_count  u64 kv_count
    kv_count x   string key, u32 value type, value
    tensor_count x   string name, u32 n_dims, n_dims x u64 ne (fastest first),
                     u32 ggml type, u64 offset (from the aligned data start)
    padding to `general.alignment` (default 32), then the tensor data

A string is a u64 length and that many UTF-8 bytes; an array is a u32 item
type, a u64 count and the items. We parse the header ourselves with `struct`
(the `gguf` package's GGUFReader builds numpy views for every one of the
~100,000 vocabulary strings of a small model and takes seconds); every length,
count and offset is checked against the file size before anything is made, so a
lying header is a ModelError and never a huge allocation. Tensors are memory
maps; `dequantize` turns one into float32 with `gguf.quants.dequantize`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError

MAGIC = b"GGUF"
MAX_TENSORS = 1_000_000
MAX_KV = 1_000_000
MAX_DIMS = 4
DEFAULT_ALIGNMENT = 32

# Metadata value types -> struct format of a scalar (8 = string, 9 = array).
_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING = 8
_ARRAY = 9
# numpy dtypes for fast scalar arrays (e.g. the 49,152 token types).
_ARRAY_DTYPES: dict[int, str] = {
    0: "<u1",
    1: "<i1",
    2: "<u2",
    3: "<i2",
    4: "<u4",
    5: "<i4",
    6: "<f4",
    7: "<u1",
    10: "<u8",
    11: "<i8",
    12: "<f8",
}

MetaValue = int | float | bool | str | list["MetaValue"] | np.ndarray


def _quant_sizes() -> dict[int, tuple[str, int, int]]:
    """ggml type id -> (name, elements per block, bytes per block), from the gguf package."""
    from gguf.constants import GGML_QUANT_SIZES

    return {int(t): (t.name, block, size) for t, (block, size) in GGML_QUANT_SIZES.items()}


@dataclass(frozen=True)
class GGUFTensor:
    name: str
    type_id: int
    type_name: str
    shape: tuple[int, ...]  # numpy order: slowest first (the reverse of GGUF's ne)
    begin: int  # absolute offset in the file
    end: int


class _Cursor:
    """Reads the header from a bytes-like buffer, refusing to step past its end."""

    def __init__(self, buf: memoryview, origin: str) -> None:
        self.buf = buf
        self.pos = 0
        self.origin = origin

    def fail(self, what: str) -> ModelError:
        return ModelError(f"{self.origin}: corrupt GGUF header: {what} (at byte {self.pos:,})")

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise self.fail(f"{what} runs past the end of the file")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def scalar(self, fmt: str, what: str) -> int | float | bool:
        size = struct.calcsize(fmt)
        value: int | float | bool = struct.unpack_from(fmt, self.take(size, what))[0]
        return value

    def u32(self, what: str) -> int:
        return int(self.scalar("<I", what))

    def u64(self, what: str) -> int:
        return int(self.scalar("<Q", what))

    def string(self, what: str) -> str:
        n = self.u64(what + " length")
        raw = self.take(n, what)
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not UTF-8") from None

    def value(self, type_id: int, what: str, depth: int = 0) -> MetaValue:
        if type_id in _SCALARS:
            return self.scalar(_SCALARS[type_id], what)
        if type_id == _STRING:
            return self.string(what)
        if type_id != _ARRAY or depth > 2:
            raise self.fail(f"{what} has unknown value type {type_id}")
        item = self.u32(what + " item type")
        count = self.u64(what + " count")
        if count > len(self.buf) - self.pos:  # every item takes at least one byte
            raise self.fail(f"{what} claims {count:,} items, more than the file holds")
        if item in _ARRAY_DTYPES:
            dtype = np.dtype(_ARRAY_DTYPES[item])
            raw = self.take(count * dtype.itemsize, what)
            return np.frombuffer(raw, dtype=dtype).copy()
        if item == _STRING:
            return self._strings(count, what)
        return [self.value(item, what, depth + 1) for _ in range(count)]

    def _strings(self, count: int, what: str) -> list[MetaValue]:
        """`count` strings: the vocabulary (the hot loop of opening a file)."""
        buf, pos, end = self.buf, self.pos, len(self.buf)
        unpack = struct.Struct("<Q").unpack_from
        out: list[MetaValue] = []
        append = out.append
        try:
            for _ in range(count):
                if pos + 8 > end:
                    raise self.fail(f"{what} runs past the end of the file")
                (n,) = unpack(buf, pos)
                pos += 8
                if n > end - pos:
                    raise self.fail(f"{what} runs past the end of the file")
                append(str(buf[pos : pos + n], "utf-8"))
                pos += n
        except UnicodeDecodeError:
            self.pos = pos
            raise self.fail(f"{what} holds a string that is not UTF-8") from None
        self.pos = pos
        return out


class GGUFFile:
    """A validated GGUF file: `metadata` (key -> value) and `tensors` (name -> GGUFTensor)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        origin = self.path.name
        try:
            self._map: np.memmap = np.memmap(self.path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as exc:
            raise ModelError(f"{origin}: cannot read: {exc}") from None
        size = len(self._map)
        cur = _Cursor(memoryview(self._map), origin)  # type: ignore[arg-type]
        if size < 24 or bytes(self._map[:4]) != MAGIC:
            raise ModelError(f"{origin}: not a GGUF file (no 'GGUF' magic at the start)")
        cur.pos = 4
        self.version = cur.u32("version")
        if self.version not in (2, 3):
            raise ModelError(f"{origin}: GGUF version {self.version} is not supported (2 or 3)")
        n_tensors = cur.u64("tensor count")
        n_kv = cur.u64("metadata count")
        if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
            raise cur.fail(f"{n_tensors:,} tensors and {n_kv:,} metadata entries is implausible")

        self.metadata: dict[str, MetaValue] = {}
        for _ in range(n_kv):
            key = cur.string("metadata key")
            type_id = cur.u32(f"type of {key!r}")
            self.metadata[key] = cur.value(type_id, f"metadata {key!r}")

        infos: list[tuple[str, int, tuple[int, ...], int]] = []
        for _ in range(n_tensors):
            name = cur.string("tensor name")
            n_dims = cur.u32(f"tensor {name!r} dimension count")
            if not 1 <= n_dims <= MAX_DIMS:
                raise cur.fail(f"tensor {name!r} has {n_dims} dimensions")
            ne = tuple(cur.u64(f"tensor {name!r} shape") for _ in range(n_dims))
            type_id = cur.u32(f"tensor {name!r} type")
            offset = cur.u64(f"tensor {name!r} offset")
            infos.append((name, type_id, ne, offset))

        alignment = self.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or isinstance(alignment, bool) or not alignment >= 1:
            raise cur.fail(f"general.alignment {alignment!r:.40} is not a positive integer")
        data_start = -(-cur.pos // alignment) * alignment
        self.tensors = self._place(infos, data_start, size, alignment)

    def _place(
        self,
        infos: list[tuple[str, int, tuple[int, ...], int]],
        data_start: int,
        size: int,
        alignment: int,
    ) -> dict[str, GGUFTensor]:
        origin = self.path.name
        sizes = _quant_sizes()
        tensors: dict[str, GGUFTensor] = {}
        for name, type_id, ne, offset in infos:
            if name in tensors:
                raise ModelError(f"{origin}: corrupt GGUF header: tensor {name!r} appears twice")
            known = sizes.get(type_id)
            if known is None:
                raise ModelError(
                    f"{origin}: tensor {name!r} has unknown ggml type {type_id} "
                    "(a newer GGUF than this reader knows?)"
                )
            type_name, block, block_bytes = known
            count = math.prod(ne)
            if ne[0] % block:
                raise ModelError(
                    f"{origin}: corrupt GGUF header: tensor {name!r} row of {ne[0]} values is "
                    f"not a whole number of {type_name} blocks of {block}"
                )
            nbytes = count // block * block_bytes
            begin = data_start + offset
            if offset % alignment:
                raise ModelError(
                    f"{origin}: corrupt GGUF header: tensor {name!r} offset {offset} is not "
                    f"aligned to {alignment}"
                )
            if begin + nbytes > size:
                raise ModelError(
                    f"{origin}: tensor {name!r} is truncated: it needs bytes {begin:,}.."
                    f"{begin + nbytes:,} but the file has {size:,} (incomplete download?)"
                )
            shape = tuple(reversed(ne))
            tensors[name] = GGUFTensor(name, type_id, type_name, shape, begin, begin + nbytes)
        spans = sorted((t.begin, t.end, t.name) for t in tensors.values() if t.end > t.begin)
        for (_, end_a, a), (begin_b, _, b) in zip(spans, spans[1:], strict=False):
            if begin_b < end_a:
                raise ModelError(f"{origin}: corrupt GGUF header: tensors {a!r} and {b!r} overlap")
        return tensors

    # Access ------------------------------------------------------------------

    def get(self, key: str, default: MetaValue | None = None) -> MetaValue | None:
        return self.metadata.get(key, default)

    def dequantize(self, name: str) -> np.ndarray:
        """One tensor as a fresh float32 array in numpy order (GGUF's ne reversed)."""
        from gguf.constants import GGMLQuantizationType
        from gguf.quants import dequantize

        t = self.tensors.get(name)
        if t is None:
            raise ModelError(f"{self.path.name}: tensor {name!r} is missing")
        raw = self._map[t.begin : t.end]
        _, block, block_bytes = _quant_sizes()[t.type_id]
        rows = math.prod(t.shape[:-1])
        data = raw.reshape(rows, t.shape[-1] // block * block_bytes)
        try:
            out = dequantize(data, GGMLQuantizationType(t.type_id))
        except NotImplementedError:
            raise ModelError(
                f"{self.path.name}: tensor {name!r} has type {t.type_name}, which the gguf "
                "package cannot dequantize"
            ) from None
        out = np.asarray(out, dtype=np.float32).reshape(t.shape)
        if not out.flags.owndata and not out.flags.writeable:
            out = out.copy()
        return out

    def check_dequantizable(self, name: str) -> None:
        """Refuse a tensor type the gguf package has no dequantizer for (before any work)."""
        from gguf.constants import GGMLQuantizationType
        from gguf.quants import _type_traits

        t = self.tensors[name]
        plain = t.type_id in (int(GGMLQuantizationType.F32), int(GGMLQuantizationType.F16))
        if not plain and GGMLQuantizationType(t.type_id) not in _type_traits:
            raise ModelError(
                f"{self.path.name}: tensor {name!r} has type {t.type_name}, which the gguf "
                "package cannot dequantize"
            )
