"""What a decoder's forward pass needs to know, read from config.json or GGUF metadata.

Supported: `model_type` llama, mistral, qwen2 (RMSNorm, RoPE in the "half" pair
layout, grouped-query attention, SwiGLU) and gpt2 (LayerNorm, learned positions,
GELU-tanh); GGUF `general.architecture` llama and qwen2. RoPE scaling types
default, linear and llama3 are folded into the inverse frequencies exactly as
`transformers` computes them (float32); any other type is refused by name.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError
from .gguf_file import GGUFFile
from .tokenize import MAX_CONFIG_BYTES

DECODER_MODEL_TYPES = ("llama", "mistral", "qwen2", "gpt2")
GGUF_ARCHITECTURES = ("llama", "qwen2")
ROPE_TYPES = ("default", "linear", "llama3")
MAX_LAYERS = 1000
MAX_HIDDEN = 65536
MAX_POSITIONS = 16384  # the preset format's MAX_TOKENS
MAX_VOCAB = 10_000_000


@dataclass(frozen=True)
class RopeSpec:
    """Rotary embedding of a model: "half" pairs (x_i, x_i+r/2) over the first `dims` columns."""

    style: str
    theta: float
    dims: int
    scaling: str  # "default", "linear" or "llama3"
    inv_freq: np.ndarray  # (dims // 2,) float32, exactly transformers' values

    @property
    def scaled(self) -> bool:
        return self.scaling != "default"


@dataclass(frozen=True)
class DecoderConfig:
    """A decoder's shape and the choices its forward pass depends on."""

    model_type: str  # llama, mistral, qwen2, gpt2
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    hidden: int
    intermediate: int
    vocab_size: int
    max_positions: int
    norm_eps: float
    rope: RopeSpec | None  # None for GPT-2 (learned positions)
    layer_windows: tuple[int | None, ...]  # sliding window per layer (None = full)
    bos_id: int | None
    eos_id: int | None
    tied_embeddings: bool
    attention_bias: bool  # q/k/v biases (qwen2, gpt2, llama with attention_bias)
    output_bias: bool  # o_proj / c_proj bias
    mlp_bias: bool
    name: str

    @property
    def gpt2(self) -> bool:
        return self.model_type == "gpt2"

    @property
    def window(self) -> int | None:
        """The sliding window, when the model uses one (on any layer)."""
        return next((w for w in self.layer_windows if w is not None), None)

    @property
    def vocab(self) -> int:
        return self.vocab_size


def default_inv_freq32(dims: int, theta: float) -> np.ndarray:
    """1 / theta^(2i/dims) in float32, the way transformers computes it."""
    exponent = np.arange(0, dims, 2, dtype=np.int64).astype(np.float32) / np.float32(dims)
    out: np.ndarray = (np.float32(1.0) / np.power(np.float32(theta), exponent)).astype(np.float32)
    return out


def scaled_inv_freq(
    origin: str, dims: int, theta: float, scaling: dict[str, Any] | None
) -> tuple[str, np.ndarray]:
    """(rope type, inverse frequencies) with linear or llama3 scaling folded in."""
    inv = default_inv_freq32(dims, theta)
    if not scaling:
        return "default", inv
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind not in ROPE_TYPES:
        raise ModelError(
            f"{origin}: rope scaling type {kind!r:.40} is not supported "
            f"(supported: {', '.join(ROPE_TYPES)})"
        )
    if kind == "default":
        return "default", inv

    def number(key: str) -> float:
        v = scaling.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise ModelError(f"{origin}: rope scaling {key} must be a positive number")
        return float(v)

    factor = number("factor")
    if kind == "linear":
        return "linear", (inv / np.float32(factor)).astype(np.float32)
    low = number("low_freq_factor")
    high = number("high_freq_factor")
    old_context = number("original_max_position_embeddings")
    if high <= low:
        raise ModelError(f"{origin}: rope scaling needs high_freq_factor > low_freq_factor")
    # transformers' _compute_llama3_parameters, in float32 like torch.
    low_wavelen = np.float32(old_context / low)
    high_wavelen = np.float32(old_context / high)
    wavelen = np.float32(2 * math.pi) / inv
    out = np.where(wavelen > low_wavelen, inv / np.float32(factor), inv).astype(np.float32)
    smooth = (np.float32(old_context) / wavelen - np.float32(low)) / np.float32(high - low)
    smoothed = (1 - smooth) * out / np.float32(factor) + smooth * out
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return "llama3", np.where(medium, smoothed, out).astype(np.float32)


