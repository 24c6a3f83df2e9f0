"""The worker thread never collects garbage: Qt wrappers must be freed on the GUI thread."""

from __future__ import annotations

import gc
import threading
import weakref

from app.worker import Background


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_garbage_made_anywhere_is_collected_on_the_gui_thread(qtbot):
    background = Background()
    collected_on = []
    cycle = _Cycle()
    weakref.finalize(cycle, lambda: collected_on.append(threading.current_thread()))
    del cycle  # unreachable now, freed only by a collection
    done = []
    # Thousands of new containers: enough to start an automatic collection at once.
    background.submit(lambda: [[] for _ in range(20_000)], done.append, print)
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    gc.collect()
    assert collected_on == [threading.main_thread()]
    assert not gc.isenabled()  # automatic collection could start on any thread
    background.shutdown()
