"""The built wheel ships every bundled preset and a working ``selfattn`` command.

Builds a real wheel with pip (about 5-20 s; pip fetches the build backend), so it is
marked slow; ``make test`` runs it like any other test (deselect with ``-m "not slow"``).
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRESETS = REPO / "resources" / "presets"
# What a fresh clone would not have, or what is not part of the source.
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.pyc"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(wheel, source copy): the wheel built from a clean copy of the repo (left untouched)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(REPO, src, ignore=IGNORED)
    dist = base / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = list(dist.glob("selfattn_workbench-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0], src


@pytest.mark.slow
def test_wheel_contains_every_bundled_preset_byte_for_byte(built):
    wheel, src = built
    presets = src / PRESETS.relative_to(REPO)  # the copy the wheel was built from
    bundled = sorted(p.name for p in presets.glob("*.json"))
    assert "seed-example.json" in bundled
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert "resources/presets/seed-example.json" in names
        for name in bundled:
            member = f"resources/presets/{name}"
            assert member in names, f"{member} missing from the wheel"
            assert zf.read(member) == (presets / name).read_bytes(), member
        shipped = sorted(
            n.rsplit("/", 1)[1]
            for n in names
            if n.startswith("resources/presets/") and n.endswith(".json")
        )
    assert shipped == bundled


@pytest.mark.slow
def test_wheel_declares_the_console_scripts(built):
    wheel, _ = built
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        for module in ("selfattn/cli.py", "selfattn/__main__.py", "selfattn/export.py"):
            assert module in names
        entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        parser = configparser.ConfigParser()
        parser.read_string(zf.read(entry).decode("utf-8"))
    assert parser["console_scripts"]["selfattn"] == "selfattn.cli:main"
    assert parser["gui_scripts"]["selfattn-workbench"] == "app.__main__:main"
    assert "app/__main__.py" in names and "app/main_window.py" in names


@pytest.mark.slow
def test_installed_package_finds_presets_from_any_working_directory(built, tmp_path):
    """Unpacked wheel on sys.path, run elsewhere: presets come from the package, not the CWD."""
    wheel, _ = built
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import sys, selfattn, resources.presets as p\n"
        f"assert selfattn.__file__.startswith({str(site)!r}), selfattn.__file__\n"
        f"assert p.__file__.startswith({str(site)!r}), p.__file__\n"
        "from selfattn.cli import main\n"
        "sys.exit(main(['compute', 'seed-example']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "input_1" in proc.stdout and "0.1361258" in proc.stdout
