"""Finding models on disk: fake Hugging Face, LM Studio and Ollama folders in tmp_path."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from selfattn.models import discover
from selfattn.models.discover import FoundModel, discover_models, gguf_architecture

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "decoders"


def gguf_bytes(arch: str) -> bytes:
    """A GGUF header whose first metadata entry is general.architecture (as llama.cpp writes)."""

    def string(s: str) -> bytes:
        b = s.encode()
        return struct.pack("<Q", len(b)) + b

    kv = string("general.architecture") + struct.pack("<I", 8) + string(arch)
    kv += string("general.alignment") + struct.pack("<I", 4) + struct.pack("<I", 32)
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 2) + kv


@pytest.fixture
def no_bundled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discover, "bundled_models", lambda: [])


def hf_snapshot(hub: Path, repo: str, rev: str = "abc1234def") -> Path:
    snap = hub / f"models--{repo.replace('/', '--')}" / "snapshots" / rev
    snap.parent.mkdir(parents=True)
    shutil.copytree(FIXTURES / "tiny-llama", snap)
    return snap


def by_name(found: list[FoundModel]) -> dict[str, FoundModel]:
    return {m.name: m for m in found}


def test_huggingface_cache(tmp_path: Path, no_bundled: None) -> None:
    hub = tmp_path / "home" / ".cache" / "huggingface" / "hub"
    good = hf_snapshot(hub, "org/tiny-llama")
    pickled = hf_snapshot(hub, "org/pickled")
    (pickled / "model.safetensors").unlink()
    (pickled / "pytorch_model.bin").write_bytes(b"x")
    other = hf_snapshot(hub, "org/falcon")
    raw = json.loads((other / "config.json").read_text())
    raw["model_type"] = "falcon"
    (other / "config.json").write_text(json.dumps(raw))
    yarn = hf_snapshot(hub, "org/yarn")
    raw = json.loads((yarn / "config.json").read_text())
    raw["rope_parameters"] = {"rope_type": "yarn", "factor": 4.0}
    (yarn / "config.json").write_text(json.dumps(raw))

    found = by_name(discover_models(home=tmp_path / "home", env={}))
    assert found["org/tiny-llama"].supported and found["org/tiny-llama"].path == good
    assert found["org/tiny-llama"].source == "Hugging Face"
    assert not found["org/pickled"].supported and "pickle" in found["org/pickled"].reason
    assert found["org/falcon"].reason == "architecture 'falcon' is not supported"
    assert "yarn" in found["org/yarn"].reason


def test_hf_home_and_hub_cache_variables(tmp_path: Path, no_bundled: None) -> None:
    hf_snapshot(tmp_path / "hfhome" / "hub", "a/one")
    hf_snapshot(tmp_path / "hubcache", "b/two")
    names = {m.name for m in discover_models(tmp_path, {"HF_HOME": str(tmp_path / "hfhome")})}
    assert names == {"a/one"}
    env = {"HF_HOME": str(tmp_path / "hfhome"), "HF_HUB_CACHE": str(tmp_path / "hubcache")}
    assert {m.name for m in discover_models(tmp_path, env)} == {"b/two"}


def test_lm_studio_gguf_files(tmp_path: Path, no_bundled: None) -> None:
    root = tmp_path / ".lmstudio" / "models" / "pub" / "repo"
    root.mkdir(parents=True)
    (root / "good.Q4_K_M.gguf").write_bytes(gguf_bytes("llama"))
    (root / "neox.gguf").write_bytes(gguf_bytes("gptneox"))
    (root / "mmproj-vision.gguf").write_bytes(gguf_bytes("clip"))
    old = tmp_path / ".cache" / "lm-studio" / "models" / "x"
    old.mkdir(parents=True)
    (old / "qwen.gguf").write_bytes(gguf_bytes("qwen2"))
    (old / "broken.gguf").write_bytes(b"nothing")
    found = by_name(discover_models(tmp_path, {}))
    assert found["pub/repo/good.Q4_K_M"].supported
    assert found["pub/repo/good.Q4_K_M"].architecture == "llama"
    assert found["pub/repo/neox"].reason == "architecture 'gptneox' is not supported"
    assert "pub/repo/mmproj-vision" not in found
    assert found["x/qwen"].supported and found["x/qwen"].source == "LM Studio"
    assert found["x/broken"].reason == "not a readable GGUF file"


def test_ollama_manifests_name_blobs(tmp_path: Path, no_bundled: None) -> None:
    models = tmp_path / ".ollama" / "models"
    blobs = models / "blobs"
    blobs.mkdir(parents=True)
    (blobs / "sha256-aaaa").write_bytes(gguf_bytes("llama"))
    (blobs / "sha256-bbbb").write_bytes(gguf_bytes("gemma3"))

    def manifest(name: str, tag: str, digest: str, ns: str = "library") -> None:
        path = models / "manifests" / "registry.ollama.ai" / ns / name / tag
        path.parent.mkdir(parents=True, exist_ok=True)
        layers = [
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:ffff"},
            {"mediaType": "application/vnd.ollama.image.model", "digest": digest},
        ]
        path.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))

    manifest("smollm2", "135m", "sha256:aaaa")
    manifest("gemma3", "1b", "sha256:bbbb")
    manifest("gone", "latest", "sha256:cccc")
    manifest("evil", "latest", "sha256:../../../etc/passwd")
    manifest("mine", "v1", "sha256:aaaa", ns="someone")
    found = by_name(discover_models(tmp_path, {}))
    assert found["smollm2:135m"].supported and found["smollm2:135m"].path == blobs / "sha256-aaaa"
    assert found["gemma3:1b"].reason == "architecture 'gemma3' is not supported"
    assert found["gone:latest"].reason == "no model blob"
    assert found["evil:latest"].reason == "no model blob"
    assert found["someone/mine:v1"].supported
    # OLLAMA_MODELS moves the folder
    moved = by_name(discover_models(tmp_path / "elsewhere", {"OLLAMA_MODELS": str(models)}))
    assert "smollm2:135m" in moved


def test_nothing_installed_finds_nothing(tmp_path: Path, no_bundled: None) -> None:
    assert discover_models(tmp_path, {}) == []


def test_bundled_come_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = FoundModel("B", tmp_path, "bundled", "gguf", True)
    monkeypatch.setattr(discover, "bundled_models", lambda: [bundled])
    hf_snapshot(tmp_path / ".cache" / "huggingface" / "hub", "a/model")
    found = discover_models(tmp_path, {})
    assert found[0] == bundled and found[1].name == "a/model"


def test_architecture_of_a_real_gguf_header(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_bytes("qwen2"))
    assert gguf_architecture(path) == "qwen2"
    path.write_bytes(gguf_bytes("llama")[:30])
    assert gguf_architecture(path) is None
    smol = discover.smollm2_path()
    if smol is not None:
        assert gguf_architecture(smol) == "llama"
