"""One layer (or one head) of a real BERT model as an ordinary preset.

transformers stores a Linear layer as weight (out, in) and computes x W^T + b;
the preset format computes X @ W, so every matrix is transposed. Head h (from 1)
owns columns (h-1)*d_k .. h*d_k-1 of W_Q, W_K, W_V and the same rows of W_O,
exactly the column-block convention of DESIGN.md "Semantics".
"""

from __future__ import annotations

import operator
from pathlib import Path

import numpy as np

from ..preset import Options, Preset
from .blas import with_forward_blas_threads
from .errors import ModelError
from .layer_cache import bert_hidden_before
from .naming import one_line, shorten

NAME_TEXT_CHARS = 40
DESCRIPTION_TEXT_CHARS = 2000


def _whole(value: object, what: str) -> int:
    """A layer or head number as a Python int (numpy integers welcome, bools and floats not)."""
    if isinstance(value, bool):
        raise ModelError(f"{what} must be a whole number, got {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ModelError(f"{what} must be a whole number, got {value!r:.40}") from None


def _f64(a: np.ndarray) -> np.ndarray:
    """float32 -> float64 is exact: the preset holds the checkpoint's numbers unchanged.

    A fresh read-only array: Preset then keeps it as is instead of copying it again.
    """
    out = np.array(a, dtype=np.float64, order="C")
    if not np.all(np.isfinite(out)):
        raise ModelError("the checkpoint holds a non-finite number (NaN or infinity)")
    out.flags.writeable = False
    return out


@with_forward_blas_threads
def preset_from_model(
    model_dir: str | Path | None, layer: int, head: int | None, text: str
) -> Preset:
    """The inputs and attention weights of `layer` (and `head`, from 1) for `text`.

    `model_dir`: None or "minilm" (the bundled BERT example), "smollm2" (the
    bundled decoder), a BERT or decoder checkpoint folder, or a GGUF file.

    Without a head: the whole layer, all heads, all four biases; the preset's
    output is the layer's attention output projection (before residual and
    LayerNorm). With a head: that head's blocks and no output bias.
    """
    from . import load_checkpoint, resolve_model  # the cached readers live in the package

    if not isinstance(text, str):
        raise ModelError("text must be a string")
    layer = _whole(layer, "layer")
    head = None if head is None else _whole(head, "head")
    kind, path = resolve_model(model_dir)
    if kind == "decoder":
        from .decoder_preset import preset_from_decoder

        assert path is not None
        return preset_from_decoder(path, layer, head, text)
    ckpt = load_checkpoint(path)
    ckpt.check_layer(layer)
    if head is not None:
        ckpt.check_head(head)
    enc = ckpt.encode(text)
    h = bert_hidden_before(ckpt, enc, layer)  # (n, hidden) float32, kept for the next layer
    lw = ckpt.layer(layer)
    c = ckpt.config

    wq, wk, wv, wo = lw.wq.T, lw.wk.T, lw.wv.T, lw.wo.T  # X @ W orientation
    bq, bk, bv, bo = lw.bq, lw.bk, lw.bv, lw.bo
    if head is None:
        heads = c.n_heads
        b_out: np.ndarray | None = _f64(bo)
        which = f"all {c.n_heads} heads"
    else:
        cols = slice((head - 1) * c.head_dim, head * c.head_dim)
        wq, wk, wv, wo = wq[:, cols], wk[:, cols], wv[:, cols], wo[cols, :]
        bq, bk, bv = bq[cols], bk[cols], bv[cols]
        heads = 1
        b_out = None
        which = f"head {head} of {c.n_heads}"

    model = ckpt.display_name
    head_label = "all heads" if head is None else f"head {head}"
    name = f"{model} layer {layer} {head_label}: {one_line(text, NAME_TEXT_CHARS)!r}"
    part = (
        "The output is the layer's attention output projection (attention.output.dense), "
        "before the residual connection and LayerNorm."
        if head is None
        else "The output is this head's share of the attention output projection "
        "(the layer's output bias is left out: it belongs to all heads together)."
    )
    description = (
        f"Model: {model} ({c.n_layers} layers, {c.n_heads} heads of {c.head_dim}, "
        f"hidden {c.hidden}). Layer {layer} of {c.n_layers}, {which}. "
        f"Text: {shorten(text, DESCRIPTION_TEXT_CHARS)!r} ({len(enc.tokens)} word pieces). "
        f"Inputs are the hidden states entering layer {layer} "
        f"({'the embeddings after LayerNorm' if layer == 1 else f'after layer {layer - 1}'}); "
        f"weights are the checkpoint's, transposed for X @ W. {part}"
    )
    return Preset(
        inputs=_f64(h),
        w_query=_f64(wq),
        w_key=_f64(wk),
        w_value=_f64(wv),
        w_output=_f64(wo),
        b_query=_f64(bq),
        b_key=_f64(bk),
        b_value=_f64(bv),
        b_output=b_out,
        tokens=enc.tokens,
        name=name,
        description=description,
        options=Options(heads=heads),
    )