# config.json -----------------------------------------------------------------


def read_json_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise ModelError(f"{folder}: no config.json (not a model folder)")
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ModelError(f"{path}: larger than {MAX_CONFIG_BYTES // 2**20} MiB")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelError(f"{path}: not valid JSON") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return raw


class _Fields:
    """Typed, range-checked reads of config values, each error naming the field."""

    def __init__(self, origin: str, get: Any) -> None:
        self.origin = origin
        self.get = get

    def integer(self, key: str, lo: int, hi: int, default: int | None = None) -> int:
        v = self.get(key, default)
        if isinstance(v, np.integer):
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ModelError(
                f"{self.origin}: {key} must be an integer in {lo}..{hi}, got {v!r:.40}"
            )
        return v

    def number(self, key: str, default: float | None = None) -> float:
        v = self.get(key, default)
        if isinstance(v, np.floating):
            v = float(v)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise ModelError(f"{self.origin}: {key} must be a positive number, got {v!r:.40}")
        return float(v)

    def optional_id(self, key: str) -> int | None:
        v = self.get(key)
        if isinstance(v, list):  # some configs list several end-of-sequence ids
            v = v[0] if v else None
        if isinstance(v, np.integer):
            v = int(v)
        return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def config_from_json(folder: Path, raw: dict[str, Any]) -> DecoderConfig:
    """A DecoderConfig from a llama, mistral, qwen2 or gpt2 config.json."""
    origin = str(folder / "config.json")
    model_type = raw.get("model_type")
    if model_type not in DECODER_MODEL_TYPES:
        raise ModelError(
            f"{origin}: architecture {model_type!r:.60} is not supported "
            f"(decoders: {', '.join(DECODER_MODEL_TYPES)}; encoders: bert)"
        )
    f = _Fields(origin, raw.get)
    if model_type == "gpt2":
        return _gpt2_config(folder, raw, f)

    act = raw.get("hidden_act", "silu")
    if act != "silu":
        raise ModelError(f"{origin}: hidden_act {act!r:.40} is not supported (only 'silu')")
    hidden = f.integer("hidden_size", 1, MAX_HIDDEN)
    n_heads = f.integer("num_attention_heads", 1, hidden)
    n_kv = f.integer("num_key_value_heads", 1, n_heads, n_heads)
    if n_heads % n_kv:
        raise ModelError(
            f"{origin}: num_attention_heads {n_heads} is not a multiple of "
            f"num_key_value_heads {n_kv}"
        )
    head_dim = raw.get("head_dim") or hidden // n_heads
    head_dim = _Fields(origin, {"head_dim": head_dim}.get).integer("head_dim", 1, hidden)
    n_layers = f.integer("num_hidden_layers", 1, MAX_LAYERS)
    max_pos = min(f.integer("max_position_embeddings", 1, 10**9), MAX_POSITIONS)

    # transformers 5 writes rope_parameters (with rope_theta inside); older files
    # write rope_theta and rope_scaling at the top level.
    params = raw.get("rope_parameters")
    scaling = raw.get("rope_scaling")
    if isinstance(params, dict):
        theta = _Fields(origin, params.get).number("rope_theta", raw.get("rope_theta", 10000.0))
        scaling = params
    else:
        theta = f.number("rope_theta", 10000.0)
    if scaling is not None and not isinstance(scaling, dict):
        raise ModelError(f"{origin}: rope_scaling must be an object")
    factor = raw.get("partial_rotary_factor", 1.0)
    dims = int(head_dim * factor) if isinstance(factor, int | float) else head_dim
    if dims % 2 or not 2 <= dims <= head_dim:
        raise ModelError(f"{origin}: rotary dimensions {dims} must be even and <= {head_dim}")
    kind, inv = scaled_inv_freq(origin, dims, theta, scaling)

    windows = _windows(origin, raw, model_type, n_layers, f)
    # q/k/v biases: always in qwen2, never in mistral, llama's attention_bias flag
    # (which also gives o_proj a bias).
    llama_bias = model_type == "llama" and raw.get("attention_bias", False) is True
    bias = model_type == "qwen2" or llama_bias
    return DecoderConfig(
        model_type=model_type,
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=head_dim,
        hidden=hidden,
        intermediate=f.integer("intermediate_size", 1, 16 * MAX_HIDDEN),
        vocab_size=f.integer("vocab_size", 1, MAX_VOCAB),
        max_positions=max_pos,
        norm_eps=f.number("rms_norm_eps", 1e-6),
        rope=RopeSpec("half", theta, dims, kind, inv),
        layer_windows=windows,
        bos_id=f.optional_id("bos_token_id"),
        eos_id=f.optional_id("eos_token_id"),
        tied_embeddings=raw.get("tie_word_embeddings", False) is True,
        attention_bias=bias,
        output_bias=llama_bias,
        mlp_bias=raw.get("mlp_bias", False) is True,
        name=folder.resolve().name,
    )


