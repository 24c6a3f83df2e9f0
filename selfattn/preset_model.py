"""A preset's values: one attention layer's inputs, weights and options (no file format).

`Preset` and `Options` are immutable; `compute(preset)` runs `selfattn.attention`.
The JSON file format (versions 1 and 2) lives in `selfattn.preset`, which also
re-exports everything here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from .attention import AttentionResult, Biases, attention
from .rope import Rope

MATRIX_NAMES = ("query", "key", "value", "output")
# The array fields of a Preset, i.e. every matrix a person can edit (biases are vectors).
ARRAY_FIELDS = (
    "inputs",
    "source_inputs",
    "w_query",
    "w_key",
    "w_value",
    "w_output",
    "b_query",
    "b_key",
    "b_value",
    "b_output",
)


class PresetError(ValueError):
    """A preset file or preset value that breaks the format's rules.

    The message is always one line of printable, encodable text: it quotes file and
    field names from outside (a JSON key may hold a newline, NUL, a bidi override or
    a lone surrogate) and goes to stderr, dialogs and the status bar.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(_printable(a) if isinstance(a, str) else a for a in args))


def _printable(text: str) -> str:
    """`text` with every non-printable character (line breaks, NUL, surrogates) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class Options:
    heads: int = 1
    scale: str | float = "sqrt_dk"  # "sqrt_dk" | "none" | positive divisor
    temperature: float = 1.0
    causal: bool = False
    key_mask: tuple[bool, ...] | None = None  # one per key; False masks the key
    dtype: str = "float64"
    kv_heads: int | None = None  # None = heads (plain multi-head); must divide heads
    window: int | None = None  # sliding window w >= 1, None = off
    rope: Rope | None = None  # None = off

    @property
    def uses_version_2(self) -> bool:
        """True if any option only version 2 of the file format can hold is set."""
        return self.kv_heads is not None or self.window is not None or self.rope is not None


@dataclass(frozen=True, eq=False)
class Preset:
    """One attention layer's inputs, weights and options (arrays are float64, read-only)."""

    inputs: np.ndarray  # X, (n, d_model)
    w_query: np.ndarray  # (d_model, H*d_k)
    w_key: np.ndarray  # (d_model, H*d_k)
    w_value: np.ndarray  # (d_model, H*d_v)
    w_output: np.ndarray | None = None  # (H*d_v, d_out)
    b_query: np.ndarray | None = None
    b_key: np.ndarray | None = None
    b_value: np.ndarray | None = None
    b_output: np.ndarray | None = None
    source_inputs: np.ndarray | None = None  # Xs, (m, d_model), cross-attention
    tokens: tuple[str, ...] = ()
    source_tokens: tuple[str, ...] | None = None
    name: str = "Untitled"
    description: str = ""
    options: Options = field(default_factory=Options)
    source_positions: tuple[int, ...] | None = None  # key positions for cross-attention

    # The editable matrices (module constant ARRAY_FIELDS), for code holding a Preset.
    ARRAY_FIELDS: ClassVar[tuple[str, ...]] = ARRAY_FIELDS

    def __post_init__(self) -> None:
        for name in ARRAY_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if (
                isinstance(value, np.ndarray)
                and value.dtype == np.float64
                and not value.flags.writeable
                and value.base is None
            ):
                continue  # already an immutable array we own: share it between presets
            arr = np.array(value, dtype=np.float64)  # private copy
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        if not self.tokens:
            object.__setattr__(self, "tokens", default_tokens(self.inputs.shape[0]))
        else:
            object.__setattr__(self, "tokens", tuple(self.tokens))
        if self.source_inputs is not None and not self.source_tokens:
            object.__setattr__(
                self, "source_tokens", default_tokens(self.source_inputs.shape[0], "s")
            )
        elif self.source_tokens is not None:
            object.__setattr__(self, "source_tokens", tuple(self.source_tokens))
        if self.source_positions is not None:
            object.__setattr__(
                self,
                "source_positions",
                tuple(p.item() if isinstance(p, np.generic) else p for p in self.source_positions),
            )

    # Shapes -----------------------------------------------------------------
    @property
    def n_tokens(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def d_model(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def n_keys(self) -> int:
        return self.n_tokens if self.source_inputs is None else int(self.source_inputs.shape[0])

    @property
    def key_tokens(self) -> tuple[str, ...]:
        """Labels of the keys: the source tokens for cross-attention, else the tokens."""
        return self.tokens if self.source_tokens is None else self.source_tokens

    @property
    def d_k(self) -> int:
        return int(self.w_query.shape[1]) // max(self.options.heads, 1)

    @property
    def kv_heads(self) -> int:
        """G: the key/value heads (the heads themselves unless grouped)."""
        kv = self.options.kv_heads
        return max(self.options.heads if kv is None else kv, 1)

    @property
    def d_v(self) -> int:
        return int(self.w_value.shape[1]) // self.kv_heads

    @property
    def uses_version_2(self) -> bool:
        """True if the preset needs file format version 2 (any of its new fields is set)."""
        return self.options.uses_version_2 or self.source_positions is not None

    def replace(self, **changes: Any) -> Preset:
        return replace(self, **changes)

    def with_options(self, **changes: Any) -> Preset:
        return replace(self, options=replace(self.options, **changes))


def default_tokens(n: int, prefix: str = "t") -> tuple[str, ...]:
    return tuple(f"{prefix}{i + 1}" for i in range(n))


def attention_arguments(preset: Preset, dtype: str | None = None) -> dict[str, Any]:
    """The keyword arguments of `attention` for a preset (shared with the incremental engine)."""
    o = preset.options
    return {
        "x": preset.inputs,
        "w_q": preset.w_query,
        "w_k": preset.w_key,
        "w_v": preset.w_value,
        "heads": o.heads,
        "w_o": preset.w_output,
        "biases": Biases(preset.b_query, preset.b_key, preset.b_value, preset.b_output),
        "source": preset.source_inputs,
        "scale": o.scale,
        "temperature": o.temperature,
        "causal": o.causal,
        "key_mask": o.key_mask,
        "dtype": dtype or o.dtype,
        "kv_heads": o.kv_heads,
        "rope": o.rope,
        "window": o.window,
        "positions": None if o.rope is None else o.rope.positions,
        "key_positions": preset.source_positions if preset.source_inputs is not None else None,
    }


def compute(preset: Preset, dtype: str | None = None) -> AttentionResult:
    """Run a preset through `attention`."""
    return attention(**attention_arguments(preset, dtype))
