"""selfattn.png: written files decode back to the same pixels; the colour map's anchors."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selfattn.png import (
    NAN_COLOUR,
    SIGNATURE,
    VIRIDIS_ANCHORS,
    PngError,
    colormap,
    encode_png,
    heatmap_png,
    upscale,
    write_png,
)

CHANNELS = {0: 1, 2: 3, 6: 4}


def decode_png(data: bytes) -> np.ndarray:
    """An independent reader for what encode_png may write (8-bit, any filter, no interlace)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, comp, filt, interlace) == (8, 0, 0, 0)
    ch = CHANNELS[ctype]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * ch
    assert len(raw) == height * (stride + 1)
    out = np.zeros((height, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int64)
        row = np.zeros(stride, dtype=np.int64)
        for x in range(stride):
            a = row[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            if ftype == 0:
                pred = 0
            elif ftype == 1:
                pred = a
            elif ftype == 2:
                pred = b
            elif ftype == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            row[x] = (line[x] + pred) % 256
        out[y] = row
        prev = row
    shape = (height, width) if ch == 1 else (height, width, ch)
    return out.astype(np.uint8).reshape(shape)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.uint8,
        st.tuples(st.integers(1, 9), st.integers(1, 9))
        | st.tuples(st.integers(1, 9), st.integers(1, 9), st.sampled_from([3, 4])),
    )
)
def test_written_png_decodes_to_the_same_pixels(pixels: np.ndarray) -> None:
    assert np.array_equal(decode_png(encode_png(pixels)), pixels)


def test_header_says_size_and_colour_type() -> None:
    data = encode_png(np.zeros((2, 5, 3), np.uint8))
    assert data.startswith(SIGNATURE)
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">IIBB", data[16:26]) == (5, 2, 8, 2)  # width 5, height 2, RGB


def test_write_png_writes_the_file(tmp_path: Path) -> None:
    px = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    target = tmp_path / "a.png"
    write_png(target, px)
    assert np.array_equal(decode_png(target.read_bytes()), px)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary left behind


def test_bad_pixels_refused_and_nothing_written(tmp_path: Path) -> None:
    target = tmp_path / "a.png"
    with pytest.raises(PngError, match="uint8"):
        write_png(target, np.zeros((2, 2, 3), np.float64))
    with pytest.raises(PngError, match=r"\(2, 2, 2\)"):
        encode_png(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(PngError, match="side"):
        encode_png(np.zeros((0, 3, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_colormap_ends_anchors_and_interpolation() -> None:
    got = colormap(np.array([0.0, 1.0, 1 / 9, -5.0, 7.0, np.nan]))
    assert got.dtype == np.uint8 and got.shape == (6, 3)
    assert tuple(got[0]) == (68, 1, 84)  # viridis' first colour, #440154
    assert tuple(got[1]) == (253, 231, 37)  # and last, #FDE725
    assert tuple(got[2]) == VIRIDIS_ANCHORS[1]
    assert tuple(got[3]) == (68, 1, 84)  # below the range: clipped
    assert tuple(got[4]) == (253, 231, 37)
    assert tuple(got[5]) == NAN_COLOUR
    two = ((0, 0, 0), (200, 100, 40))
    assert colormap(np.array([5.0]), 0.0, 10.0, two).tolist() == [[100, 50, 20]]
    assert colormap(np.array([2.5]), 0.0, 10.0, two).tolist() == [[50, 25, 10]]


def test_colormap_flat_range_takes_lowest_colour() -> None:
    assert colormap(np.array([3.0, 3.0]), 3.0, 3.0).tolist() == [[68, 1, 84]] * 2


def test_upscale_and_heatmap_png() -> None:
    m = np.array([[0.0, 1.0], [1.0, 0.0]])
    px = decode_png(heatmap_png(m, cell=3))
    assert px.shape == (6, 6, 3)
    assert tuple(px[0, 0]) == (68, 1, 84) and tuple(px[2, 3]) == (253, 231, 37)
    assert np.array_equal(px, upscale(colormap(m), 3))
    with pytest.raises(ValueError, match="at least 1"):
        upscale(px, 0)
