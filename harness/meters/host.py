"""A fingerprint of the machine a run happened on, for meta.json and the report."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import psutil

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


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):  # x86 names them flags, ARM Features
            present = set(value.split())
            return sorted(flag for flag in KERNEL_FLAGS if flag in present)
    return []


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


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
    try:
        info["system_info"] = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    except Exception:  # an older build without the symbol
        pass
    return info


def fingerprint(include_llama: bool = True) -> dict[str, Any]:
    memory = psutil.virtual_memory()
    return {
        "hostname": platform.node(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_mb": round(memory.total / 2**20),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "llama_cpp": llama_cpp_build() if include_llama else {},
        "gpus": gpu_info(),
    }
