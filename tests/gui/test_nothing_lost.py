"""Nothing lost: a failed save leaves the old file and the work intact and says why;
closing with unsaved changes asks; an unexpected exception shows a dialog with a way
to save the work, goes to stderr, and the window stays up.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

import selfattn
from app import commands, errors
from selfattn import atomic as atomic_mod

Button = QMessageBox.StandardButton


def _saved_then_edited(window, tmp_path: Path) -> tuple[Path, bytes]:
    """Save the seed example to work/seed.json, then change a cell: unsaved work."""
    folder = tmp_path / "work"
    folder.mkdir()
    path = folder / "seed.json"
    assert window.files.save_to(path)
    assert not window.document.is_modified
    assert commands.set_cell_text(window.document, "inputs", 0, 0, "7.25")
    assert window.document.is_modified and window.isWindowModified()
    return path, path.read_bytes()


def _oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def _fail_write(monkeypatch, code: int) -> None:
    """The temporary file's write writes a little, then fails (disk full, I/O error)."""
    real_fdopen = os.fdopen

    class HalfWritten:
        def __init__(self, fh) -> None:
            self._fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self._fh.close()

        def write(self, data: bytes) -> int:
            self._fh.write(data[:16])
            raise _oserror(code)

        def flush(self) -> None:
            self._fh.flush()

        def fileno(self) -> int:
            return self._fh.fileno()

    monkeypatch.setattr(atomic_mod.os, "fdopen", lambda *a, **k: HalfWritten(real_fdopen(*a, **k)))


def _fail_call(monkeypatch, name: str, code: int) -> None:
    def boom(*_args, **_kwargs):
        raise _oserror(code)

    target = atomic_mod.tempfile if name == "mkstemp" else atomic_mod.os
    monkeypatch.setattr(target, name, boom)


FAILURES = {
    "disk full while writing": (lambda mp: _fail_write(mp, errno.ENOSPC), "No space left"),
    "I/O error while writing": (lambda mp: _fail_write(mp, errno.EIO), "Input/output error"),
    "disk full at fsync": (lambda mp: _fail_call(mp, "fsync", errno.ENOSPC), "No space left"),
    "rename refused": (lambda mp: _fail_call(mp, "replace", errno.EACCES), "Permission denied"),
    "rename across devices": (
        lambda mp: _fail_call(mp, "replace", errno.EXDEV),
        "Invalid cross-device link",
    ),
}


def _assert_nothing_lost(window, dialogs, path: Path, old: bytes, reason: str) -> None:
    assert path.read_bytes() == old  # the old file, byte for byte
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file
    kind, text = dialogs.calls[-1]
    assert kind == "critical" and "Save failed" in text, dialogs.calls
    assert reason in text, text
    assert str(path) in text
    assert window.document.is_modified and window.isWindowModified()
    assert window.document.preset.inputs[0, 0] == 7.25  # the work is still open


@pytest.mark.parametrize("failure", list(FAILURES))
def test_failed_save_keeps_old_file_and_work_and_says_why(
    failure, window, dialogs, tmp_path, monkeypatch
):
    path, old = _saved_then_edited(window, tmp_path)
    inject, reason = FAILURES[failure]
    inject(monkeypatch)
    assert window.files.save() is False
    _assert_nothing_lost(window, dialogs, path, old, reason)
    # Once the cause is gone, the very same work saves.
    monkeypatch.undo()
    assert window.files.save() is True
    assert selfattn.load_preset(path).inputs[0, 0] == 7.25
    assert not window.document.is_modified and not window.isWindowModified()


def test_failed_save_into_a_read_only_folder(window, dialogs, tmp_path, monkeypatch):
    path, old = _saved_then_edited(window, tmp_path)
    folder = path.parent
    folder.chmod(0o555)
    try:
        probe = folder / "probe"
        try:
            probe.touch()
        except PermissionError:
            pass  # a normal user: the folder really is read-only
        else:  # root ignores the mode bits: refuse the way the kernel would
            probe.unlink()
            _fail_call(monkeypatch, "mkstemp", errno.EACCES)
        assert window.files.save() is False
        _assert_nothing_lost(window, dialogs, path, old, "Permission denied")
    finally:
        folder.chmod(0o755)


