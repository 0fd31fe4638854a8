"""llama.cpp GPU offload: the catalog's n_gpu_layers and main_gpu reach ``Llama``.

The ``Llama`` here is a recording stand-in: what is tested is our own hand-over of the settings
(whether a CUDA build then offloads is llama.cpp's business, checked by benchmarks/gpu_check.sh).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from harness.backends.llamacpp import LlamaCppBackend, LlamaCppParams
from harness.config.models import ModelSpec


def _load_with_recording_llama(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **params: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    class RecordingLlama:
        def __init__(self, **kwargs: Any) -> None:
            seen.update(kwargs)

    module = ModuleType("llama_cpp")
    module.__dict__["Llama"] = RecordingLlama
    monkeypatch.setitem(sys.modules, "llama_cpp", module)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    spec = ModelSpec(name="m", tier="nano", backend="llamacpp", params={"model_path": str(gguf), **params})
    LlamaCppBackend(spec, LlamaCppParams.model_validate(spec.params)).load()
    return seen


def test_gpu_offload_settings_reach_llama(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kwargs = _load_with_recording_llama(monkeypatch, tmp_path, n_gpu_layers=-1, main_gpu=1)
    assert (kwargs["n_gpu_layers"], kwargs["main_gpu"]) == (-1, 1)


def test_cpu_only_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kwargs = _load_with_recording_llama(monkeypatch, tmp_path)
    assert (kwargs["n_gpu_layers"], kwargs["main_gpu"]) == (0, 0)


def test_offload_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="n_gpu_layers"):
        LlamaCppParams(model_path="m.gguf", n_gpu_layers=-2)
    with pytest.raises(ValidationError, match="main_gpu"):
        LlamaCppParams(model_path="m.gguf", main_gpu=-1)
