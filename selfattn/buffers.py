"""Reusable result buffers with explicit ownership (no reference counting).

`attention(..., buffers=b)` lends its (H, n, m) arrays from `b`; `b.give_back(result)`
is the owner's word that nobody reads `result` any more.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .attention import AttentionResult


class ResultBuffers:
    """Reusable (H, n, m) arrays for attention results, with explicit ownership.

    Fresh large arrays cost a page fault per 4 KiB on every call (~20% of the time
    at n=2048), so a caller that computes again and again may lend the scores,
    scaled scores and weights arrays from one of these: `attention(..., buffers=b)`.
    Each array is lent to exactly one result (its owner) or free. It becomes free
    only through `give_back(result)`, which the caller uses when nobody reads that
    result any more; a later call may then overwrite it. Nothing is reused on a
    guess: a result never given back is never touched, and giving back twice, or a
    result that no longer owns its arrays, does nothing.

    Only arrays up to `max_array_bytes` are kept free (n=4096 float32), at most
    `max_arrays` of them; free arrays of another shape are dropped when a call needs
    a new shape, so idle memory stays bounded.
    """

    def __init__(self, max_array_bytes: int = 64 * 1024 * 1024, max_arrays: int = 9) -> None:
        self.max_array_bytes = max_array_bytes
        self.max_arrays = max_arrays
        self._free: list[np.ndarray] = []
        # id(array) -> (the array, its owning result or None while being filled); weak
        # references, so a result dropped without give_back just ends its entries.
        self._lent: dict[int, tuple[weakref.ref[np.ndarray], weakref.ref[object] | None]] = {}
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A writable C-contiguous array (contents undefined), recycled if one is free."""
        with self._lock:
            found = next((a for a in self._free if a.shape == shape and a.dtype == dtype), None)
            if found is not None:
                self._free = [a for a in self._free if a is not found]
                found.flags.writeable = True
            else:
                self._free = [a for a in self._free if a.shape == shape and a.dtype == dtype]
                found = np.empty(shape, dtype=dtype)
            key = id(found)

            def forget(_: object, key: int = key) -> None:
                self._lent.pop(key, None)

            self._lent[key] = (weakref.ref(found, forget), None)
            return found

    def claim(self, result: AttentionResult) -> None:
        """Make `result` the owner of the arrays of these buffers that it holds.

        attention() calls it for the result it builds; whoever derives a result from
        an older one in place (the incremental engine) calls it to pass ownership on.
        """
        with self._lock:
            for a in _big_arrays(result):
                entry = self._lent.get(id(a))
                if entry is not None and entry[0]() is a:
                    self._lent[id(a)] = (entry[0], weakref.ref(result))

    def give_back(self, result: AttentionResult) -> None:
        """The caller's word that nobody reads `result` any more: its arrays may be reused."""
        with self._lock:
            for a in _big_arrays(result):
                entry = self._lent.get(id(a))
                if entry is None or entry[0]() is not a or entry[1] is None:
                    continue  # not lent by us, or still being filled
                if entry[1]() is not result:
                    continue  # already given back, or owned by a newer result
                del self._lent[id(a)]
                if a.nbytes <= self.max_array_bytes and len(self._free) < self.max_arrays:
                    self._free.append(a)

    @property
    def free_count(self) -> int:
        """How many arrays wait to be reused (for tests)."""
        return len(self._free)


def _big_arrays(result: AttentionResult) -> tuple[np.ndarray, ...]:
    return (result.scores, result.scaled_scores, result.weights)
