"""The bundled decoder lesson, resources/presets/real-attention-sink.json.

Layer 19, head 9 of SmolLM2-135M-Instruct is an attention sink: every token puts
more than 0.9999 of its weight on the first token, whose value vector is about
thirteen times shorter than the others', so the head adds almost nothing: a
"no-op" head parks its attention there (Xiao et al. 2023, "Efficient Streaming
Language Models with Attention Sinks"). The file is an ordinary version-2 preset
(RoPE, causal) that opens without the model; this module rebuilds it:

    .venv/bin/python -m selfattn.models.lesson_decoder          # rewrite the file
    .venv/bin/python -m selfattn.models.lesson_decoder --check  # exit 1 if out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..preset import Preset
from . import preset_from_model
from .lesson import rebuild

MODEL = "smollm2"
LAYER = 19
HEAD = 9
TEXT = "The cat sat on the mat and slept."
NAME = "Real decoder head: an attention sink (SmolLM2 layer 19, head 9)"
DESCRIPTION = (
    "A real decoder head, every number the model's own: SmolLM2-135M-Instruct (Apache-2.0; "
    "30 layers x 9 query heads of 64 sharing 3 key/value heads, hidden 576, RoPE theta "
    f"100000), layer {LAYER}, head {HEAD}, on the sentence {TEXT!r} The inputs are the "
    "RMSNorm of the hidden states entering the layer, what multiplies W_Q; W_K and W_V are "
    "the columns of key/value head 3, which heads 7, 8 and 9 share; each word sees only "
    "itself and the words before it (Causal), and RoPE rotates Q and K by position. Look "
    "at the Weights tab: in every row more than 0.9999 of the weight sits in the first "
    "column, on 'The', whatever the word. The scaled scores show why: the first key scores "
    "about +5 to +7, every other key -3 to -38. Then look at V: the first row is about 13 "
    "times shorter than the others (length 0.85 against 10 to 12), so every context row "
    "is that same short vector and the head adds the same small output to every word. A "
    "head with nothing to add parks its "
    "attention on the first token, an 'attention sink'; the softmax must put its weight "
    "somewhere. Switch RoPE off in Options: the sink stays, because it is made by the "
    "first token's key, not by its position. Made with: selfattn from-model --model "
    f'smollm2 --layer {LAYER} --head {HEAD} --text "{TEXT}"'
)
FILE = Path(__file__).resolve().parents[2] / "resources" / "presets" / "real-attention-sink.json"


def build() -> Preset:
    """The lesson from the bundled decoder (ModelError when it is not installed)."""
    preset = preset_from_model(MODEL, LAYER, HEAD, TEXT)
    return preset.replace(name=NAME, description=DESCRIPTION)


def main(argv: list[str] | None = None) -> int:
    return rebuild(build, FILE, "decoder lesson", argv)


if __name__ == "__main__":
    sys.exit(main())