def test_failed_save_as_to_a_missing_folder_keeps_the_old_path(window, dialogs, tmp_path):
    path, old = _saved_then_edited(window, tmp_path)
    assert window.files.save_to(tmp_path / "missing" / "new.json") is False
    assert "No such file or directory" in dialogs.calls[-1][1]
    assert window.document.path == path  # still attached to the file it came from
    assert window.document.is_modified and path.read_bytes() == old


# --- closing with unsaved changes -----------------------------------------------------------


def test_close_with_unsaved_changes_and_cancel_keeps_the_window(window, dialogs, tmp_path):
    path, _ = _saved_then_edited(window, tmp_path)
    dialogs.answers["question"] = Button.Cancel
    assert window.close() is False
    assert window.isVisible()
    assert dialogs.calls[-1][0] == "question" and "unsaved" in dialogs.calls[-1][1]
    assert window.document.is_modified and window.document.preset.inputs[0, 0] == 7.25


def test_close_with_unsaved_changes_and_discard_closes(window, dialogs, tmp_path):
    path, old = _saved_then_edited(window, tmp_path)
    dialogs.answers["question"] = Button.Discard
    assert window.close() is True
    assert not window.isVisible()
    assert [k for k, _ in dialogs.calls] == ["question"]
    assert path.read_bytes() == old  # discarding writes nothing


def test_close_with_save_that_fails_keeps_the_window(window, dialogs, tmp_path, monkeypatch):
    path, old = _saved_then_edited(window, tmp_path)
    dialogs.answers["question"] = Button.Save
    _fail_write(monkeypatch, errno.ENOSPC)
    assert window.close() is False
    assert window.isVisible()
    assert [k for k, _ in dialogs.calls[-2:]] == ["question", "critical"]
    assert path.read_bytes() == old and window.document.is_modified


def test_close_with_save_writes_then_closes(window, dialogs, tmp_path):
    path, _ = _saved_then_edited(window, tmp_path)
    dialogs.answers["question"] = Button.Save
    assert window.close() is True
    assert selfattn.load_preset(path).inputs[0, 0] == 7.25


def test_close_without_changes_does_not_ask(window, dialogs):
    assert window.close() is True
    assert dialogs.calls == []


def test_opening_another_preset_asks_and_cancel_keeps_the_work(window, dialogs, tmp_path):
    _saved_then_edited(window, tmp_path)
    dialogs.answers["question"] = Button.Cancel
    assert window.files.open_bundled("two-heads-self-and-previous") is False
    assert window.document.preset.inputs[0, 0] == 7.25 and window.document.is_modified


# --- the global exception hook --------------------------------------------------------------


class _Boxes:
    """Replaces QMessageBox.exec: records each box, optionally clicks a button by text."""

    def __init__(self, monkeypatch, click: str | None = None) -> None:
        self.shown: list[dict] = []
        self.click = click
        boxes = self

        def fake_exec(box: QMessageBox) -> int:
            buttons = [b.text() for b in box.buttons()]
            boxes.shown.append(
                {"text": box.text(), "details": box.detailedText(), "buttons": buttons}
            )
            for button in box.buttons():
                if boxes.click is not None and button.text() == boxes.click:
                    button.click()  # sets clickedButton() as a real click would
            return 0

        monkeypatch.setattr(QMessageBox, "exec", fake_exec)


def _raised(exc: BaseException) -> tuple[type[BaseException], BaseException, object]:
    try:
        raise exc
    except BaseException as caught:  # we want the real traceback object
        return type(caught), caught, caught.__traceback__


def _nested_failure() -> None:
    np.linalg.inv(np.zeros((2, 2)))  # raises LinAlgError from deep inside numpy


def test_handler_shows_details_and_a_save_option_and_writes_stderr(
    window, monkeypatch, capsys, tmp_path
):
    boxes = _Boxes(monkeypatch)
    handler = errors.ExceptionHandler(lambda: window)
    try:
        _nested_failure()
    except np.linalg.LinAlgError:
        info = sys.exc_info()
    handler(*info)
    (box,) = boxes.shown
    assert "LinAlgError" in box["text"] and "Singular matrix" in box["text"]
    assert "_nested_failure" in box["details"] and "Traceback" in box["details"]
    assert "Save a copy…" in box["buttons"]
    err = capsys.readouterr().err
    assert "Traceback" in err and "_nested_failure" in err and "Singular matrix" in err
    assert window.isVisible()
    assert window.document.preset.inputs.shape == (3, 4)  # the document is untouched


