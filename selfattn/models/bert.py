"""A BERT-family encoder in numpy float32: checkpoint folder, weights, forward pass.

The forward pass is transformers' `BertModel` (eager attention, no padding):

    h_0 = LayerNorm(word[ids] + position[0..n) + token_type[type_ids])
    for each layer l (numbered from 1):
        a   = concat_h softmax(Q_h K_h^T / sqrt(d_k)) V_h     Q = h W_Q^T + b_Q ...
        p   = a W_O^T + b_O                    attention.output.dense (the projection)
        h'  = LayerNorm(p + h)
        h   = LayerNorm(GELU(h' W_I^T + b_I) W_2^T + b_2 + h')    exact (erf) GELU

Weights stay in a memory map; each layer's are copied to float32 once, on first
use, and kept with the checkpoint in a per-folder cache.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError
from .safetensors_io import SafetensorsFile
from .tokenize import MAX_CONFIG_BYTES, Encoding, Tokenizer, load_tokenizer

# Pickle-based checkpoints: refused by name, never opened.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
BERT_MODEL_TYPES = ("bert",)
MAX_LAYERS = 1000
MAX_HIDDEN = 8192  # the preset format's MAX_WIDTH
MAX_POSITIONS = 16384  # the preset format's MAX_TOKENS
MAX_VOCAB = 10_000_000


@dataclass(frozen=True)
class BertConfig:
    """The parts of config.json the forward pass needs."""

    n_layers: int
    n_heads: int
    hidden: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    name: str

    @property
    def head_dim(self) -> int:
        return self.hidden // self.n_heads


@dataclass(frozen=True)
class LayerWeights:
    """One encoder layer's weights, float32, in torch's (out, in) orientation."""

    wq: np.ndarray
    bq: np.ndarray
    wk: np.ndarray
    bk: np.ndarray
    wv: np.ndarray
    bv: np.ndarray
    wo: np.ndarray  # attention.output.dense
    bo: np.ndarray
    ln1_w: np.ndarray
    ln1_b: np.ndarray
    wi: np.ndarray  # intermediate.dense
    bi: np.ndarray
    w2: np.ndarray  # output.dense
    b2: np.ndarray
    ln2_w: np.ndarray
    ln2_b: np.ndarray


@dataclass(frozen=True)
class LayerTrace:
    """What one layer did to a sentence (float32)."""

    inputs: np.ndarray  # (n, hidden) hidden states entering the layer
    weights: np.ndarray  # (heads, n, n) attention weights
    projection: np.ndarray  # (n, hidden) attention.output.dense output


# Exact GELU -----------------------------------------------------------------

# Cephes' rational approximations of erf/erfc (S. L. Moshier, public domain; the
# same ones scipy's ndtr uses), relative error ~1e-16 in float64.
_ERF_T = (
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
)
_ERF_U = (
    1.0,
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
)
_ERFC_P = (
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
)
_ERFC_Q = (
    1.0,
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
)
_ERFC_R = (
    5.64189583547755073984e-1,
    1.27536670759978104416e0,
    5.01905042251180477414e0,
    6.16021097993053585195e0,
    7.40974269950448939160e0,
    2.97886665372100240670e0,
)
_ERFC_S = (
    1.0,
    2.26052863220117276590e0,
    9.39603524938001434673e0,
    1.20489539808096656605e1,
    1.70814450747565897222e1,
    9.60896809063285878198e0,
    3.36907645100081516050e0,
)


def _poly(x: np.ndarray, coefs: tuple[float, ...]) -> np.ndarray:
    out = np.full_like(x, coefs[0])
    for c in coefs[1:]:
        out *= x
        out += c
    return out


def erf(x: np.ndarray) -> np.ndarray:
    """Error function, elementwise, float64 (numpy has none; the tanh GELU is too coarse)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    ax = np.abs(x)
    small = ax <= 1.0
    xs = x[small]
    z = xs * xs
    out[small] = xs * _poly(z, _ERF_T) / _poly(z, _ERF_U)
    big = ~small
    a = np.minimum(ax[big], 27.0)  # erfc underflows to 0 beyond ~26.6
    mid = a < 8.0
    erfc = np.empty_like(a)
    erfc[mid] = _poly(a[mid], _ERFC_P) / _poly(a[mid], _ERFC_Q)
    erfc[~mid] = _poly(a[~mid], _ERFC_R) / _poly(a[~mid], _ERFC_S)
    erfc *= np.exp(-a * a)
    out[big] = np.copysign(1.0 - erfc, x[big])
    return out


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)), returned in x's dtype."""
    x64 = np.asarray(x, dtype=np.float64)
    return (0.5 * x64 * (1.0 + erf(x64 * (1.0 / math.sqrt(2.0))))).astype(x.dtype, copy=False)


