"""llama.cpp GPU offload: the catalog's n_gpu_layers and main_gpu reach ``Llama``.

The ``Llama`` here is a recording stand-in: what is tested is our own hand-over of the settings
(whether a CUDA build then offloads is llama.cpp's business, checked by benchmarks/gpu_check.sh).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from harness.backends.llamacpp import LlamaCppBackend, LlamaCppParams
from harness.config.models import ModelSpec


def _load_with_recording_llama(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **params: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    low_level = ModuleType("llama_cpp.llama_cpp")  # the defaults Llama() starts from
    low_level.__dict__["llama_model_default_params"] = lambda: SimpleNamespace(use_extra_bufts=True)

    class RecordingLlama:
        def __init__(self, **kwargs: Any) -> None:
            seen.update(kwargs, use_extra_bufts=low_level.llama_model_default_params().use_extra_bufts)

    module = ModuleType("llama_cpp")
    module.__dict__.update(Llama=RecordingLlama, llama_cpp=low_level)
    monkeypatch.setitem(sys.modules, "llama_cpp", module)
    monkeypatch.setitem(sys.modules, "llama_cpp.llama_cpp", low_level)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    params = {"extra_buffers": "on", **params}  # decided here: no canary for this stand-in
    spec = ModelSpec(name="m", tier="nano", backend="llamacpp", params={"model_path": str(gguf), **params})
    LlamaCppBackend(spec, LlamaCppParams.model_validate(spec.params)).load()
    return seen


def test_gpu_offload_settings_reach_llama(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kwargs = _load_with_recording_llama(monkeypatch, tmp_path, n_gpu_layers=-1, main_gpu=1)
    assert (kwargs["n_gpu_layers"], kwargs["main_gpu"]) == (-1, 1)


def test_cpu_only_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    kwargs = _load_with_recording_llama(monkeypatch, tmp_path)
    assert (kwargs["n_gpu_layers"], kwargs["main_gpu"]) == (0, 0)


def test_extra_buffers_reach_the_model_defaults_llama_starts_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Llama() takes no argument for use_extra_bufts: off is set on the defaults it reads while it loads."""
    assert _load_with_recording_llama(monkeypatch, tmp_path, extra_buffers="off")["use_extra_bufts"] is False
    assert _load_with_recording_llama(monkeypatch, tmp_path, extra_buffers="on")["use_extra_bufts"] is True


def test_offload_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="n_gpu_layers"):
        LlamaCppParams(model_path="m.gguf", n_gpu_layers=-2)
    with pytest.raises(ValidationError, match="main_gpu"):
        LlamaCppParams(model_path="m.gguf", main_gpu=-1)
