"""A decoder-only transformer (Llama, Mistral, Qwen2, GPT-2) run in numpy float32.

The forward pass is `transformers`' eager one. For llama, mistral and qwen2:

    h_0 = embed[ids]
    per layer:  x = RMSNorm(h) * g          (x is what multiplies W_Q: the preset's X)
                q, k, v = x W_Q^T (+b), x W_K^T (+b), x W_V^T (+b)
                q, k rotated by RoPE ("half" pairs) at their positions
                A = softmax(q k^T / sqrt(d) + causal/window mask), query head h
                    reading key/value head h // (heads / kv_heads)
                p = concat_h(A_h v) W_O^T                (o_proj: the layer's projection)
                h = h + p;   h = h + W_down (silu(W_gate n) * W_up n),  n = RMSNorm(h)
    logits = RMSNorm(h) E^T     (E = embeddings when tied, else lm_head)

GPT-2: h_0 = wte[ids] + wpe[positions]; LayerNorm instead of RMSNorm; no RoPE;
every Linear has a bias; MLP = c_proj(gelu_tanh(c_fc(n))).

A model is opened once per path (see `load_decoder`); its layers' weights are
read (or dequantized from GGUF) on first use and kept.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .blas import with_forward_blas_threads
from .decoder_config import DecoderConfig, config_from_gguf, config_from_json, read_json_config
from .decoder_tokenizer import DecoderTokenizer, tokenizer_from_gguf
from .decoder_weights import DecoderLayer, GGUFSource, Layout, SafetensorsSource
from .errors import ModelError
from .gguf_file import GGUFFile
from .tokenize import Encoding

_MASKED = np.float32(np.finfo(np.float32).min)


# Building blocks -----------------------------------------------------------------


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    var = np.mean(x * x, axis=-1, keepdims=True)
    out: np.ndarray = (w * (x / np.sqrt(var + np.float32(eps)))).astype(np.float32)
    return out


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    out: np.ndarray = centred / np.sqrt(var + np.float32(eps)) * w
    if b is not None:
        out = out + b
    return out.astype(np.float32)


def silu(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        out: np.ndarray = (x / (np.float32(1.0) + np.exp(-x))).astype(np.float32)
    return out


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    c = np.float32(math.sqrt(2.0 / math.pi))
    inner = c * (x + np.float32(0.044715) * x**3)
    out: np.ndarray = (np.float32(0.5) * x * (1 + np.tanh(inner))).astype(np.float32)
    return out


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return out


def rope_half(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotate pairs (x_i, x_{i+r/2}) of the first r = 2*cos.shape[-1] columns (float32)."""
    half = cos.shape[-1]
    r = 2 * half
    a, b = x[..., :half], x[..., half:r]
    out = x.copy()
    out[..., :half] = a * cos - b * sin
    out[..., half:r] = b * cos + a * sin
    return out


def _linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    y: np.ndarray = x @ w.T
    return y if b is None else y + b


# The model -----------------------------------------------------------------------


@dataclass
class KVCache:
    """Rotated keys and values of every layer for the tokens processed so far."""

    keys: list[np.ndarray] = field(default_factory=list)  # per layer (kv_heads, n, d)
    values: list[np.ndarray] = field(default_factory=list)
    length: int = 0


@dataclass(frozen=True)
class ForwardResult:
    """What one forward call produced (float32), for the new tokens only."""

    hidden: np.ndarray  # (n, hidden): entering layer `upto_layer`, else after the final norm
    attentions: tuple[np.ndarray, ...] | None  # per layer run: (heads, n, positions so far)
    projections: tuple[np.ndarray, ...] | None  # per layer run: o_proj / c_proj output (n, hidden)
    logits: np.ndarray | None  # (n, vocab) when run through every layer
    positions: np.ndarray  # (n,) int positions of the new tokens


