"""What a desktop user expects: --version, a menu entry with an icon, Help → About."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy
import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox

from app.desktop import data_home

VERSION = metadata.version("selfattn-workbench")  # what pyproject.toml says
ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, env=clean, cwd=ROOT
    )


def test_both_commands_print_the_package_version():
    gui = _run("-m", "app", "--version")
    cli = _run("-m", "selfattn", "--version")
    assert (gui.returncode, gui.stdout.strip()) == (0, f"selfattn-workbench {VERSION}")
    assert (cli.returncode, cli.stdout.strip()) == (0, f"selfattn {VERSION}")


def _read_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_install_desktop_entry_writes_the_entry_and_icon_for_the_user(tmp_path):
    done = _run("-m", "app", "--install-desktop-entry", XDG_DATA_HOME=str(tmp_path))
    assert done.returncode == 0, done.stderr
    path = tmp_path / "applications" / "selfattn-workbench.desktop"
    assert done.stdout.strip() == f"wrote {path}"
    entry = _read_entry(path)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Self-Attention Workbench"
    assert entry["Terminal"] == "false"
    icon = Path(entry["Icon"])
    assert icon == tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "selfattn-workbench.svg"
    assert (
        icon.read_bytes() == (ROOT / "resources" / "icons" / "selfattn-workbench.svg").read_bytes()
    )
    command = shlex.split(entry["Exec"])
    assert command[-1] == "%f"  # a preset file dropped on the launcher opens
    started = subprocess.run(
        [*command[:-1], "--version"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert started.stdout.strip() == f"selfattn-workbench {VERSION}"  # Exec starts this program


def test_an_unwritable_data_home_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = _run("-m", "app", "--install-desktop-entry", XDG_DATA_HOME=str(blocker))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("selfattn-workbench: error: ")
    assert str(blocker) in lines[0]


def test_data_home_follows_the_xdg_rule():
    home = Path.home() / ".local" / "share"
    assert data_home({"XDG_DATA_HOME": "/srv/data"}) == Path("/srv/data")
    assert data_home({}) == home
    assert data_home({"XDG_DATA_HOME": ""}) == home
    assert data_home({"XDG_DATA_HOME": "relative/path"}) == home  # the spec ignores it


def test_about_names_the_program_qt_pyside6_pyqtgraph_and_numpy(window, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda *args: shown.append(args)))
    window.action_about.trigger()
    (_parent, title, text) = shown[0]
    assert title == "About Self-Attention Workbench"
    for name, version in (
        ("Self-Attention Workbench", VERSION),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("pyqtgraph", metadata.version("pyqtgraph")),
        ("numpy", numpy.__version__),
    ):
        assert f"<td>{name}</td><td>&nbsp;{version}</td>" in text, name


def test_the_window_has_the_application_icon(window):
    icon = window.windowIcon()
    assert not icon.isNull()
    image = icon.pixmap(64, 64).toImage()
    assert image.width() == 64
    # The icon draws its dark rounded square: the centre of the top edge is #1f2937.
    assert image.pixelColor(32, 4).name() == "#1f2937"
