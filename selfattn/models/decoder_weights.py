"""A decoder's tensors, by role, from safetensors (one file or shards) or a GGUF file.

Every matrix is float32 in torch's Linear orientation (out, in): y = x W^T + b.
GPT-2 stores Conv1D weights as (in, out); they are transposed here, and its
fused c_attn is split into q, k, v. llama.cpp's converter permutes the rows of
a llama model's q and k weights (per head, into the interleaved RoPE pair
layout); they are permuted back, as `transformers` does when it loads a GGUF, so
every model here uses the "half" layout and the numbers equal `transformers`'.

All names and shapes are checked against the config when the model is opened
(headers only); tensors are read or dequantized when first used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .decoder_config import DecoderConfig
from .errors import ModelError
from .gguf_file import GGUFFile
from .safetensors_io import FLOAT_DTYPES, SafetensorsFile
from .tokenize import MAX_CONFIG_BYTES

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


@dataclass(frozen=True)
class DecoderLayer:
    """One block's weights (float32, (out, in)); absent biases and gate are None."""

    attn_norm_w: np.ndarray
    attn_norm_b: np.ndarray | None
    wq: np.ndarray
    wk: np.ndarray
    wv: np.ndarray
    wo: np.ndarray
    bq: np.ndarray | None
    bk: np.ndarray | None
    bv: np.ndarray | None
    bo: np.ndarray | None
    mlp_norm_w: np.ndarray
    mlp_norm_b: np.ndarray | None
    w_gate: np.ndarray | None  # SwiGLU gate (None for GPT-2)
    w_up: np.ndarray
    b_up: np.ndarray | None
    w_down: np.ndarray
    b_down: np.ndarray | None


class TensorSource(Protocol):
    label: str

    def shape(self, name: str) -> tuple[int, ...] | None: ...

    def load(self, name: str) -> np.ndarray: ...