def _windows(
    origin: str, raw: dict[str, Any], model_type: str, n_layers: int, f: _Fields
) -> tuple[int | None, ...]:
    """Per-layer sliding windows as transformers applies them."""
    w = raw.get("sliding_window")
    if w is None or model_type == "llama":
        return (None,) * n_layers
    size = f.integer("sliding_window", 1, 10**9)
    types = raw.get("layer_types")
    if isinstance(types, list) and len(types) == n_layers:
        return tuple(size if t == "sliding_attention" else None for t in types)
    if model_type == "qwen2":
        if raw.get("use_sliding_window", False) is not True:
            return (None,) * n_layers
        first = f.integer("max_window_layers", 0, 10**6, n_layers)
        return tuple(size if i >= first else None for i in range(n_layers))
    return (size,) * n_layers


def _gpt2_config(folder: Path, raw: dict[str, Any], f: _Fields) -> DecoderConfig:
    origin = str(folder / "config.json")
    act = raw.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ModelError(f"{origin}: activation_function {act!r:.40} is not supported")
    for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"):
        if raw.get(flag, False) is True:
            raise ModelError(f"{origin}: {flag} is not supported")
    if raw.get("scale_attn_weights", True) is not True:
        raise ModelError(f"{origin}: scale_attn_weights false is not supported")
    hidden = f.integer("n_embd", 1, MAX_HIDDEN)
    n_heads = f.integer("n_head", 1, hidden)
    if hidden % n_heads:
        raise ModelError(f"{origin}: n_embd {hidden} is not divisible by n_head {n_heads}")
    inner = raw.get("n_inner") or 4 * hidden
    n_layers = f.integer("n_layer", 1, MAX_LAYERS)
    return DecoderConfig(
        model_type="gpt2",
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_heads,
        head_dim=hidden // n_heads,
        hidden=hidden,
        intermediate=_Fields(origin, {"n_inner": inner}.get).integer("n_inner", 1, 16 * MAX_HIDDEN),
        vocab_size=f.integer("vocab_size", 1, MAX_VOCAB),
        max_positions=min(f.integer("n_positions", 1, 10**9), MAX_POSITIONS),
        norm_eps=f.number("layer_norm_epsilon", 1e-5),
        rope=None,
        layer_windows=(None,) * n_layers,
        bos_id=f.optional_id("bos_token_id"),
        eos_id=f.optional_id("eos_token_id"),
        tied_embeddings=raw.get("tie_word_embeddings", True) is not False,
        attention_bias=True,
        output_bias=True,
        mlp_bias=True,
        name=folder.resolve().name,
    )


