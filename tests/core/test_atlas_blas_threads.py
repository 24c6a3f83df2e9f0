"""Model forward passes run on one BLAS thread; the process's own count comes back after.

Truth: threadpoolctl's report of the BLAS library numpy loaded, read from inside the
passes (their on_layer callbacks) and after them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from selfattn.atlas import decoder_attentions
from selfattn.models.blas import FORWARD_BLAS_THREADS, forward_blas_threads
from selfattn.models.decoder import DecoderModel
from selfattn.models.decoder_preset import preset_from_decoder

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "decoders" / "tiny-llama"


def blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_numpy_has_a_blas_library_to_limit():
    assert blas_threads(), threadpool_info()


def test_decoder_passes_run_on_one_thread_and_give_the_count_back():
    model = DecoderModel(TINY)
    seen: list[set[int]] = []
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        model.forward([1, 2, 3], on_layer=lambda done, total: seen.append(blas_threads()))
        decoder_attentions(model, [1, 2, 3], on_layer=lambda d, t: seen.append(blas_threads()))
        after = blas_threads()
    assert before == {2} and after == {2}
    assert len(seen) == 2 * model.config.n_layers
    assert all(s == {FORWARD_BLAS_THREADS} for s in seen) and FORWARD_BLAS_THREADS == 1


def test_decoder_presets_run_their_layers_on_one_thread(monkeypatch):
    """The layer-by-layer route of presets (the kept hidden states) is limited too."""
    model = DecoderModel(TINY)
    seen: list[set[int]] = []
    run_layer = DecoderModel.run_layer

    def watched(self, *args, **kwargs):
        seen.append(blas_threads())
        return run_layer(self, *args, **kwargs)

    monkeypatch.setattr(DecoderModel, "run_layer", watched)
    with threadpool_limits(limits=2, user_api="blas"):
        preset_from_decoder(TINY, model.config.n_layers, 1, "a b c")
        after = blas_threads()
    assert seen and all(s == {1} for s in seen) and after == {2}


def test_same_numbers_as_without_the_limit():
    model = DecoderModel(TINY)
    limited = model.forward([5, 6, 7, 8]).logits
    with threadpool_limits(limits=2, user_api="blas"):
        # the limit is process-wide: a forward pass inside a second limit still takes 1
        assert limited is not None
        again = model.forward([5, 6, 7, 8]).logits
    assert again is not None
    np.testing.assert_allclose(again, limited, rtol=1e-5, atol=1e-6)


def test_overlapping_passes_on_two_threads_restore_the_count_once_both_are_out():
    """A enters, B enters, A leaves first (not last-in-first-out), then B leaves."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, set[int]] = {}

    def first() -> None:
        with forward_blas_threads():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def second() -> None:
        a_in.wait(10)
        with forward_blas_threads():
            b_in.set()
            a_out.wait(10)
            seen["B after A left"] = blas_threads()

    with threadpool_limits(limits=2, user_api="blas"):
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        seen["after both"] = blas_threads()
    assert seen == {"B after A left": {1}, "after both": {2}}


def test_nested_blocks_keep_the_limit_until_the_outer_one_ends():
    with threadpool_limits(limits=2, user_api="blas"):
        with forward_blas_threads():
            with forward_blas_threads():
                inner = blas_threads()
            between = blas_threads()
        after = blas_threads()
    assert (inner, between, after) == ({1}, {1}, {2})