class SafetensorsSource:
    """One model.safetensors, or the shards an index names, as one name space."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        single = folder / "model.safetensors"
        index = folder / "model.safetensors.index.json"
        self.files: dict[str, SafetensorsFile] = {}
        if single.is_file():
            f = SafetensorsFile(single)
            self.files = dict.fromkeys(f.tensors, f)
            self.label = single.name
        elif index.is_file():
            self.label = index.name
            for name, shard in _read_index(index).items():
                self.files[name] = shard
        else:
            _refuse_pickles(folder)
            raise ModelError(
                f"{folder}: no model.safetensors or model.safetensors.index.json "
                "(the weights are missing)"
            )

    def shape(self, name: str) -> tuple[int, ...] | None:
        f = self.files.get(name)
        return None if f is None else f.tensors[name].shape

    def load(self, name: str) -> np.ndarray:
        f = self.files[name]
        if f.tensors[name].dtype not in FLOAT_DTYPES:
            raise ModelError(f"{f.path.name}: tensor {name!r} is not a float tensor")
        return f.float32(name)


def _read_index(index: Path) -> dict[str, SafetensorsFile]:
    try:
        if index.stat().st_size > MAX_CONFIG_BYTES:
            raise ModelError(f"{index}: larger than {MAX_CONFIG_BYTES // 2**20} MiB")
        raw = json.loads(index.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"{index}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelError(f"{index}: not valid JSON") from None
    wmap = raw.get("weight_map") if isinstance(raw, dict) else None
    if not isinstance(wmap, dict) or not wmap:
        raise ModelError(f"{index}: no weight_map object")
    shards: dict[str, SafetensorsFile] = {}
    out: dict[str, SafetensorsFile] = {}
    for name, shard in wmap.items():
        if (
            not isinstance(shard, str)
            or Path(shard).name != shard
            or not shard.endswith(".safetensors")
        ):
            raise ModelError(f"{index}: weight_map entry {name!r:.60} names {shard!r:.60}")
        if shard not in shards:
            path = index.parent / shard
            if not path.is_file():
                raise ModelError(f"{index}: shard {shard} is missing")
            shards[shard] = SafetensorsFile(path)
        if name not in shards[shard].tensors:
            raise ModelError(f"{index}: tensor {name!r:.60} is not in {shard}")
        out[name] = shards[shard]
    return out


def _refuse_pickles(folder: Path) -> None:
    pickles = sorted(
        p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PICKLE_SUFFIXES
    )
    if pickles:
        raise ModelError(
            f"{folder / pickles[0]}: pickle checkpoints are never loaded (they can run code); "
            "convert it to safetensors, e.g. with transformers: "
            "AutoModelForCausalLM.from_pretrained(folder).save_pretrained(folder)"
        )


class GGUFSource:
    def __init__(self, g: GGUFFile) -> None:
        self.g = g
        self.label = g.path.name

    def shape(self, name: str) -> tuple[int, ...] | None:
        t = self.g.tensors.get(name)
        return None if t is None else t.shape

    def load(self, name: str) -> np.ndarray:
        return self.g.dequantize(name)


# Names and shapes -------------------------------------------------------------


class Layout:
    """Where a model family keeps each tensor, and the shape each must have."""

    def __init__(self, c: DecoderConfig, source: TensorSource, kind: str) -> None:
        self.c = c
        self.source = source
        self.kind = kind  # "hf", "gpt2" or "gguf"
        self.prefix = self._prefix()

    def _prefix(self) -> str:
        first = {"hf": "embed_tokens.weight", "gpt2": "wte.weight", "gguf": "token_embd.weight"}
        options = {"hf": ("model.", ""), "gpt2": ("transformer.", ""), "gguf": ("",)}[self.kind]
        for p in options:
            if self.source.shape(p + first[self.kind]) is not None:
                return p
        raise ModelError(
            f"{self.source.label}: no {first[self.kind]} tensor (not a {self.c.model_type} "
            "checkpoint?)"
        )

    def names(self) -> dict[str, str]:
        """role -> tensor name for the embeddings, final norm and LM head."""
        p = self.prefix
        if self.kind == "gguf":
            out = {"embed": "token_embd.weight", "norm_w": "output_norm.weight"}
            if not self.c.tied_embeddings:
                out["head"] = "output.weight"
            return out
        if self.kind == "gpt2":
            out = {"embed": p + "wte.weight", "pos": p + "wpe.weight"}
            out |= {"norm_w": p + "ln_f.weight", "norm_b": p + "ln_f.bias"}
        else:
            out = {"embed": p + "embed_tokens.weight", "norm_w": p + "norm.weight"}
        if self.source.shape("lm_head.weight") is not None:
            out["head"] = "lm_head.weight"
        elif not self.c.tied_embeddings:
            raise ModelError(f"{self.source.label}: tensor 'lm_head.weight' is missing")
        return out

    def layer_names(self, i: int) -> dict[str, str]:
        """role -> tensor name in block i (from 0)."""
        c = self.c
        if self.kind == "gpt2":
            b = f"{self.prefix}h.{i}."
            return {
                "attn_norm_w": b + "ln_1.weight",
                "attn_norm_b": b + "ln_1.bias",
                "qkv": b + "attn.c_attn.weight",
                "qkv_b": b + "attn.c_attn.bias",
                "wo": b + "attn.c_proj.weight",
                "bo": b + "attn.c_proj.bias",
                "mlp_norm_w": b + "ln_2.weight",
                "mlp_norm_b": b + "ln_2.bias",
                "w_up": b + "mlp.c_fc.weight",
                "b_up": b + "mlp.c_fc.bias",
                "w_down": b + "mlp.c_proj.weight",
                "b_down": b + "mlp.c_proj.bias",
            }
        if self.kind == "gguf":
            b = f"blk.{i}."
            names = {
                "attn_norm_w": b + "attn_norm.weight",
                "wq": b + "attn_q.weight",
                "wk": b + "attn_k.weight",
                "wv": b + "attn_v.weight",
                "wo": b + "attn_output.weight",
                "mlp_norm_w": b + "ffn_norm.weight",
                "w_gate": b + "ffn_gate.weight",
                "w_up": b + "ffn_up.weight",
                "w_down": b + "ffn_down.weight",
            }
            bias = {"bq": "attn_q.bias", "bk": "attn_k.bias", "bv": "attn_v.bias"}
            out_bias = {"bo": "attn_output.bias"}
        else:
            b = f"{self.prefix}layers.{i}."
            names = {
                "attn_norm_w": b + "input_layernorm.weight",
                "wq": b + "self_attn.q_proj.weight",
                "wk": b + "self_attn.k_proj.weight",
                "wv": b + "self_attn.v_proj.weight",
                "wo": b + "self_attn.o_proj.weight",
                "mlp_norm_w": b + "post_attention_layernorm.weight",
                "w_gate": b + "mlp.gate_proj.weight",
                "w_up": b + "mlp.up_proj.weight",
                "w_down": b + "mlp.down_proj.weight",
            }
            bias = {
                "bq": "self_attn.q_proj.bias",
                "bk": "self_attn.k_proj.bias",
                "bv": "self_attn.v_proj.bias",
            }
            out_bias = {"bo": "self_attn.o_proj.bias"}
            if c.mlp_bias:
                names |= {
                    "b_gate": b + "mlp.gate_proj.bias",
                    "b_up": b + "mlp.up_proj.bias",
                    "b_down": b + "mlp.down_proj.bias",
                }
        if c.attention_bias:
            names |= {k: b + v for k, v in bias.items()}
        if c.output_bias:
            names |= {k: b + v for k, v in out_bias.items()}
        return names

    def expected(self) -> dict[str, tuple[int, ...]]:
        """Every tensor name -> the shape the config implies (stored orientation)."""
        c = self.c
        q, kv, h, f = c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim, c.hidden, c.intermediate
        top = self.names()
        shapes = {top["embed"]: (c.vocab_size, h), top["norm_w"]: (h,)}
        if "pos" in top:
            shapes[top["pos"]] = (c.max_positions, h)
            shapes[top["norm_b"]] = (h,)
        if "head" in top:
            shapes[top["head"]] = (c.vocab_size, h)
        for i in range(c.n_layers):
            names = self.layer_names(i)
            if self.kind == "gpt2":
                role_shapes = {
                    "qkv": (h, 3 * h),
                    "qkv_b": (3 * h,),
                    "wo": (h, h),
                    "bo": (h,),
                    "w_up": (h, f),
                    "b_up": (f,),
                    "w_down": (f, h),
                    "b_down": (h,),
                }
            else:
                role_shapes = {
                    "wq": (q, h),
                    "wk": (kv, h),
                    "wv": (kv, h),
                    "wo": (h, q),
                    "bq": (q,),
                    "bk": (kv,),
                    "bv": (kv,),
                    "bo": (h,),
                    "w_gate": (f, h),
                    "w_up": (f, h),
                    "w_down": (h, f),
                    "b_gate": (f,),
                    "b_up": (f,),
                    "b_down": (h,),
                }
            for role, name in names.items():
                shapes[name] = role_shapes.get(role, (h,))
        return shapes

    def check(self) -> None:
        for name, shape in self.expected().items():
            got = self.source.shape(name)
            if got is None:
                raise ModelError(f"{self.source.label}: tensor {name!r} is missing")
            if tuple(got) != shape:
                raise ModelError(
                    f"{self.source.label}: tensor {name!r} has shape {list(got)}, but the "
                    f"config implies {list(shape)}"
                )

    # Loading -----------------------------------------------------------------

    def load_layer(self, i: int) -> DecoderLayer:
        c = self.c
        names = self.layer_names(i)
        t = {
            role: _finite(self.source.label, name, self.source.load(name))
            for role, name in names.items()
        }
        if self.kind == "gpt2":
            h = c.hidden
            qkv, qkv_b = t["qkv"].T, t["qkv_b"]  # Conv1D (in, 3h) -> (3h, in)
            return DecoderLayer(
                attn_norm_w=t["attn_norm_w"],
                attn_norm_b=t["attn_norm_b"],
                wq=np.ascontiguousarray(qkv[:h]),
                wk=np.ascontiguousarray(qkv[h : 2 * h]),
                wv=np.ascontiguousarray(qkv[2 * h :]),
                wo=np.ascontiguousarray(t["wo"].T),
                bq=qkv_b[:h].copy(),
                bk=qkv_b[h : 2 * h].copy(),
                bv=qkv_b[2 * h :].copy(),
                bo=t["bo"],
                mlp_norm_w=t["mlp_norm_w"],
                mlp_norm_b=t["mlp_norm_b"],
                w_gate=None,
                w_up=np.ascontiguousarray(t["w_up"].T),
                b_up=t["b_up"],
                w_down=np.ascontiguousarray(t["w_down"].T),
                b_down=t["b_down"],
            )
        wq, wk = t["wq"], t["wk"]
        bq, bk = t.get("bq"), t.get("bk")
        if self.kind == "gguf" and c.model_type == "llama":
            wq, wk = unpermute(wq, c.n_heads), unpermute(wk, c.n_kv_heads)
            bq = None if bq is None else unpermute(bq, c.n_heads)
            bk = None if bk is None else unpermute(bk, c.n_kv_heads)
        return DecoderLayer(
            attn_norm_w=t["attn_norm_w"],
            attn_norm_b=None,
            wq=wq,
            wk=wk,
            wv=t["wv"],
            wo=t["wo"],
            bq=bq,
            bk=bk,
            bv=t.get("bv"),
            bo=t.get("bo"),
            mlp_norm_w=t["mlp_norm_w"],
            mlp_norm_b=None,
            w_gate=t["w_gate"],
            w_up=t["w_up"],
            b_up=t.get("b_up"),
            w_down=t["w_down"],
            b_down=t.get("b_down"),
        )

    def load(self, role: str) -> np.ndarray:
        name = self.names()[role]
        return _finite(self.source.label, name, self.source.load(name))


def _finite(label: str, name: str, a: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(a)):
        raise ModelError(f"{label}: tensor {name!r} holds a non-finite number (NaN or infinity)")
    return a


def unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's q/k row permutation (interleaved RoPE pairs -> "half" pairs).

    llama.cpp writes rows of each head in the order (0, d/2, 1, d/2+1, ...);
    this puts them back to (0, 1, ..., d-1) as in the Hugging Face checkpoint.
    """
    rows = w.shape[0]
    half = rows // n_head // 2
    out = w.reshape(n_head, half, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
    return np.ascontiguousarray(out)
