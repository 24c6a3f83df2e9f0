"""The hidden states entering every layer, kept per model and token sequence.

Moving from layer L to layer L+1 of the same text needs only one more layer run:
the states entering layers 1..L are kept from the last request. preset_from_model
(BERT) and preset_from_decoder (decoders) take their layer inputs from here, so
every route (Load from model, an atlas click, the navigator, the command line)
fills and reuses the same cache.

The states are computed by exactly the code of the uncached pass (bert.encoder_layer,
DecoderModel.run_layer, in the same order on the same arrays), so a preset built from
the cache equals one built from scratch bit for bit.

Bounded: at most RUNS_PER_MODEL sequences per model, MAX_RUNS in all and about
MAX_BYTES of states (the newest run is always kept). A run holds its model weakly:
a model dropped by clear_cache() frees its states too.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import bert
from .bert import Checkpoint
from .decoder import DecoderModel
from .tokenize import Encoding

RUNS_PER_MODEL = 2  # token sequences kept per model (the text shown and the one before)
MAX_RUNS = 4  # sequences kept in all
MAX_BYTES = 256 * 1024 * 1024  # states kept in all (the newest run stays even if larger)

# (id of the model object, token ids, token type ids or ())
_Key = tuple[int, tuple[int, ...], tuple[int, ...]]


@dataclass
class _Run:
    """One model's states for one token sequence: states[i] enters layer i + 1."""

    model: weakref.ref[object]
    states: list[np.ndarray] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)  # held while extending

    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.states)


class LayerCache:
    """Runs kept most recently used last; thread-safe (workers share it)."""

    def __init__(
        self,
        runs_per_model: int = RUNS_PER_MODEL,
        max_runs: int = MAX_RUNS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.runs_per_model = runs_per_model
        self.max_runs = max_runs
        self.max_bytes = max_bytes
        self._runs: OrderedDict[_Key, _Run] = OrderedDict()
        self._lock = threading.Lock()

    def hidden_before(
        self,
        model: object,
        key: _Key,
        layer: int,
        first: Callable[[], np.ndarray],
        step: Callable[[int, np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """The states entering `layer` (from 1): kept, or run on from the deepest kept.

        first(): the states entering layer 1; step(n, h): the states after layer n.
        """
        run = self._run(model, key)
        with run.lock:
            if not run.states:
                run.states.append(_frozen(first()))
            while len(run.states) < layer:
                number = len(run.states)
                run.states.append(_frozen(step(number, run.states[-1])))
            h = run.states[layer - 1]
        self._trim(key)
        return h

    def kept_layers(self, model: object, key: _Key) -> int:
        """How many layers' input states are kept for this model and sequence (tests)."""
        with self._lock:
            run = self._runs.get(key)
            return 0 if run is None or run.model() is not model else len(run.states)

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()

    def _run(self, model: object, key: _Key) -> _Run:
        with self._lock:
            run = self._runs.get(key)
            if run is None or run.model() is not model:  # new, or an id reused by a new model
                run = _Run(weakref.ref(model))
                self._runs[key] = run
            self._runs.move_to_end(key)
            return run

    def _trim(self, newest: _Key) -> None:
        """Drop dead and least recently used runs beyond the limits; keep `newest`."""
        with self._lock:
            for key in [k for k, r in self._runs.items() if r.model() is None]:
                del self._runs[key]
            per_model: dict[int, int] = {}
            for key in list(reversed(self._runs)):  # newest first
                per_model[key[0]] = per_model.get(key[0], 0) + 1
                if per_model[key[0]] > self.runs_per_model and key != newest:
                    del self._runs[key]
            total = sum(r.nbytes() for r in self._runs.values())
            for key in list(self._runs):  # oldest first
                if len(self._runs) <= self.max_runs and total <= self.max_bytes:
                    break
                if key != newest:
                    total -= self._runs.pop(key).nbytes()


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False  # shared by every preset built from the cache
    return a


_cache = LayerCache()


def bert_hidden_before(ckpt: Checkpoint, enc: Encoding, layer: int) -> np.ndarray:
    """Checkpoint.hidden_before(enc, layer), kept: the next layer runs one layer only."""
    ckpt.check_layer(layer)
    c = ckpt.config

    def step(number: int, h: np.ndarray) -> np.ndarray:
        out, _trace = bert.encoder_layer(h, ckpt.layer(number), c.n_heads, c.layer_norm_eps)
        return out

    key = (id(ckpt), tuple(enc.ids), tuple(enc.type_ids))
    return _cache.hidden_before(ckpt, key, layer, lambda: ckpt.embed(enc), step)


def decoder_hidden_before(model: DecoderModel, ids: Sequence[int], layer: int) -> np.ndarray:
    """model.forward(ids, upto_layer=layer).hidden (the residual stream entering `layer`), kept."""
    model.check_layer(layer)
    token_ids = tuple(int(i) for i in ids)
    positions = np.arange(len(token_ids))  # what forward uses without a key/value cache

    def first() -> np.ndarray:
        # forward checks the ids and the length, and embeds exactly as a full pass does
        return model.forward(token_ids, upto_layer=1).hidden

    def step(number: int, h: np.ndarray) -> np.ndarray:
        return model.run_layer(number, h, positions)[0]

    return _cache.hidden_before(model, (id(model), token_ids, ()), layer, first, step)


def kept_layers(
    model: Checkpoint | DecoderModel, ids: Sequence[int], type_ids: Sequence[int] = ()
) -> int:
    """How many layer inputs the cache holds for this model and token sequence."""
    return _cache.kept_layers(model, (id(model), tuple(ids), tuple(type_ids)))


def clear_layer_cache() -> None:
    """Forget every kept state (the next request runs from the embeddings)."""
    _cache.clear()
