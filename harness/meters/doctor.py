"""What this machine can measure, and exactly why the rest is unavailable (``tierbench doctor``)."""

from __future__ import annotations

import functools
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from harness.config.profile import HardwareProfile
from harness.meters import memory
from harness.meters.nvml import probe as probe_nvml
from harness.meters.rapl import POWERCAP, RaplSensor
from harness.meters.sensor import SensorError


@dataclass
class Capability:
    """One thing the harness can measure here (or not)."""

    group: str
    name: str
    available: bool
    detail: str


def probe_rapl(root: Path = POWERCAP) -> tuple[bool, str]:
    sensor = RaplSensor(root)
    try:
        sensor.open()
    except SensorError as exc:
        return False, str(exc)
    return True, sensor.scope


def _torch_cuda_capability() -> Capability:
    """torch.cuda memory statistics: only with torch installed and CUDA working (imports torch: slow)."""
    torch_cuda = functools.partial(Capability, "gpu memory", "torch.cuda")
    if importlib.util.find_spec("torch") is None:
        return torch_cuda(False, "torch is not installed (pip install 'tierbench[hf]')")
    try:
        import torch
    except Exception as exc:  # a broken install must not break the doctor
        return torch_cuda(False, f"torch failed to import: {exc}")
    if not torch.cuda.is_available():
        return torch_cuda(False, f"torch {torch.__version__}: CUDA not available")
    return torch_cuda(True, f"torch {torch.__version__}: {torch.cuda.get_device_name(0)}")


# the one install line that builds llama-cpp-python with CUDA (README, docs/profiles.md)
LLAMA_CUDA_INSTALL = 'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir llama-cpp-python==0.3.36'


def llama_offload_capability(llama_cpp: ModuleType | None = None) -> Capability:
    """Whether the installed llama-cpp-python can offload layers to a GPU (``n_gpu_layers``)."""
    offload = functools.partial(Capability, "gpu", "llama.cpp offload")
    if llama_cpp is None:
        if importlib.util.find_spec("llama_cpp") is None:
            return offload(False, "llama-cpp-python is not installed (pip install 'tierbench[local]')")
        try:
            llama_cpp = importlib.import_module("llama_cpp")
        except Exception as exc:  # a broken build must not break the doctor
            return offload(False, f"llama-cpp-python failed to import: {exc}")
    version = getattr(llama_cpp, "__version__", "?")
    supports = getattr(llama_cpp, "llama_supports_gpu_offload", None)
    if supports is None:
        return offload(False, f"llama-cpp-python {version} cannot say (no llama_supports_gpu_offload)")
    if bool(supports()):
        return offload(True, f"llama-cpp-python {version}: GPU build (set n_gpu_layers in the catalog)")
    return offload(False, f"llama-cpp-python {version} is a CPU-only build; for CUDA: {LLAMA_CUDA_INSTALL}")


def diagnose(profile: HardwareProfile, powercap_root: Path = POWERCAP) -> list[Capability]:
    """Energy sources, memory accounting, GPU memory and llama.cpp offload; NVML is probed once for both
    its energy counter and its per-process GPU memory."""
    rapl_ok, rapl_detail = probe_rapl(powercap_root)
    nvml_ok, nvml_detail = probe_nvml()
    power = profile.power
    estimate = (
        f"profile '{profile.name}': {power.idle_watts:g}-{power.max_watts:g} W ({power.source}); reported as a range"
    )
    return [
        Capability("energy", "rapl", rapl_ok, rapl_detail),
        Capability("energy", "nvml", nvml_ok, nvml_detail),
        Capability("energy", "estimate", True, estimate),
        *(Capability("memory", name, why is None, why or "yes") for name, why in memory.support().items()),
        _torch_cuda_capability(),
        Capability("gpu memory", "nvml per-process", nvml_ok, nvml_detail),
        llama_offload_capability(),
    ]
