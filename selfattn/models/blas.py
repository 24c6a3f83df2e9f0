"""One BLAS thread for the model forward passes (BENCHMARKS.md "Third session").

A forward pass multiplies small matrices (tens to hundreds of tokens by 384 to 576
columns) hundreds of times. On the 2-core machine OpenBLAS's second thread gained
nothing there and, when the other core was busy, made passes many times slower
(threads waiting for each other); one thread was as fast or faster in every
measurement. The attention arithmetic of presets (selfattn.attention) keeps the
library's default.

The BLAS thread count is one number for the whole process, so passes running at
once (the window's worker and a generation thread) share one limit: the first pass
in sets it, the last one out puts back what was there before, whichever threads
they run on. threadpoolctl 3.8 lets only one "controlling" thread change OpenBLAS's
count and silently ignores the others; the lock here already serialises every
change, so control is taken before and handed back after each one.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

FORWARD_BLAS_THREADS = 1

_lock = threading.Lock()
_inside = 0
_controller: ThreadpoolController | None = None
_limiter: Any = None  # threadpoolctl's limiter of the passes running now

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def forward_blas_threads() -> Iterator[None]:
    """BLAS runs on FORWARD_BLAS_THREADS threads inside this block (nests, threads share it)."""
    global _inside, _controller, _limiter
    with _lock:
        if _inside == 0:
            if _controller is None:  # finds the BLAS libraries numpy loaded (once)
                _controller = ThreadpoolController()
            _release_control(_controller)
            _limiter = _controller.limit(limits=FORWARD_BLAS_THREADS, user_api="blas")
            _release_control(_controller)
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                _release_control(_controller)
                _limiter.restore_original_limits()
                _release_control(_controller)
                _limiter = None


def _release_control(controller: Any) -> None:
    """Let the next thread change the count (threadpoolctl >= 3.8; older ones need nothing)."""
    for lib in controller.lib_controllers:
        clear = getattr(type(lib), "clear_controlling_thread", None)
        if clear is not None:
            clear(force=True)


def with_forward_blas_threads(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator: `fn` runs inside forward_blas_threads()."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with forward_blas_threads():
            return fn(*args, **kwargs)

    return wrapper