def test_save_a_copy_from_the_dialog_writes_a_loadable_preset(
    window, monkeypatch, capsys, tmp_path
):
    commands.set_cell_text(window.document, "inputs", 1, 2, "-3.5")
    rescue = tmp_path / "rescue.json"
    monkeypatch.setattr(errors, "rescue_path", lambda name: rescue)
    _Boxes(monkeypatch, click="Save a copy…")
    errors.ExceptionHandler(lambda: window)(*_raised(RuntimeError("boom")))
    saved = selfattn.load_preset(rescue)
    assert saved.inputs[1, 2] == -3.5
    assert selfattn.dumps_preset(saved) == selfattn.dumps_preset(window.document.preset)
    assert str(rescue) in capsys.readouterr().err  # the person is told where it went
    assert window.document.is_modified  # a rescue copy is not "saved"


def test_save_rescue_copy_uses_a_safe_name_in_the_temp_folder(window, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    commands.push_preset(
        window.document, window.document.preset.replace(name="a/b\\..:c"), "rename"
    )
    path = errors.ExceptionHandler(lambda: window).save_rescue_copy(window.document)
    assert path is not None and path.parent == tmp_path
    assert selfattn.load_preset(path).name == "a/b\\..:c"


def test_save_rescue_copy_that_fails_reports_and_does_not_raise(
    window, monkeypatch, capsys, tmp_path
):
    monkeypatch.setattr(errors, "rescue_path", lambda name: tmp_path / "missing" / "r.json")
    assert errors.ExceptionHandler(lambda: window).save_rescue_copy(window.document) is None
    assert "rescue copy failed" in capsys.readouterr().err


def test_handler_without_a_window_still_reports(monkeypatch, capsys, qtbot):
    boxes = _Boxes(monkeypatch)
    errors.ExceptionHandler(lambda: None)(*_raised(ValueError("no window yet")))
    assert "no window yet" in boxes.shown[0]["text"]
    assert "Save a copy…" not in boxes.shown[0]["buttons"]  # nothing to save
    assert "no window yet" in capsys.readouterr().err


def test_an_error_while_the_dialog_is_up_goes_to_stderr_only(window, monkeypatch, capsys):
    handler = errors.ExceptionHandler(lambda: window)
    shown: list[str] = []

    def exec_that_fails_again(box: QMessageBox) -> int:
        shown.append(box.text())
        handler(*_raised(KeyError("second")))  # e.g. a repaint failing under the dialog
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_that_fails_again)
    handler(*_raised(ValueError("first")))
    assert len(shown) == 1 and "first" in shown[0]
    err = capsys.readouterr().err
    assert "first" in err and "second" in err


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_qt_slot_shows_the_dialog_and_the_window_stays_up(
    window, monkeypatch, qtbot, capsys
):
    """The real path: Qt calls a Python slot from its event loop, the slot raises,
    PySide hands the exception to sys.excepthook, which is our handler."""
    boxes = _Boxes(monkeypatch)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    handler = errors.install(lambda: window)
    assert sys.excepthook is handler

    def broken_slot() -> None:
        raise ZeroDivisionError("slot failed")

    QTimer.singleShot(0, broken_slot)
    qtbot.waitUntil(lambda: bool(boxes.shown), timeout=2000)
    assert "slot failed" in boxes.shown[0]["text"]
    assert "broken_slot" in boxes.shown[0]["details"]
    assert "broken_slot" in capsys.readouterr().err
    # The window is alive and still edits and computes.
    assert window.isVisible()
    assert commands.set_cell_text(window.document, "inputs", 0, 0, "2")
    assert window.recompute.result.weights[0].sum() == pytest.approx(3.0)


def test_handler_formats_the_whole_chain(window, monkeypatch):
    """A wrapped exception shows its cause too: the first error is usually the useful one."""
    boxes = _Boxes(monkeypatch)
    try:
        try:
            raise OSError(errno.EIO, "disk went away")
        except OSError as inner:
            raise RuntimeError("while redrawing") from inner
    except RuntimeError:
        info = sys.exc_info()
    errors.ExceptionHandler(lambda: window)(*info)
    details = boxes.shown[0]["details"]
    assert "disk went away" in details and "while redrawing" in details
    assert details == "".join(traceback.format_exception(*info))
