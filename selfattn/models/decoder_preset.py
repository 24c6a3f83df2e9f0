"""One layer (or one head) of a decoder as a preset (version 2: RoPE, kv_heads, window).

X is the normalised input of the layer's attention (RMSNorm or LayerNorm of the
residual stream, with its gain and bias): exactly what multiplies W_Q. Matrices
are the checkpoint's (after GGUF dequantization and llama.cpp's q/k permutation
undone), transposed for X @ W. Query head h reads key/value head
h // (heads / kv_heads); one head H gets its W_Q block, its key/value head's W_K
and W_V blocks and the W_O rows of head H.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..preset import Options, Preset, Rope
from .blas import with_forward_blas_threads
from .decoder import DecoderModel, load_decoder
from .discover import smollm2_path
from .errors import ModelError
from .layer_cache import decoder_hidden_before
from .naming import one_line, shorten

NAME_TEXT_CHARS = 40
DESCRIPTION_TEXT_CHARS = 2000


def _f64(a: np.ndarray) -> np.ndarray:
    """float32 -> float64 is exact: the preset holds the model's numbers unchanged."""
    out = np.array(a, dtype=np.float64, order="C")
    if not np.all(np.isfinite(out)):
        raise ModelError("the model holds a non-finite number (NaN or infinity)")
    out.flags.writeable = False
    return out


def _f64_or_none(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else _f64(a)


def display_name(model: DecoderModel) -> str:
    bundled = smollm2_path()
    if bundled is not None and model.path.resolve() == bundled.resolve():
        return "SmolLM2-135M-Instruct"
    if model.kind == "gguf":
        return model.path.stem
    return model.path.resolve().name or str(model.path)


def rope_option(model: DecoderModel) -> Rope | None:
    """The model's rotary embedding as the preset states it."""
    r = model.config.rope
    if r is None:
        return None
    dims = None if r.dims == model.config.head_dim else r.dims
    # Scaled frequencies cannot be written as theta alone: list them (float32 values, exact).
    inv = tuple(float(v) for v in r.inv_freq) if r.scaled else None
    return Rope(style=r.style, theta=r.theta, dims=dims, inv_freq=inv)


@with_forward_blas_threads
def preset_from_decoder(
    path: str | Path,
    layer: int,
    head: int | None,
    text: str,
    *,
    ids: Sequence[int] | None = None,
) -> Preset:
    """Layer `layer` (and head `head`, from 1) of the decoder at `path`, for `text`.

    `ids`: exactly these token ids instead of `text` tokenized (a generated
    continuation, whose text may tokenize differently); `text` then only names it.
    """
    model = load_decoder(path)
    model.check_layer(layer)
    if head is not None:
        model.check_head(head)
    c = model.config
    if ids is None:
        enc = model.encode(text)
        token_ids, tokens = enc.ids, enc.tokens
    else:
        token_ids = tuple(int(i) for i in ids)
        tokens = tuple(model.tokenizer.id_to_token(i) or f"<{i}>" for i in token_ids)
    x = model.attention_input(layer, decoder_hidden_before(model, token_ids, layer))
    lw = model.layer(layer)
    d = c.head_dim
    group = c.n_heads // c.n_kv_heads
    wq, wk, wv, wo = lw.wq.T, lw.wk.T, lw.wv.T, lw.wo.T  # X @ W orientation
    bq, bk, bv, bo = lw.bq, lw.bk, lw.bv, lw.bo
    if head is None:
        heads, kv_heads = c.n_heads, c.n_kv_heads
        which = f"all {c.n_heads} heads"
        if c.n_kv_heads != c.n_heads:
            which += f" sharing {c.n_kv_heads} key/value heads"
    else:
        kv = (head - 1) // group
        q_cols, kv_cols = slice((head - 1) * d, head * d), slice(kv * d, (kv + 1) * d)
        wq, wk, wv, wo = wq[:, q_cols], wk[:, kv_cols], wv[:, kv_cols], wo[q_cols, :]
        bq = None if bq is None else bq[q_cols]
        bk = None if bk is None else bk[kv_cols]
        bv = None if bv is None else bv[kv_cols]
        bo = None  # the output bias belongs to all heads together
        heads, kv_heads = 1, 1
        which = f"head {head} of {c.n_heads}"
        if c.n_kv_heads != c.n_heads:
            which += f" (it reads key/value head {kv + 1} of {c.n_kv_heads})"

    window = c.layer_windows[layer - 1]
    options = Options(
        heads=heads,
        causal=True,
        kv_heads=kv_heads if kv_heads != heads else None,
        window=window,
        rope=rope_option(model),
    )
    name_model = display_name(model)
    head_label = "all heads" if head is None else f"head {head}"
    name = f"{name_model} layer {layer} {head_label}: {one_line(text, NAME_TEXT_CHARS)!r}"
    description = _description(model, name_model, layer, head, which, text, len(token_ids))
    return Preset(
        inputs=_f64(x),
        w_query=_f64(wq),
        w_key=_f64(wk),
        w_value=_f64(wv),
        w_output=_f64(wo),
        b_query=_f64_or_none(bq),
        b_key=_f64_or_none(bk),
        b_value=_f64_or_none(bv),
        b_output=_f64_or_none(bo),
        tokens=tokens,
        name=name,
        description=description,
        options=options,
    )


def _description(
    model: DecoderModel, name: str, layer: int, head: int | None, which: str, text: str, n: int
) -> str:
    c = model.config
    shape = (
        f"{c.model_type}, {c.n_layers} layers x {c.n_heads} heads of {c.head_dim}"
        + (f" ({c.n_kv_heads} key/value heads)" if c.n_kv_heads != c.n_heads else "")
        + f", hidden {c.hidden}"
    )
    if c.rope is not None:
        rope = f"RoPE theta {c.rope.theta:g} on {c.rope.dims} dims, 'half' pairs"
        if c.rope.scaled:
            rope += f", {c.rope.scaling} scaling folded into inv_freq"
        position = f"{rope}; "
    else:
        position = "learned position embeddings (added before layer 1); "
    window = c.layer_windows[layer - 1]
    norm = "LayerNorm" if c.gpt2 else "RMSNorm"
    part = (
        "The output is the layer's attention output projection ("
        + ("c_proj" if c.gpt2 else "o_proj")
        + "), before the residual connection."
        if head is None
        else "The output is this head's share of the attention output projection"
        + (" (the output bias is left out: it belongs to all heads together)." if c.gpt2 else ".")
    )
    return (
        f"Model: {name} ({shape}). Layer {layer} of {c.n_layers}, {which}. "
        f"Text: {shorten(text, DESCRIPTION_TEXT_CHARS)!r} ({n} tokens). "
        f"Inputs are the {norm} of the hidden states entering layer {layer}: what "
        f"multiplies W_Q. Causal; {position}"
        + (f"sliding window of {window} tokens; " if window is not None else "")
        + f"weights are the model's, transposed for X @ W. {part}"
    )
