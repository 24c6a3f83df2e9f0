"""A tiny PNG writer and a colour map, with no dependency beyond numpy and the standard library.

The command line (`selfattn atlas --png`) and the walk-through worksheet draw heatmaps
without Qt, so they cannot use QImage; PNG needs only zlib, a CRC and a few chunks
(PNG specification, ISO/IEC 15948: signature, IHDR, IDAT, IEND; 8-bit samples,
filter type 0 on every row).

    rgb = colormap(weights, vmin=0.0, vmax=1.0)       # (n, m, 3) uint8, viridis-like
    png = encode_png(upscale(rgb, 8))                 # bytes of a valid PNG file
    write_png("weights.png", upscale(rgb, 8))         # written atomically
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np

from .atomic import write_bytes_atomically

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 1 << 15  # refuse absurd pictures before allocating them

# Viridis (van der Walt and Smith, matplotlib; CC0) sampled at ten evenly spaced
# points; colormap() interpolates linearly between neighbours.
VIRIDIS_ANCHORS: tuple[tuple[int, int, int], ...] = (
    (0x44, 0x01, 0x54),
    (0x48, 0x28, 0x78),
    (0x3E, 0x4A, 0x89),
    (0x31, 0x68, 0x8E),
    (0x26, 0x82, 0x8E),
    (0x1F, 0x9E, 0x89),
    (0x35, 0xB7, 0x79),
    (0x6D, 0xCD, 0x59),
    (0xB4, 0xDE, 0x2C),
    (0xFD, 0xE7, 0x25),
)
NAN_COLOUR = (0x80, 0x80, 0x80)  # grey: a cell with no number (never a colour of the map)

_COLOUR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)


class PngError(ValueError):
    """Pixels that cannot be written as a PNG (wrong shape, dtype or size)."""


def colormap(
    values: np.ndarray,
    vmin: float = 0.0,
    vmax: float = 1.0,
    anchors: tuple[tuple[int, int, int], ...] = VIRIDIS_ANCHORS,
) -> np.ndarray:
    """RGB colours (values.shape + (3,), uint8) of `values` mapped linearly over vmin..vmax.

    Values outside the range take the end colours; NaN is grey. With vmax == vmin
    every finite value takes the lowest colour.
    """
    if len(anchors) < 2:
        raise ValueError("a colour map needs at least two anchor colours")
    v = np.asarray(values, dtype=np.float64)
    span = float(vmax) - float(vmin)
    with np.errstate(invalid="ignore"):
        t = (v - vmin) / span if span > 0 else np.zeros_like(v)
    nan = np.isnan(t)
    t = np.clip(np.where(nan, 0.0, t), 0.0, 1.0)
    table = np.asarray(anchors, dtype=np.float64)  # (k, 3)
    pos = t * (len(table) - 1)
    lo = np.minimum(pos.astype(np.intp), len(table) - 2)
    frac = (pos - lo)[..., None]
    rgb = table[lo] * (1.0 - frac) + table[lo + 1] * frac
    out: np.ndarray = np.rint(rgb).astype(np.uint8)
    out[nan] = NAN_COLOUR
    return out


def upscale(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel repeated into a factor x factor block (crisp cells, no smoothing)."""
    if factor < 1:
        raise ValueError(f"upscale factor must be at least 1, got {factor}")
    out: np.ndarray = np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)
    return out


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(pixels: np.ndarray, compression: int = 6) -> bytes:
    """The bytes of a PNG file holding `pixels`: uint8, (h, w) grey, (h, w, 3) RGB or (h, w, 4) RGBA."""
    px = np.asarray(pixels)
    if px.dtype != np.uint8:
        raise PngError(f"pixels must be uint8, got {px.dtype}")
    if px.ndim == 2:
        px = px[:, :, None]
    if px.ndim != 3 or px.shape[2] not in _COLOUR_TYPES:
        raise PngError(f"pixels must be (h, w), (h, w, 3) or (h, w, 4), got {px.shape}")
    height, width, channels = px.shape
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise PngError(f"a PNG side must be 1..{MAX_SIDE} pixels, got {width} x {height}")
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPES[channels], 0, 0, 0)
    rows = np.empty((height, 1 + width * channels), dtype=np.uint8)
    rows[:, 0] = 0  # filter type 0 (None) on every scanline
    rows[:, 1:] = px.reshape(height, width * channels)
    data = zlib.compress(rows.tobytes(), compression)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def write_png(path: str | os.PathLike[str], pixels: np.ndarray) -> None:
    """Write `pixels` as a PNG file; a temporary file is renamed over the target, so a
    failure never leaves a half-written picture."""
    data = encode_png(pixels)  # refuse bad pixels before touching the disk
    write_bytes_atomically(path, data)


def heatmap_png(matrix: np.ndarray, vmin: float = 0.0, vmax: float = 1.0, cell: int = 1) -> bytes:
    """A matrix as PNG bytes: one cell = cell x cell pixels, viridis-like colours."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise PngError(f"a heatmap needs a 2-D matrix, got shape {m.shape}")
    return encode_png(upscale(colormap(m, vmin, vmax), cell))
