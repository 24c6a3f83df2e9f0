"""Where a model preset came from: the model, text, layer and head it was made of.

The window keeps one with a preset loaded from a model (Load from model, an atlas
click, the navigator, a generation step) so it can move to another layer or head
of the same text, or continue the text, without asking again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelOrigin:
    """The arguments that rebuild a model preset: preset_from_model(model, layer, head, text)."""

    model: str | None  # what preset_from_model takes: None = bundled MiniLM, "smollm2", a path
    text: str  # the text the preset was made from
    layer: int  # 1-based
    head: int | None  # 1-based; None = the whole layer
    is_decoder: bool  # a decoder (Llama/Qwen2/GPT-2/GGUF) rather than a BERT encoder

    def moved(self, layer: int, head: int | None) -> ModelOrigin:
        """The same model and text at another layer and head."""
        return ModelOrigin(self.model, self.text, layer, head, self.is_decoder)

    def describe(self) -> str:
        """'layer 3 head 2' or 'layer 3 all heads', for status messages and undo texts."""
        return f"layer {self.layer} " + ("all heads" if self.head is None else f"head {self.head}")


def origin_of(model: str | Path | None, layer: int, head: int | None, text: str) -> ModelOrigin:
    """The origin of preset_from_model(model, layer, head, text); reads the model's kind.

    Raises ModelError as preset_from_model would for a model that is not there.
    """
    from . import resolve_model  # the package imports the readers; this module stays light

    kind, _path = resolve_model(model)
    return ModelOrigin(
        None if model is None else str(model), text, layer, head, is_decoder=kind == "decoder"
    )


def lesson_origin(name: str) -> ModelOrigin | None:
    """The origin of a bundled lesson made from a real model (None for the others).

    The lesson builders make these presets with preset_from_model from their own
    constants, so the window can move from a lesson to the next layer, open its
    atlas or continue its text like a preset just loaded from the model.
    """
    from . import lesson, lesson_decoder, lesson_induction  # only when a lesson opens

    origins = {
        "real-previous-token": ModelOrigin(None, lesson.TEXT, lesson.LAYER, lesson.HEAD, False),
        "real-attention-sink": ModelOrigin(
            lesson_decoder.MODEL,
            lesson_decoder.TEXT,
            lesson_decoder.LAYER,
            lesson_decoder.HEAD,
            True,
        ),
        "real-induction-head": ModelOrigin(
            lesson_induction.MODEL,
            lesson_induction.TEXT,
            lesson_induction.LAYER,
            lesson_induction.HEAD,
            True,
        ),
    }
    return origins.get(name)