# Forward pass ---------------------------------------------------------------


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    normed: np.ndarray = centred / np.sqrt(var + np.float32(eps)) * w + b
    return normed


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    probs: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return probs


def self_attention(h: np.ndarray, lw: LayerWeights, n_heads: int) -> tuple[np.ndarray, np.ndarray]:
    """(weights (heads, n, n), projection (n, hidden)) of one layer's self-attention."""
    n, hidden = h.shape
    d = hidden // n_heads
    q = (h @ lw.wq.T + lw.bq).reshape(n, n_heads, d).transpose(1, 0, 2)  # (H, n, d)
    k = (h @ lw.wk.T + lw.bk).reshape(n, n_heads, d).transpose(1, 0, 2)
    v = (h @ lw.wv.T + lw.bv).reshape(n, n_heads, d).transpose(1, 0, 2)
    scores = q @ k.transpose(0, 2, 1) * np.float32(1.0 / math.sqrt(d))  # (H, n, n)
    weights = softmax(scores)
    context = (weights @ v).transpose(1, 0, 2).reshape(n, hidden)  # (n, H*d)
    return weights, context @ lw.wo.T + lw.bo


def encoder_layer(
    h: np.ndarray, lw: LayerWeights, n_heads: int, eps: float
) -> tuple[np.ndarray, LayerTrace]:
    """One BERT layer: returns the next hidden states and what attention did."""
    weights, proj = self_attention(h, lw, n_heads)
    h1 = layer_norm(proj + h, lw.ln1_w, lw.ln1_b, eps)
    ff = gelu(h1 @ lw.wi.T + lw.bi) @ lw.w2.T + lw.b2
    return layer_norm(ff + h1, lw.ln2_w, lw.ln2_b, eps), LayerTrace(h, weights, proj)


# The checkpoint --------------------------------------------------------------


def _read_config(folder: Path) -> tuple[dict[str, Any], BertConfig]:
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

    model_type = raw.get("model_type")
    archs = raw.get("architectures") or []
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise ModelError(f"{path}: architectures must be a list of names")
    bert_archs = all(a.startswith("Bert") for a in archs)
    # Old configs have no model_type: then the architecture names must say BERT.
    is_bert = (model_type in BERT_MODEL_TYPES and bert_archs) or (
        model_type is None and archs and bert_archs
    )
    if not is_bert:
        shown = model_type if model_type is not None else (archs or "unknown")
        raise ModelError(
            f"{path}: architecture {shown!r:.60} is not BERT-family "
            "(supported: model_type 'bert', and the decoders llama, mistral, qwen2, gpt2)"
        )
    pe = raw.get("position_embedding_type", "absolute")
    if pe != "absolute":
        raise ModelError(f"{path}: position_embedding_type {pe!r:.40} is not supported")
    act = raw.get("hidden_act", "gelu")
    if act != "gelu":
        raise ModelError(f"{path}: hidden_act {act!r:.40} is not supported (only exact 'gelu')")

    def integer(key: str, lo: int, hi: int, default: int | None = None) -> int:
        v = raw.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ModelError(f"{path}: {key} must be an integer in {lo}..{hi}, got {v!r:.40}")
        return v

    hidden = integer("hidden_size", 1, MAX_HIDDEN)
    n_heads = integer("num_attention_heads", 1, hidden)
    if hidden % n_heads:
        raise ModelError(
            f"{path}: hidden_size {hidden} is not divisible by num_attention_heads {n_heads}"
        )
    eps = raw.get("layer_norm_eps", 1e-12)
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 < eps < 1:
        raise ModelError(f"{path}: layer_norm_eps must be a small positive number")
    name = folder.name
    cfg = BertConfig(
        n_layers=integer("num_hidden_layers", 1, MAX_LAYERS),
        n_heads=n_heads,
        hidden=hidden,
        intermediate=integer("intermediate_size", 1, 16 * MAX_HIDDEN),
        vocab_size=integer("vocab_size", 1, MAX_VOCAB),
        max_positions=integer("max_position_embeddings", 1, MAX_POSITIONS),
        type_vocab_size=integer("type_vocab_size", 1, 1000, 2),
        layer_norm_eps=float(eps),
        name=name,
    )
    return raw, cfg


