"""Whether two runs measured on the same hardware: their ``HostFingerprint``s field by field.

A timing or throughput figure measures the machine as much as the model, so the gate judges a
speed rule only between runs whose fingerprints agree; a field either side did not record (an
older tierbench) is *unknown* and never counts as equal. Accuracy and memory rules are judged
anyway, with a note where the compute kernels differ (other CPU features, llama.cpp build
features or GPUs can change rounding and buffers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.meters.host import HostFingerprint

# fields that decide how fast the same model runs (the hostname does not: two runners of one
# machine type are the same hardware); names as the reason shows them
SPEED_FIELDS: dict[str, str] = {
    "cpu_model": "CPU model",
    "cpu_vendor": "CPU vendor",
    "cpu_flags": "CPU features",
    "physical_cores": "physical cores",
    "logical_cores": "logical cores",
    "usable_cores": "usable cores",
    "memory_mb": "memory",
    "gpus": "GPUs",
    "llama_cpp_features": "llama.cpp build features",
    "torch": "torch",
    "torch_cuda": "torch CUDA",
}
KERNEL_FIELDS = ("cpu_flags", "llama_cpp_features", "gpus")
MEMORY_TOLERANCE = 0.02  # the same VM type reports a few MiB more or less


def _value(fingerprint: HostFingerprint, name: str) -> Any:
    value = getattr(fingerprint, name)
    if name == "gpus" and value is not None:
        return [(gpu.name, gpu.driver) for gpu in value]
    if isinstance(value, list):
        return sorted(value)
    return value


def _equal(name: str, a: Any, b: Any) -> bool:
    if name == "memory_mb" and isinstance(a, int) and isinstance(b, int) and max(a, b) > 0:
        return abs(a - b) / max(a, b) <= MEMORY_TOLERANCE
    return bool(a == b)


def isa_level(flags: list[str] | None) -> str:
    """The widest kernel family a CPU offers: AMX, AVX-512, AVX2, AVX, SVE, NEON; '?' when unknown."""
    if flags is None:
        return "features unknown"
    present = set(flags)
    for label, names in (
        ("AMX", ("amx_tile", "amx_int8", "amx_bf16")),
        ("AVX-512", ("avx512f",)),
        ("AVX2", ("avx2",)),
        ("AVX", ("avx",)),
        ("SVE", ("sve", "sve2")),
        ("NEON", ("asimd",)),
    ):
        if present & set(names):
            return label
    return "no vector features"


def describe(fingerprint: HostFingerprint) -> str:
    """``Intel(R) Xeon(R) Processor (AMX, 2 cores)``, with a GPU where there is one."""
    cores = fingerprint.usable_cores or fingerprint.logical_cores
    core_text = f"{cores} cores" if cores is not None else "cores unknown"
    text = f"{fingerprint.cpu_model or 'unknown CPU'} ({isa_level(fingerprint.cpu_flags)}, {core_text})"
    if fingerprint.gpus:
        text += " + " + ", ".join(gpu.name for gpu in fingerprint.gpus)
    return text


@dataclass(frozen=True)
class HardwareComparison:
    """How the run's machine and the baseline's compare."""

    run: HostFingerprint
    base: HostFingerprint
    differs: tuple[str, ...]  # field names that differ
    unknown: tuple[tuple[str, str], ...]  # (side, field name) not recorded on that side

    @property
    def same(self) -> bool:
        """Known to be the same hardware: every speed field recorded on both sides and equal."""
        return not self.differs and not self.unknown

    @property
    def kernels_differ(self) -> bool:
        return any(name in KERNEL_FIELDS for name in self.differs)

    def reason(self) -> str:
        """Why a speed rule is not judged: the difference named, or what is unknown."""
        parts = []
        if self.differs:
            fields = ", ".join(SPEED_FIELDS[name] for name in self.differs)
            parts.append(f"hardware differs: run {describe(self.run)}, baseline {describe(self.base)} ({fields})")
        for side in ("baseline", "run"):
            missing = [SPEED_FIELDS[name] for s, name in self.unknown if s == side]
            if missing:
                parts.append(
                    f"the {side}'s hardware fingerprint lacks {', '.join(missing)} (written by an older tierbench): "
                    "unknown, not assumed equal"
                )
        return "; ".join(parts)

    def kernel_note(self) -> str:
        """For accuracy and memory rules judged across hardware."""
        names = ", ".join(SPEED_FIELDS[name] for name in self.differs if name in KERNEL_FIELDS)
        return (
            f"compute kernels may differ ({names}: run {describe(self.run)}, baseline {describe(self.base)}): "
            "judged anyway; rounding and buffer sizes can move with them"
        )


def compare_hosts(run_meta: dict[str, Any], base_meta: dict[str, Any]) -> HardwareComparison:
    """Compare meta.json's ``host`` of two runs (or a run and a baseline file)."""
    run, base = HostFingerprint.read(run_meta.get("host")), HostFingerprint.read(base_meta.get("host"))
    sides = (("run", run), ("baseline", base))
    unknown = tuple((side, name) for name in SPEED_FIELDS for side, fp in sides if name not in fp.model_fields_set)
    known = [name for name in SPEED_FIELDS if all(name != missing for _, missing in unknown)]
    differs = tuple(name for name in known if not _equal(name, _value(run, name), _value(base, name)))
    return HardwareComparison(run, base, differs, unknown)
