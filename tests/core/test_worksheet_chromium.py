"""The HTML worksheet in a real browser: headless Chromium renders it to PNG, and the
picture shows the tables and the heatmap in the colours of hand-worked weights.

Chromium is Debian's `chromium` package; .ci/run installs it and sets
SELFATTN_REQUIRE_CHROMIUM=1, so on CI a missing browser fails this test instead of
skipping it. On a person's machine without Chromium the skip reason says what to install.
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from selfattn.cli import main
from selfattn.png import colormap
from selfattn.worksheet import TABLE_HEADER_COLOUR

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
WINDOW = (1200, 8000)  # tall enough for the whole seed worksheet (about 4900 px)

# The seed example's weights, worked by hand: row i is softmax(q_i . k_j / sqrt(3)) with
# q = [[1,0,2],[2,2,2],[2,1,3]] and k = [[0,1,1],[4,4,0],[2,3,1]]: scores
# [[2,4,4],[4,16,12],[4,12,10]].
SCORES = [[2, 4, 4], [4, 16, 12], [4, 12, 10]]


def hand_weights() -> np.ndarray:
    rows = []
    for row in SCORES:
        exps = [math.exp(s / math.sqrt(3)) for s in row]
        rows.append([e / sum(exps) for e in exps])
    return np.array(rows)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def decode_png(data: bytes) -> np.ndarray:
    """RGB(A) pixels of an 8-bit, non-interlaced PNG (the PNG specification's five filters)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, idat, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0 and colour_type in (2, 6), (depth, colour_type)
    ch = 3 if colour_type == 2 else 4
    stride = width * ch
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:]
        if kind == 0:
            row = line.copy()
        elif kind == 1:  # Sub: a running sum per channel
            row = np.cumsum(line.reshape(width, ch), axis=0, dtype=np.int64).astype(np.uint8)
            row = row.ravel()
        elif kind == 2:  # Up
            row = line + prev
        else:  # Average or Paeth: sequential along the row (rare in Chromium's output)
            cur = [0] * stride
            above, filt = prev.tolist(), line.tolist()
            for x in range(stride):
                a = cur[x - ch] if x >= ch else 0
                b = above[x]
                c = above[x - ch] if x >= ch else 0
                if kind == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (filt[x] + pred) & 0xFF
            row = np.array(cur, np.uint8)
        out[y] = row
        prev = row
    return out.reshape(height, width, ch)[:, :, :3]


def near(image: np.ndarray, colour: np.ndarray | tuple[int, int, int], tol: int = 2) -> np.ndarray:
    diff = np.abs(image.astype(np.int16) - np.asarray(colour, dtype=np.int16))
    return diff.max(axis=2) <= tol


def require_chromium() -> str:
    """Chromium's path; without it a skip that says so, or a failure where it is required."""
    chromium = find_chromium()
    if chromium is None:
        message = (
            "Chromium not found: the HTML worksheet was NOT rendered in a browser. "
            "Install Debian's 'chromium' package (apt-get install chromium) to run this test."
        )
        if os.environ.get("SELFATTN_REQUIRE_CHROMIUM") == "1":
            pytest.fail(message + " (SELFATTN_REQUIRE_CHROMIUM=1 makes this a failure)")
        pytest.skip(message)
    return chromium


def test_missing_chromium_skips_with_a_reason_or_fails_where_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("SELFATTN_REQUIRE_CHROMIUM", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium not found"):
        require_chromium()
    monkeypatch.setenv("SELFATTN_REQUIRE_CHROMIUM", "1")
    with pytest.raises(pytest.fail.Exception, match="SELFATTN_REQUIRE_CHROMIUM=1"):
        require_chromium()


@pytest.fixture(scope="module")
def screenshot(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    chromium = require_chromium()
    folder = tmp_path_factory.mktemp("worksheet")
    page = folder / "seed.html"
    assert main(["walkthrough", "seed-example", "--format", "html", "--out", str(page)]) == 0
    png = folder / "seed.png"
    proc = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={folder / 'profile'}",
            f"--screenshot={png}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(folder)},
    )
    assert proc.returncode == 0 and png.is_file(), proc.stderr[-2000:]
    return decode_png(Path(png).read_bytes())


def test_the_screenshot_is_the_whole_page(screenshot: np.ndarray) -> None:
    assert screenshot.shape == (WINDOW[1], WINDOW[0], 3)
    content = np.flatnonzero((screenshot < 245).any(axis=(1, 2)))
    assert content.size and content.max() < WINDOW[1] - 100, "the page is cut off at the bottom"


def test_the_heatmap_shows_the_hand_worked_weights(screenshot: np.ndarray) -> None:
    colours = colormap(hand_weights())
    first = near(screenshot, colours[0, 0])
    ys, xs = np.nonzero(first)
    assert ys.size, "the heatmap's first cell is nowhere in the picture"
    top = int(ys.min())
    left = int(xs[ys == top].min())
    cell = int(np.argmin(first[top, left:])) if not first[top, left:].all() else 0
    assert cell >= 20, f"heatmap cells are {cell} px wide, expected about 48"
    for i in range(3):
        for j in range(3):
            y, x = top + i * cell, left + j * cell
            block = near(screenshot[y + 4 : y + cell - 4, x + 4 : x + cell - 4], colours[i, j])
            assert block.mean() > 0.95, (i, j, hand_weights()[i, j], block.mean())


def test_the_tables_are_drawn_with_their_numbers(screenshot: np.ndarray) -> None:
    header_hex = TABLE_HEADER_COLOUR.lstrip("#")
    header = near(screenshot, tuple(int(header_hex[k : k + 2], 16) for k in (0, 2, 4)), tol=1)
    assert header.sum() > 50_000, "too little table header in the picture"
    # Text is drawn in the header cells (token and column labels): dark pixels on the
    # same rows as header colour, between the leftmost and rightmost header pixel.
    rows_with_text = 0
    rows = np.flatnonzero(header.any(axis=1))
    for y in rows:
        xs = np.flatnonzero(header[y])
        span = screenshot[y, xs.min() : xs.max() + 1]
        if (span.max(axis=1) < 110).any():
            rows_with_text += 1
    assert rows_with_text > 0.3 * rows.size, (rows_with_text, rows.size)
    dark = (screenshot.max(axis=2) < 110).sum()
    assert dark > 20_000, "hardly any text in the picture"


def test_ci_installs_chromium_and_requires_this_test() -> None:
    """CI must run the browser test, never skip it: .ci/run installs Debian's chromium
    and sets SELFATTN_REQUIRE_CHROMIUM=1 before `make test`."""
    script = (Path(__file__).parents[2] / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line.strip() for line in script.splitlines()]
    install = next(k for k, line in enumerate(lines) if "apt-get install" in line)
    require = lines.index("export SELFATTN_REQUIRE_CHROMIUM=1")
    assert "chromium" in lines[install].split()
    assert install < require < lines.index("make test")