class DecoderModel:
    """One decoder checkpoint: `config`, `tokenizer`, cached weights, `forward`."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path).expanduser()
        self.path = path
        if path.is_file() and path.suffix.lower() == ".gguf" or _is_gguf(path):
            self.gguf: GGUFFile | None = GGUFFile(path)
            self.config: DecoderConfig = config_from_gguf(self.gguf)
            self.layout = Layout(self.config, GGUFSource(self.gguf), "gguf")
            self.layout.check()
            for name in self.gguf.tensors:
                self.gguf.check_dequantizable(name)
            self.tokenizer: DecoderTokenizer = tokenizer_from_gguf(self.gguf)
            self.kind = "gguf"
        elif path.is_dir():
            self.gguf = None
            raw = read_json_config(path)
            self.config = config_from_json(path, raw)
            source = SafetensorsSource(path)
            kind = "gpt2" if self.config.gpt2 else "hf"
            self.layout = Layout(self.config, source, kind)
            self.layout.check()
            tok_path = path / "tokenizer.json"
            if not tok_path.is_file():
                raise ModelError(f"{path}: no tokenizer.json")
            self.tokenizer = DecoderTokenizer.from_file(tok_path)
            self.kind = "folder"
        else:
            raise ModelError(f"{path}: not a model folder or a .gguf file")
        self.display_name = self.config.name
        self._layers: dict[int, DecoderLayer] = {}
        self._top: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    # Weights ------------------------------------------------------------------

    def layer(self, number: int) -> DecoderLayer:
        """Weights of layer `number` (from 1), read or dequantized once and cached."""
        self.check_layer(number)
        with self._lock:
            lw = self._layers.get(number)
            if lw is None:
                lw = self.layout.load_layer(number - 1)
                self._layers[number] = lw
            return lw

    def top(self, role: str) -> np.ndarray:
        """embed, pos (GPT-2), norm_w, norm_b (GPT-2), head (untied) — cached."""
        with self._lock:
            a = self._top.get(role)
            if a is None:
                a = self.layout.load(role)
                self._top[role] = a
            return a

    def load_all(self) -> None:
        """Read (dequantize) every tensor now: what a benchmark of 'open' measures."""
        for role in self.layout.names():
            self.top(role)
        for number in range(1, self.config.n_layers + 1):
            self.layer(number)

    # Checks ---------------------------------------------------------------------

    def check_layer(self, number: int) -> None:
        n = self.config.n_layers
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= n:
            raise ModelError(f"layer {number} is out of range: this model has layers 1..{n}")

    def check_head(self, number: int) -> None:
        n = self.config.n_heads
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= n:
            raise ModelError(f"head {number} is out of range: this model has heads 1..{n}")

    def encode(self, text: str) -> Encoding:
        """Tokenize with the model's default special tokens; refuse too many tokens."""
        enc = self.tokenizer.encode(text)
        limit = self.config.max_positions
        if len(enc.ids) > limit:
            raise ModelError(
                f"text is {len(enc.ids)} tokens long; this model takes at most {limit}"
            )
        if not enc.ids:
            raise ModelError("the text gives no tokens (write at least one character)")
        bad = [i for i in enc.ids if not 0 <= i < self.config.vocab_size]
        if bad:
            raise ModelError(f"tokenizer gave id {bad[0]} outside the vocabulary")
        return enc

    # Forward pass ----------------------------------------------------------------

    def embed(self, ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
        h: np.ndarray = self.top("embed")[ids].astype(np.float32)
        if self.config.gpt2:
            h = h + self.top("pos")[positions]
        return h

    def attention_input(self, number: int, h: np.ndarray) -> np.ndarray:
        """The normalised input of layer `number`'s attention: what multiplies W_Q."""
        lw = self.layer(number)
        if self.config.gpt2:
            return layer_norm(h, lw.attn_norm_w, lw.attn_norm_b, self.config.norm_eps)
        return rms_norm(h, lw.attn_norm_w, self.config.norm_eps)

    def _rope(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        rope = self.config.rope
        if rope is None:
            return None
        # float32 angles as transformers: inv_freq (float32) times position (float32).
        angles = positions.astype(np.float32)[:, None] * rope.inv_freq[None, :]
        return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)

    def attention(
        self,
        number: int,
        x: np.ndarray,
        positions: np.ndarray,
        cache: KVCache | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(weights (heads, n, m), projection (n, hidden)) of layer `number` on normalised x."""
        c = self.config
        lw = self.layer(number)
        n, d = x.shape[0], c.head_dim
        q = _linear(x, lw.wq, lw.bq).reshape(n, c.n_heads, d).transpose(1, 0, 2)
        k = _linear(x, lw.wk, lw.bk).reshape(n, c.n_kv_heads, d).transpose(1, 0, 2)
        v = _linear(x, lw.wv, lw.bv).reshape(n, c.n_kv_heads, d).transpose(1, 0, 2)
        trig = self._rope(positions)
        if trig is not None:
            q, k = rope_half(q, *trig), rope_half(k, *trig)
        key_positions = positions
        if cache is not None:
            if len(cache.keys) >= number:
                k = np.concatenate([cache.keys[number - 1], k], axis=1)
                v = np.concatenate([cache.values[number - 1], v], axis=1)
                cache.keys[number - 1], cache.values[number - 1] = k, v
            else:
                cache.keys.append(k)
                cache.values.append(v)
            key_positions = np.arange(k.shape[1])
        group = c.n_heads // c.n_kv_heads
        m = k.shape[1]
        qg = q.reshape(c.n_kv_heads, group, n, d)
        scores = (qg @ k[:, None].transpose(0, 1, 3, 2)).reshape(c.n_heads, n, m)
        scores = scores * np.float32(1.0 / math.sqrt(d))
        visible = key_positions[None, :] <= positions[:, None]
        window = c.layer_windows[number - 1]
        if window is not None:
            visible &= positions[:, None] - window < key_positions[None, :]
        scores = np.where(visible[None], scores, _MASKED)
        weights = softmax(scores).astype(np.float32)
        vg = v[:, None]  # (kv, 1, m, d)
        context = (weights.reshape(c.n_kv_heads, group, n, m) @ vg).reshape(c.n_heads, n, d)
        context = context.transpose(1, 0, 2).reshape(n, c.n_heads * d)
        return weights, _linear(context, lw.wo, lw.bo).astype(np.float32)

    def mlp(self, number: int, h: np.ndarray) -> np.ndarray:
        c = self.config
        lw = self.layer(number)
        if c.gpt2:
            n = layer_norm(h, lw.mlp_norm_w, lw.mlp_norm_b, c.norm_eps)
            return _linear(gelu_tanh(_linear(n, lw.w_up, lw.b_up)), lw.w_down, lw.b_down)
        n = rms_norm(h, lw.mlp_norm_w, c.norm_eps)
        assert lw.w_gate is not None
        gated = silu(_linear(n, lw.w_gate, None)) * _linear(n, lw.w_up, lw.b_up)
        return _linear(gated, lw.w_down, lw.b_down)

    def run_layer(
        self, number: int, h: np.ndarray, positions: np.ndarray, cache: KVCache | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Layer `number` on the residual stream h: (h after it, weights, projection)."""
        x = self.attention_input(number, h)
        w, p = self.attention(number, x, positions, cache)
        h = (h + p).astype(np.float32)
        h = (h + self.mlp(number, h)).astype(np.float32)
        return h, w, p

    @with_forward_blas_threads
    def forward(
        self,
        ids: np.ndarray | list[int] | tuple[int, ...],
        *,
        upto_layer: int | None = None,
        keep_attentions: bool = False,
        keep_projections: bool = False,
        cache: KVCache | None = None,
        logits: str = "all",
        on_layer: Callable[[int, int], None] | None = None,
    ) -> ForwardResult:
        """Run the new tokens `ids` through the model.

        upto_layer=L stops at the input of layer L (hidden = the residual stream
        entering it; no logits). With a `cache` (only when running every layer)
        the tokens continue after the cached ones and the cache is extended.
        `logits`: "all", "last" (only the last position's row) or "none".
        `on_layer(done, total)` runs after each layer (a caller stops the pass by raising).
        """
        c = self.config
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size == 0:
            raise ModelError("no tokens to run")
        if np.any(ids < 0) or np.any(ids >= c.vocab_size):
            raise ModelError("a token id is outside the vocabulary")
        if upto_layer is not None:
            self.check_layer(upto_layer)
            if cache is not None:
                raise ModelError("a key/value cache needs the full pass (no upto_layer)")
        start = 0 if cache is None else cache.length
        positions = np.arange(start, start + ids.size)
        if positions[-1] >= c.max_positions:
            raise ModelError(
                f"{positions[-1] + 1} tokens; this model takes at most {c.max_positions}"
            )
        last = c.n_layers if upto_layer is None else upto_layer - 1
        h = self.embed(ids, positions)
        attns: list[np.ndarray] = []
        projs: list[np.ndarray] = []
        for number in range(1, last + 1):
            h, w, p = self.run_layer(number, h, positions, cache)
            if keep_attentions:
                attns.append(w)
            if keep_projections:
                projs.append(p)
            if on_layer is not None:
                on_layer(number, last)
        if cache is not None:
            cache.length = start + ids.size
        out_logits = None
        if upto_layer is None:
            if c.gpt2:
                h = layer_norm(h, self.top("norm_w"), self.top("norm_b"), c.norm_eps)
            else:
                h = rms_norm(h, self.top("norm_w"), c.norm_eps)
            if logits != "none":
                head = self.top("head") if "head" in self.layout.names() else self.top("embed")
                rows = h[-1:] if logits == "last" else h
                out_logits = (rows @ head.T).astype(np.float32)
        return ForwardResult(
            hidden=h,
            attentions=tuple(attns) if keep_attentions else None,
            projections=tuple(projs) if keep_projections else None,
            logits=out_logits,
            positions=positions,
        )


def _is_gguf(path: Path) -> bool:
    """A file starting with the GGUF magic (Ollama's blobs have no suffix)."""
    try:
        with path.open("rb") as fh:
            return path.is_file() and fh.read(4) == b"GGUF"
    except OSError:
        return False


def is_decoder_path(path: Path) -> bool:
    """Whether `path` is a GGUF file or a folder whose config.json names a decoder type."""
    if path.is_file():
        return _is_gguf(path) or path.suffix.lower() == ".gguf"
    try:
        raw = read_json_config(path)
    except ModelError:
        return False
    return raw.get("model_type") in ("llama", "mistral", "qwen2", "gpt2")


_cache: dict[Path, tuple[tuple[int, ...], DecoderModel]] = {}
_cache_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, ...]:
    files = [path] if path.is_file() else [path / n for n in ("config.json", "tokenizer.json")]
    if path.is_dir():
        files += sorted(path.glob("*.safetensors")) + [path / "model.safetensors.index.json"]
    out: list[int] = []
    for f in files:
        try:
            st = f.stat()
            out += [st.st_size, st.st_mtime_ns]
        except OSError:
            out += [-1, -1]
    return tuple(out)


def load_decoder(path: str | Path) -> DecoderModel:
    """The opened decoder at `path` (folder or GGUF file), cached per path and file stamps."""
    p = Path(path).expanduser()
    key = p.resolve()
    stamp = _stamp(key)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    model = DecoderModel(p)
    with _cache_lock:
        _cache[key] = (stamp, model)
    return model


def clear_decoder_cache() -> None:
    with _cache_lock:
        _cache.clear()
