"""Hardware profiles: the shipped YAML files, user files, and ``host`` detected from this machine."""

from __future__ import annotations

import functools
import os
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any

import psutil

from harness.config.loading import read_yaml, validate
from harness.config.profile import Accelerator, CostModel, HardwareProfile, PowerModel
from harness.errors import ConfigError, UserError
from harness.meters.host import gpu_info

# Per-core figures for the host's estimate when nothing better is known: a typical server core
# draws a few watts idle and 10-15 W under load (vendor TDP / core count; see docs/energy.md).
HOST_IDLE_W_PER_CORE = 2.5
HOST_MAX_W_PER_CORE = 12.0


def shipped_profile_paths() -> dict[str, Path]:
    return {path.stem: path for path in sorted(Path(str(files("harness.hardware_profiles"))).glob("*.yaml"))}


@functools.lru_cache(maxsize=1)
def _host_accelerator() -> Accelerator:
    """The first NVIDIA GPU nvidia-smi reports, or none."""
    if shutil.which("nvidia-smi") is None:
        return Accelerator()
    for gpu in gpu_info():
        try:
            memory_mib = float(str(gpu["memory"]).split()[0])
        except (ValueError, IndexError):
            continue
        # the reported MiB is what every comparison uses (harness.devicememory); GB only for display
        return Accelerator(
            kind="gpu", name=str(gpu["name"]), memory_gb=round(memory_mib / 1024, 1), memory_mb=memory_mib
        )
    return Accelerator()


def host_profile() -> HardwareProfile:
    """This machine as a profile: its usable cores and memory, a per-core power estimate."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    memory_mb = psutil.virtual_memory().total / 2**20
    return HardwareProfile.model_validate(
        {
            "name": "host",
            "description": "This machine, as detected",
            "class": "host",
            "cores": cores,
            "memory_mb": round(memory_mb),
            "accelerator": _host_accelerator(),
            "power": PowerModel(
                idle_watts=HOST_IDLE_W_PER_CORE * cores,
                max_watts=HOST_MAX_W_PER_CORE * cores,
                source=f"generic per-core estimate ({HOST_IDLE_W_PER_CORE}-{HOST_MAX_W_PER_CORE} W/core)",
            ),
            "cost": CostModel(usd_per_hour=0.0, usd_per_kwh=0.15, source="host: hardware already owned"),
            "sources": ["detected: os.sched_getaffinity, psutil.virtual_memory, nvidia-smi"],
        }
    )


# Fields a profile never inherits through ``extends``: its identity is its own.
NOT_INHERITED = ("name", "extends")
MAX_EXTENDS = 8  # a real family is two or three deep; a longer chain is a mistake or an attack


def _load_raw(path: Path, chain: tuple[str, ...] = ()) -> dict[str, Any]:
    """A profile file's fields with its ``extends`` chain merged in (child wins, nested maps merge)."""
    data = read_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of profile fields")
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: field 'extends': must be a profile name")
    name = str(data.get("name", path.stem))
    if len(chain) >= MAX_EXTENDS:
        raise ConfigError(f"{path}: field 'extends': chain longer than {MAX_EXTENDS} profiles; extend a shallower one")
    if parent in chain or parent == name:
        cycle = " -> ".join((*chain, name, parent))
        raise ConfigError(f"{path}: field 'extends': cycle ({cycle})")
    # the parent's merged fields: ``host`` as detected, or a profile file beside this one, or a shipped one
    if parent == "host":
        inherited = host_profile().model_dump(mode="json", by_alias=True, exclude_none=True)
    elif (parent_path := _find_path(parent, path.parent)) is not None:
        inherited = _load_raw(parent_path, (*chain, name))
    else:
        known = ", ".join(["host", *shipped_profile_paths()])
        raise ConfigError(f"{path}: field 'extends': unknown profile '{parent}' (known: {known})")
    merged = {k: v for k, v in inherited.items() if k not in NOT_INHERITED}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        elif key == "sources" and isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = list(dict.fromkeys([*value, *merged[key]]))
        else:
            merged[key] = value
    return merged


def _find_path(name: str, near: Path | None = None) -> Path | None:
    if near is not None and _is_file(near / f"{name}.yaml"):
        return near / f"{name}.yaml"
    return shipped_profile_paths().get(name)


def _is_file(path: Path) -> bool:
    """``Path.is_file`` for a name taken from a file: too long or a NUL byte means no such file."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def load_profile_file(path: Path) -> HardwareProfile:
    """Read, merge (``extends``) and validate one profile file; errors name the file and field."""
    raw = _load_raw(path)
    if "name" not in raw:
        raw["name"] = path.stem
    return validate(HardwareProfile, raw, str(path))


def get_profile(name_or_path: str, flag: str = "--profiles") -> HardwareProfile:
    """``host``, a shipped profile name, or a path to a YAML file; ``flag`` names it in errors."""
    if name_or_path == "host":
        return host_profile()
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        return load_profile_file(candidate)
    path = _find_path(name_or_path)
    if path is None:
        known = ", ".join(["host", *shipped_profile_paths()])
        raise UserError(f"{flag}: unknown profile '{name_or_path}' (known: {known}; or give a YAML path)")
    return load_profile_file(path)


def all_profiles() -> list[HardwareProfile]:
    """``host`` and every shipped profile, resolved."""
    return [host_profile(), *(load_profile_file(p) for p in shipped_profile_paths().values())]
