"""Hardware profiles: the shipped YAML files, user files, and ``host`` detected from this machine."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import psutil

from harness.config.loading import read_yaml, validate
from harness.config.profile import CostModel, HardwareProfile, PowerModel
from harness.errors import ConfigError, UserError

# Per-core figures for the host's estimate when nothing better is known: a typical server core
# draws a few watts idle and 10-15 W under load (vendor TDP / core count; see docs/energy.md).
HOST_IDLE_W_PER_CORE = 2.5
HOST_MAX_W_PER_CORE = 12.0


def shipped_dir() -> Path:
    return Path(str(files("harness.hardware_profiles")))


def shipped_profile_paths() -> dict[str, Path]:
    return {path.stem: path for path in sorted(shipped_dir().glob("*.yaml"))}


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
            "power": PowerModel(
                idle_watts=HOST_IDLE_W_PER_CORE * cores,
                max_watts=HOST_MAX_W_PER_CORE * cores,
                source=f"generic per-core estimate ({HOST_IDLE_W_PER_CORE}-{HOST_MAX_W_PER_CORE} W/core)",
            ),
            "cost": CostModel(usd_per_hour=0.0, usd_per_kwh=0.15, source="host: hardware already owned"),
        }
    )


def _load_raw(path: Path, chain: tuple[str, ...] = ()) -> dict[str, object]:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of profile fields")
    parent = data.get("extends")
    if parent is None:
        return dict(data)
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: field 'extends': must be a profile name")
    name = str(data.get("name", path.stem))
    if parent in chain or parent == name:
        cycle = " -> ".join((*chain, name, parent))
        raise ConfigError(f"{path}: field 'extends': cycle ({cycle})")
    parent_path = _find_path(parent, path.parent)
    if parent_path is None:
        raise ConfigError(f"{path}: field 'extends': unknown profile '{parent}'")
    merged = _load_raw(parent_path, (*chain, name))
    merged.pop("extends", None)
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}  # type: ignore[dict-item]
        else:
            merged[key] = value
    return merged


def _find_path(name: str, near: Path | None = None) -> Path | None:
    if near is not None and (near / f"{name}.yaml").is_file():
        return near / f"{name}.yaml"
    return shipped_profile_paths().get(name)


def load_profile_file(path: Path) -> HardwareProfile:
    raw = _load_raw(path)
    raw.setdefault("name", path.stem)
    return validate(HardwareProfile, raw, str(path))


def get_profile(name_or_path: str) -> HardwareProfile:
    """``host``, a shipped profile name, or a path to a YAML file."""
    if name_or_path == "host":
        return host_profile()
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        return load_profile_file(candidate)
    path = _find_path(name_or_path)
    if path is None:
        known = ", ".join(["host", *shipped_profile_paths()])
        raise UserError(f"--profiles: unknown profile '{name_or_path}' (known: {known}; or give a YAML path)")
    return load_profile_file(path)


def all_profiles() -> list[HardwareProfile]:
    return [host_profile(), *(load_profile_file(p) for p in shipped_profile_paths().values())]
