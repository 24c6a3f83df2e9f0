"""Clear start-up failures: when Qt cannot start, one line saying why and how to fix it,
a non-zero exit status, and never Qt's abort or a Python traceback.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import __main__ as app_main
from selfattn.bundled import load_bundled
from selfattn.preset import preset_to_dict

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "selfattn-workbench: error: "
ABORT = -6  # SIGABRT: what Qt does when no platform plugin can start

linux_only = pytest.mark.skipif(
    sys.platform != "linux", reason="the xcb/DISPLAY checks apply on Linux only"
)


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without any display (as over ssh or in a container)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env.update(extra)
    return env


def _run_app(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        cwd=ROOT,
        env=_clean_env(**env),
        timeout=timeout,
        check=False,
    )


def _assert_one_clear_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode > 0, (proc.returncode, proc.stderr)  # an exit, not a signal
    assert "Traceback" not in proc.stderr
    assert "qt.qpa" not in proc.stderr and "Aborted" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(PREFIX), proc.stderr
    assert proc.stdout == ""
    return lines[0]


# --- in a real process --------------------------------------------------------------------


@linux_only
def test_no_display_gives_one_line_and_a_non_zero_exit():
    line = _assert_one_clear_line(_run_app())
    assert "DISPLAY" in line
    assert "QT_QPA_PLATFORM=offscreen" in line or "Xvfb" in line  # a way out


@linux_only
def test_xcb_asked_for_without_a_display_gives_the_same_line():
    line = _assert_one_clear_line(_run_app(QT_QPA_PLATFORM="xcb"))
    assert "DISPLAY" in line


@linux_only
def test_no_display_with_a_preset_argument_still_gives_one_line():
    _assert_one_clear_line(_run_app("seed-example"))


def test_a_missing_preset_file_gives_exit_2_and_one_line(tmp_path):
    proc = _run_app(str(tmp_path / "nowhere.json"), QT_QPA_PLATFORM="offscreen")
    assert proc.returncode == 2
    line = _assert_one_clear_line(proc)
    assert "nowhere.json" in line


def test_a_malformed_preset_gives_exit_2_and_one_line(tmp_path):
    tree = preset_to_dict(load_bundled("seed-example"))
    tree["inputs"][1][2] = "x"
    tree["weird\nkey"] = 1  # a key with a line break must not split the message
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(tree), encoding="utf-8")
    proc = _run_app(str(path), QT_QPA_PLATFORM="offscreen")
    assert proc.returncode == 2
    line = _assert_one_clear_line(proc)
    assert str(path) in line and "unknown field" in line


def test_an_unknown_bundled_name_gives_exit_2_and_one_line():
    proc = _run_app("no-such-preset-anywhere", QT_QPA_PLATFORM="offscreen")
    assert proc.returncode == 2
    assert "no-such-preset-anywhere" in _assert_one_clear_line(proc)


@linux_only
def test_a_display_nobody_answers_gives_one_line_not_an_abort():
    try:
        proc = _run_app(DISPLAY=":87", timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the window started on display :87")
    assert proc.returncode != ABORT
    _assert_one_clear_line(proc)


# --- qt_startup_problem() directly --------------------------------------------------------


@pytest.fixture
def desktop(monkeypatch):
    """A Linux desktop session with X: DISPLAY set, nothing else chosen."""
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(app_main, "display_reachable", lambda _display: True)
    return monkeypatch


def _libraries(monkeypatch, missing: set[str]) -> list[str]:
    asked: list[str] = []

    def find_library(name: str) -> str | None:
        asked.append(name)
        return None if name in missing else f"lib{name}.so.0"

    monkeypatch.setattr(ctypes.util, "find_library", find_library)
    return asked


def test_a_working_x_desktop_has_no_problem(desktop):
    _libraries(desktop, missing=set())
    assert app_main.qt_startup_problem() is None


def test_missing_xcb_cursor_names_the_package_and_the_install_command(desktop):
    _libraries(desktop, missing={"xcb-cursor"})
    problem = app_main.qt_startup_problem()
    assert problem is not None
    assert "libxcb-cursor0" in problem
    assert "apt-get install libxcb-cursor0" in problem
    assert "\n" not in problem


def test_no_display_is_a_problem_that_says_so(desktop):
    desktop.delenv("DISPLAY")
    _libraries(desktop, missing=set())
    problem = app_main.qt_startup_problem()
    assert problem is not None and "DISPLAY" in problem and "\n" not in problem


def test_xcb_chosen_explicitly_without_display_is_a_problem(desktop):
    desktop.delenv("DISPLAY")
    desktop.setenv("QT_QPA_PLATFORM", "xcb")
    assert "DISPLAY" in (app_main.qt_startup_problem() or "")


@pytest.mark.parametrize("platform", ["offscreen", "wayland", "minimal", "vnc"])
def test_a_platform_the_person_chose_is_respected(desktop, platform):
    desktop.delenv("DISPLAY")
    desktop.setenv("QT_QPA_PLATFORM", platform)
    asked = _libraries(desktop, missing={"xcb-cursor"})
    assert app_main.qt_startup_problem() is None
    assert asked == []  # no xcb check for a platform that does not use xcb


def test_a_wayland_session_without_x_has_no_problem(desktop):
    desktop.delenv("DISPLAY")
    desktop.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert app_main.qt_startup_problem() is None


def test_other_systems_are_left_to_qt(desktop):
    desktop.delenv("DISPLAY")
    desktop.setattr(sys, "platform", "darwin")
    assert app_main.qt_startup_problem() is None


@pytest.mark.parametrize("library", ["xcb-icccm", "xcb-keysyms"])
def test_other_missing_xcb_libraries_are_named_with_the_install_command(desktop, library):
    _libraries(desktop, missing={library})
    problem = app_main.qt_startup_problem()
    assert problem is not None and f"lib{library}" in problem and "apt-get install" in problem


def test_an_unreachable_display_is_a_problem_that_names_it(desktop):
    _libraries(desktop, missing=set())
    desktop.setattr(app_main, "display_reachable", lambda _display: False)
    problem = app_main.qt_startup_problem()
    assert problem is not None and "':0'" in problem and "\n" not in problem


def test_main_prints_the_problem_and_exits_non_zero_before_qt(desktop, capsys):
    desktop.delenv("DISPLAY")
    status = app_main.main([])
    assert status != 0
    err = capsys.readouterr().err
    assert err.startswith(PREFIX) and err.count("\n") == 1