def _find_weights(folder: Path) -> Path:
    st = folder / "model.safetensors"
    if st.is_file():
        return st
    if (folder / "model.safetensors.index.json").is_file():
        raise ModelError(
            f"{folder}: sharded safetensors checkpoints are not supported (one model.safetensors)"
        )
    pickles = sorted(
        p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PICKLE_SUFFIXES
    )
    if pickles:
        raise ModelError(
            f"{folder / pickles[0]}: pickle checkpoints are never loaded (they can run code); "
            "convert it to model.safetensors, e.g. with transformers: "
            "AutoModel.from_pretrained(folder).save_pretrained(folder, safe_serialization=True)"
        )
    raise ModelError(f"{folder}: no model.safetensors (the weights are missing)")


class Checkpoint:
    """A validated BERT checkpoint folder: config, memory-mapped weights, tokenizer."""

    def __init__(self, folder: str | Path, tokenizer: str = "auto") -> None:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise ModelError(f"{folder}: not a folder")
        self.folder = folder
        self.raw_config, self.config = _read_config(folder)
        self.weights_path = _find_weights(folder)
        self.file = SafetensorsFile(self.weights_path)
        self.prefix = self._detect_prefix()
        self._check_shapes()
        self.tokenizer: Tokenizer = load_tokenizer(folder, tokenizer)
        self._layers: dict[int, LayerWeights] = {}
        self._embed: tuple[np.ndarray, ...] | None = None
        self._lock = threading.Lock()

    def _detect_prefix(self) -> str:
        for prefix in ("", "bert."):
            if f"{prefix}embeddings.word_embeddings.weight" in self.file.tensors:
                return prefix
        raise ModelError(
            f"{self.weights_path}: no embeddings.word_embeddings.weight tensor "
            "(not a BERT checkpoint)"
        )

    def _expected_shapes(self) -> dict[str, tuple[int, ...]]:
        c = self.config
        e = "embeddings."
        shapes: dict[str, tuple[int, ...]] = {
            e + "word_embeddings.weight": (c.vocab_size, c.hidden),
            e + "position_embeddings.weight": (c.max_positions, c.hidden),
            e + "token_type_embeddings.weight": (c.type_vocab_size, c.hidden),
            e + "LayerNorm.weight": (c.hidden,),
            e + "LayerNorm.bias": (c.hidden,),
        }
        for i in range(c.n_layers):
            p = f"encoder.layer.{i}."
            for part in ("attention.self.query", "attention.self.key", "attention.self.value"):
                shapes[p + part + ".weight"] = (c.hidden, c.hidden)
                shapes[p + part + ".bias"] = (c.hidden,)
            shapes[p + "attention.output.dense.weight"] = (c.hidden, c.hidden)
            shapes[p + "attention.output.dense.bias"] = (c.hidden,)
            shapes[p + "intermediate.dense.weight"] = (c.intermediate, c.hidden)
            shapes[p + "intermediate.dense.bias"] = (c.intermediate,)
            shapes[p + "output.dense.weight"] = (c.hidden, c.intermediate)
            shapes[p + "output.dense.bias"] = (c.hidden,)
            for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
                shapes[p + ln + ".weight"] = (c.hidden,)
                shapes[p + ln + ".bias"] = (c.hidden,)
        return shapes

    def _check_shapes(self) -> None:
        for name, shape in self._expected_shapes().items():
            full = self.prefix + name
            info = self.file.tensors.get(full)
            if info is None:
                # Older checkpoints name LayerNorm parameters gamma/beta.
                alt = full.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
                    "LayerNorm.bias", "LayerNorm.beta"
                )
                info = self.file.tensors.get(alt)
            if info is None:
                raise ModelError(f"{self.weights_path.name}: tensor {full!r} is missing")
            if info.shape != shape:
                raise ModelError(
                    f"{self.weights_path.name}: tensor {full!r} has shape {list(info.shape)}, "
                    f"but config.json implies {list(shape)}"
                )
            if info.dtype not in ("F16", "BF16", "F32", "F64"):
                raise ModelError(
                    f"{self.weights_path.name}: tensor {full!r} has dtype {info.dtype}, "
                    "expected a float"
                )

    def _tensor(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        full = self.prefix + name
        if full not in self.file.tensors:
            full = full.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
                "LayerNorm.bias", "LayerNorm.beta"
            )
        return self.file.float32(full, rows)

    # Public -----------------------------------------------------------------

    @property
    def display_name(self) -> str:
        from . import default_model_dir  # late import: the package imports this module

        default = default_model_dir()
        if default is not None and self.folder.resolve() == default.resolve():
            return "all-MiniLM-L6-v2"
        return self.folder.resolve().name or str(self.folder)

    def layer(self, number: int) -> LayerWeights:
        """Weights of layer `number` (from 1), copied to float32 once and cached."""
        self.check_layer(number)
        with self._lock:
            lw = self._layers.get(number)
            if lw is None:
                p = f"encoder.layer.{number - 1}."
                t = self._tensor
                lw = LayerWeights(
                    wq=t(p + "attention.self.query.weight"),
                    bq=t(p + "attention.self.query.bias"),
                    wk=t(p + "attention.self.key.weight"),
                    bk=t(p + "attention.self.key.bias"),
                    wv=t(p + "attention.self.value.weight"),
                    bv=t(p + "attention.self.value.bias"),
                    wo=t(p + "attention.output.dense.weight"),
                    bo=t(p + "attention.output.dense.bias"),
                    ln1_w=t(p + "attention.output.LayerNorm.weight"),
                    ln1_b=t(p + "attention.output.LayerNorm.bias"),
                    wi=t(p + "intermediate.dense.weight"),
                    bi=t(p + "intermediate.dense.bias"),
                    w2=t(p + "output.dense.weight"),
                    b2=t(p + "output.dense.bias"),
                    ln2_w=t(p + "output.LayerNorm.weight"),
                    ln2_b=t(p + "output.LayerNorm.bias"),
                )
                self._layers[number] = lw
            return lw

    def check_layer(self, number: int) -> None:
        n = self.config.n_layers
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= n:
            raise ModelError(f"layer {number} is out of range: this model has layers 1..{n}")

    def check_head(self, number: int) -> None:
        n = self.config.n_heads
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= n:
            raise ModelError(f"head {number} is out of range: this model has heads 1..{n}")

    def encode(self, text: str) -> Encoding:
        """Tokenize; refuse text with more pieces than the model has positions."""
        enc = self.tokenizer.encode(text)
        limit = self.config.max_positions
        if len(enc.ids) > limit:
            raise ModelError(
                f"text is {len(enc.ids)} tokens long with [CLS] and [SEP]; this model "
                f"takes at most {limit}"
            )
        bad = [i for i in enc.ids if not 0 <= i < self.config.vocab_size]
        if bad:
            raise ModelError(f"tokenizer gave id {bad[0]} outside the vocabulary")
        if any(not 0 <= t < self.config.type_vocab_size for t in enc.type_ids):
            raise ModelError("tokenizer gave a token type id outside the model's range")
        return enc

    def embed(self, enc: Encoding) -> np.ndarray:
        """Hidden states entering layer 1: embeddings summed and LayerNormed, (n, hidden)."""
        with self._lock:
            if self._embed is None:
                e = "embeddings."
                self._embed = (
                    self._tensor(e + "position_embeddings.weight"),
                    self._tensor(e + "token_type_embeddings.weight"),
                    self._tensor(e + "LayerNorm.weight"),
                    self._tensor(e + "LayerNorm.bias"),
                )
        pos, typ, ln_w, ln_b = self._embed
        n = len(enc.ids)
        word = self._tensor("embeddings.word_embeddings.weight", np.asarray(enc.ids, np.intp))
        x = word + pos[:n] + typ[np.asarray(enc.type_ids, np.intp)]
        return layer_norm(x, ln_w, ln_b, self.config.layer_norm_eps)

    def hidden_before(self, enc: Encoding, layer: int) -> np.ndarray:
        """The hidden states entering `layer` (after layer-1's output LayerNorm)."""
        self.check_layer(layer)
        h = self.embed(enc)
        c = self.config
        for number in range(1, layer):
            h, _ = encoder_layer(h, self.layer(number), c.n_heads, c.layer_norm_eps)
        return h

    def trace(self, enc: Encoding) -> list[LayerTrace]:
        """Every layer's inputs, attention weights and projection for one sentence."""
        h = self.embed(enc)
        c = self.config
        out = []
        for number in range(1, c.n_layers + 1):
            h, tr = encoder_layer(h, self.layer(number), c.n_heads, c.layer_norm_eps)
            out.append(tr)
        return out
