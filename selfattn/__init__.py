"""Self-Attention Workbench core: attention arithmetic, presets, export (numpy only, no Qt)."""

from .attention import (
    AttentionError,
    AttentionResult,
    Biases,
    ResultBuffers,
    attention,
    masked_softmax,
)
from .preset import (
    Options,
    Preset,
    PresetError,
    compute,
    dumps_preset,
    load_preset,
    parse_preset,
    preset_from_dict,
    preset_to_dict,
    save_preset,
)
from .rope import Rope

__version__ = "0.1.0"

__all__ = [
    "AttentionError",
    "AttentionResult",
    "Biases",
    "Options",
    "Preset",
    "PresetError",
    "ResultBuffers",
    "Rope",
    "attention",
    "compute",
    "dumps_preset",
    "load_preset",
    "masked_softmax",
    "parse_preset",
    "preset_from_dict",
    "preset_to_dict",
    "save_preset",
]
