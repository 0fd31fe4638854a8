"""A fingerprint of the machine a run happened on, for meta.json, the report and the gate.

``HostFingerprint`` is the one typed record of it: ``tierbench run`` stores it as meta.json's
``host``, ``doctor`` prints it, and the gate compares the run's with the baseline's
(harness/gate/hardware.py). Every field is optional because a run written by an older tierbench
lacks some: a missing field reads as None, which means *unknown*, never "the same".
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import platform
import re
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import psutil
from pydantic import BaseModel, ConfigDict, Field

from harness.meters.contention import cell_cpus

KEY_PACKAGES = (
    "tierbench",
    "llama-cpp-python",
    "lm-eval",
    "torch",
    "transformers",
    "pandas",
    "numpy",
    "httpx",
    "pydantic",
    "matplotlib",
    "nvidia-ml-py",
)


@functools.cache
def _cpuinfo_fields() -> dict[str, str]:
    """Each /proc/cpuinfo field's first value, read once per process (the file repeats every field per core)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for name, _, value in (line.partition(":") for line in lines):
        fields.setdefault(name.strip(), value.strip())
    return fields


def _cpuinfo(*names: str) -> str | None:
    """The value under the first of ``names`` /proc/cpuinfo has (x86 and ARM name fields differently)."""
    fields = _cpuinfo_fields()
    return next((fields[name] for name in names if name in fields), None)


def cpu_vendor() -> str | None:
    """``GenuineIntel``, ``AuthenticAMD`` (x86 ``vendor_id``) or the ARM implementer code; None if unreadable."""
    return _cpuinfo("vendor_id", "CPU implementer")


def cpu_model() -> str:
    model = _cpuinfo("model name")
    return model if model is not None else platform.processor() or platform.machine()


# CPU features that pick different compute kernels (llama.cpp, torch, BLAS): two machines that differ
# in one of these can differ in speed, in rounding, and in which native code paths can crash
KERNEL_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "amx_fp16",
    "asimd",
    "asimddp",
    "sve",
    "sve2",
    "i8mm",
    "bf16",
)


def cpu_flags() -> list[str]:
    """The kernel-relevant features of this CPU (``KERNEL_FLAGS`` found in /proc/cpuinfo), sorted."""
    present = set((_cpuinfo("flags", "Features") or "").split())
    return sorted(flag for flag in KERNEL_FLAGS if flag in present)


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def gpu_info() -> list[dict[str, Any]]:
    """GPUs seen through nvidia-smi; empty where there is none."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    fields = ("name", "memory", "driver")
    return [
        dict(zip(fields, (part.strip() for part in line.split(",")), strict=True)) for line in out.strip().splitlines()
    ]


def llama_cpp_build() -> dict[str, Any]:
    try:
        import llama_cpp
    except ImportError:
        return {}
    info: dict[str, Any] = {"version": llama_cpp.__version__}
    with contextlib.suppress(Exception):  # an older build without the symbol
        info["system_info"] = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    return info


def llama_cpp_features(system_info: str) -> list[str]:
    """The features a llama.cpp build turned on (``AVX2 = 1 | AMX_INT8 = 1 | ...``), sorted."""
    return sorted({name for name, on in re.findall(r"([A-Z0-9_]+) = (\d)", system_info) if on != "0"})


def torch_versions() -> tuple[str | None, str | None]:
    """(torch version, the CUDA version torch was built for) read from torch/version.py without
    importing torch (seconds, and it would start CUDA); (None, None) without torch."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None, None
    found: dict[str, Any] = {}
    try:
        for location in spec.submodule_search_locations:
            path = Path(location) / "version.py"
            if path.is_file():
                exec(compile(path.read_text(), str(path), "exec"), found)  # a file of plain assignments
                break
    except (OSError, SyntaxError, ImportError):
        return None, None
    torch, cuda = found.get("__version__"), found.get("cuda")
    return (str(torch) if torch else None), (str(cuda) if cuda else None)


class GpuFingerprint(BaseModel):
    """One GPU as nvidia-smi names it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    memory: str | None = None
    driver: str | None = None


class HostFingerprint(BaseModel):
    """The machine a run measured on: what decides how fast a model runs and which kernels it uses.

    None means unknown (an older run did not record it), never equal to anything.
    """

    model_config = ConfigDict(extra="forbid")

    hostname: str | None = None
    cpu_model: str | None = Field(default=None, description="/proc/cpuinfo model name.")
    cpu_vendor: str | None = Field(default=None, description="GenuineIntel, AuthenticAMD, or the ARM implementer.")
    cpu_flags: list[str] | None = Field(default=None, description="Kernel-relevant CPU features (KERNEL_FLAGS).")
    physical_cores: int | None = None
    logical_cores: int | None = None
    usable_cores: int | None = Field(default=None, description="CPUs this process's affinity allows.")
    memory_mb: int | None = None
    os: str | None = None
    python: str | None = None
    packages: dict[str, str | None] | None = None
    llama_cpp: dict[str, Any] | None = Field(default=None, description="llama-cpp-python version and system_info.")
    llama_cpp_features: list[str] | None = Field(default=None, description="Features the llama.cpp build enabled.")
    torch: str | None = None
    torch_cuda: str | None = Field(default=None, description="The CUDA version torch was built for.")
    gpus: list[GpuFingerprint] | None = None

    @classmethod
    def read(cls, data: object) -> HostFingerprint:
        """meta.json's ``host`` as a record: unknown keys (another tierbench's) left out, a malformed
        field read as unknown, so an old run is compared field by field rather than refused."""
        if not isinstance(data, dict):
            return cls()
        known: dict[str, Any] = {}
        for name in cls.model_fields:
            if name not in data:
                continue
            try:
                cls.model_validate({name: data[name]})
            except ValueError:
                continue
            known[name] = data[name]
        return cls.model_validate(known)


def fingerprint() -> HostFingerprint:
    memory = psutil.virtual_memory()
    llama = llama_cpp_build()
    torch, torch_cuda = torch_versions()
    return HostFingerprint(
        hostname=platform.node(),
        cpu_model=cpu_model(),
        cpu_vendor=cpu_vendor(),
        cpu_flags=cpu_flags(),
        physical_cores=psutil.cpu_count(logical=False),
        logical_cores=psutil.cpu_count(logical=True),
        usable_cores=len(cell_cpus()),
        memory_mb=round(memory.total / 2**20),
        os=platform.platform(),
        python=platform.python_version(),
        packages={name: _version(name) for name in KEY_PACKAGES},
        llama_cpp=llama,
        llama_cpp_features=llama_cpp_features(str(llama.get("system_info", ""))) if llama else [],
        torch=torch,
        torch_cuda=torch_cuda,
        gpus=[GpuFingerprint.model_validate(gpu) for gpu in gpu_info()],
    )
