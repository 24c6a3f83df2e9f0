"""Written files get the mode a new file normally gets (or the old file's), never 0600."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from selfattn.atomic import write_bytes_atomically
from selfattn.png import write_png
from selfattn.walkthrough_command import write_atomically


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_new_png_is_readable_by_others(tmp_path: Path, umask_022) -> None:
    target = tmp_path / "picture.png"
    write_png(target, np.zeros((2, 2, 3), dtype=np.uint8))
    assert _mode(target) == 0o644
    assert target.read_bytes().startswith(b"\x89PNG")


def test_a_new_worksheet_is_readable_by_others(tmp_path: Path, umask_022) -> None:
    target = tmp_path / "sheet.md"
    write_atomically(target, "# x\n")
    assert _mode(target) == 0o644
    assert target.read_text(encoding="utf-8") == "# x\n"


def test_an_existing_file_keeps_its_mode(tmp_path: Path, umask_022) -> None:
    target = tmp_path / "private.bin"
    target.write_bytes(b"old")
    target.chmod(0o600)
    write_bytes_atomically(target, b"new")
    assert _mode(target) == 0o600
    assert target.read_bytes() == b"new"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "keep.bin"
    target.write_bytes(b"old")

    with pytest.raises(TypeError):
        write_bytes_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.bin"]
