"""Run slow work (loading a model, a big recompute, an export) off the GUI thread.

`Background.submit(fn, on_done, on_error)` runs `fn()` on one worker thread, in
order, and delivers its result or exception back on the GUI thread through a
queued signal. Jobs are serial, so work that shares state (the incremental
engine) never runs twice at once.

Python's cyclic garbage collector must never run on a worker: when it frees a Qt
wrapper there, shiboken hands the C++ deletion to the main thread and PySide6 6.11
crashes doing it (a null call in Shiboken::BindingManager::runDeletionInMainThread;
seen in the monkey test once CSV exports ran on the worker). A collection can start
at any allocation, so pausing it inside a job is too late: once a Background exists,
automatic collection is off and the GUI thread collects on a timer and after every
delivered job (what pyqtgraph's GarbageCollector does too).
"""

from __future__ import annotations

import concurrent.futures
import gc
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot

COLLECT_INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """Collects garbage on the GUI thread, generation by generation, like Python would."""

    _instance: MainThreadCollector | None = None

    def __init__(self) -> None:
        super().__init__(QCoreApplication.instance())
        self._thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect)
        self._timer.start(COLLECT_INTERVAL_MS)

    @classmethod
    def install(cls) -> None:
        """Turn automatic collection off and collect here instead (once per process)."""
        if cls._instance is None:
            cls._instance = cls()

    def collect(self) -> None:
        counts = gc.get_count()
        for generation in range(3):
            if counts[generation] <= self._thresholds[generation]:
                break
            gc.collect(generation)


class Background(QObject):
    _finished = Signal(object, object, object)  # callback, value, is_error

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        MainThreadCollector.install()
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
        if MainThreadCollector._instance is not None:
            MainThreadCollector._instance.collect()  # a job's garbage is freed here

    def wait(self) -> None:
        """Block until every submitted job ran (tests and shutdown)."""
        self._pool.submit(lambda: None).result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