# GGUF metadata -----------------------------------------------------------------


def config_from_gguf(g: GGUFFile) -> DecoderConfig:
    """A DecoderConfig from a GGUF file whose architecture is llama or qwen2."""
    origin = g.path.name
    arch = g.get("general.architecture")
    if arch not in GGUF_ARCHITECTURES:
        raise ModelError(
            f"{origin}: GGUF architecture {arch!r:.60} is not supported "
            f"(supported: {', '.join(GGUF_ARCHITECTURES)})"
        )
    assert isinstance(arch, str)
    f = _Fields(origin, lambda key, default=None: g.get(f"{arch}.{key}", default))
    hidden = f.integer("embedding_length", 1, MAX_HIDDEN)
    n_heads = f.integer("attention.head_count", 1, hidden)
    n_kv = f.integer("attention.head_count_kv", 1, n_heads, n_heads)
    if n_heads % n_kv:
        raise ModelError(
            f"{origin}: {arch}.attention.head_count {n_heads} is not a multiple of "
            f"head_count_kv {n_kv}"
        )
    head_dim = f.integer("attention.key_length", 1, hidden, hidden // n_heads)
    dims = f.integer("rope.dimension_count", 2, head_dim, head_dim)
    if dims % 2:
        raise ModelError(f"{origin}: {arch}.rope.dimension_count {dims} is odd")
    theta = f.number("rope.freq_base", 10000.0)
    kind = g.get(f"{arch}.rope.scaling.type", "none")
    if kind in (None, "none"):
        scaling = None
    elif kind == "linear":
        scaling = {"rope_type": "linear", "factor": g.get(f"{arch}.rope.scaling.factor")}
    else:
        raise ModelError(
            f"{origin}: rope scaling type {kind!r:.40} is not supported "
            f"(supported: {', '.join(ROPE_TYPES)})"
        )
    rope_kind, inv = scaled_inv_freq(origin, dims, theta, scaling)
    if "rope_freqs.weight" in g.tensors:  # llama3 scaling, stored as divisors
        rope_kind = "llama3"
        divisors = g.dequantize("rope_freqs.weight").reshape(-1)
        if divisors.shape != inv.shape or not np.all(divisors > 0):
            raise ModelError(f"{origin}: rope_freqs.weight does not fit {dims} rotary dims")
        inv = (inv / divisors).astype(np.float32)
    tokens = g.get("tokenizer.ggml.tokens")
    n_tokens = len(tokens) if isinstance(tokens, list) else None
    n_layers = f.integer("block_count", 1, MAX_LAYERS)
    tk = _Fields(origin, lambda key, default=None: g.get(f"tokenizer.ggml.{key}", default))
    embd = g.tensors.get("token_embd.weight")
    vocab = embd.shape[0] if embd is not None and len(embd.shape) == 2 else n_tokens
    return DecoderConfig(
        model_type=arch,
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=head_dim,
        hidden=hidden,
        intermediate=f.integer("feed_forward_length", 1, 16 * MAX_HIDDEN),
        vocab_size=f.integer("vocab_size", 1, MAX_VOCAB, vocab),
        max_positions=min(f.integer("context_length", 1, 10**9), MAX_POSITIONS),
        norm_eps=f.number("attention.layer_norm_rms_epsilon", 1e-6),
        rope=RopeSpec("half", theta, dims, rope_kind, inv),
        layer_windows=(None,) * n_layers,
        bos_id=tk.optional_id("bos_token_id"),
        eos_id=tk.optional_id("eos_token_id"),
        tied_embeddings="output.weight" not in g.tensors,
        attention_bias="blk.0.attn_q.bias" in g.tensors,
        output_bias="blk.0.attn_output.bias" in g.tensors,
        mlp_bias=False,
        name=g.path.stem,
    )
