"""Run slow work (loading a model, a big recompute) off the GUI thread.

`Background.submit(fn, on_done, on_error)` runs `fn()` on one worker thread, in
order, and delivers its result or exception back on the GUI thread through a
queued signal. Jobs are serial, so work that shares state (the incremental
engine) never runs twice at once.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot


class Background(QObject):
    _finished = Signal(object, object, object)  # callback, value, is_error

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="selfattn"
        )
        self._pending = 0
        self._finished.connect(self._deliver)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def submit(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._pending += 1

        def job() -> None:
            try:
                value = fn()
            except Exception as exc:  # delivered to on_error on the GUI thread
                self._finished.emit(on_error, exc, True)
            else:
                self._finished.emit(on_done, value, False)

        self._pool.submit(job)

    @Slot(object, object, object)
    def _deliver(self, callback: Callable[[Any], None], value: Any, _is_error: bool) -> None:
        self._pending -= 1
        callback(value)

    def wait(self) -> None:
        """Block until every submitted job ran (tests and shutdown)."""
        self._pool.submit(lambda: None).result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
