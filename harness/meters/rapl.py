"""Intel/AMD RAPL energy counters from the Linux powercap sysfs tree.

Counted: each CPU package (``intel-rapl:N``) plus its ``dram`` subdomain, which the package does not
include. Skipped, since counting them would count twice: ``core``/``uncore`` (inside the package),
``psys`` (the platform, holding the packages) and the ``intel-rapl-mmio`` mirror. Counters are
microjoules and wrap at ``max_energy_range_uj``.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from harness.meters.sensor import EnergySource, SensorError, SensorUnavailable

POWERCAP = Path("/sys/class/powercap")
_TOP = re.compile(r"^intel-rapl:(\d+)$")
_SUB = re.compile(r"^intel-rapl:(\d+):(\d+)$")
_DIGITS = re.compile(r"[0-9]+")
_MAX_BYTES = 65536  # a counter file holds one number


@dataclass(frozen=True)
class RaplDomain:
    """One counted RAPL domain."""

    key: str  # e.g. "package-0", "package-0/dram"
    path: Path
    max_range_uj: int


def _read_text(path: Path) -> str:
    """A counter file's text. A fake or broken powercap tree (``--powercap-root``) may hold a directory,
    a FIFO that would block, a huge file or non-text there: each a SensorError that a run degrades past."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise SensorError(f"{path}: not a regular file")
        if info.st_size > _MAX_BYTES:  # sysfs gives every attribute 4096
            raise SensorError(f"{path}: {info.st_size} bytes, not a counter")
        return path.read_text(encoding="ascii").strip()
    except PermissionError:
        raise SensorUnavailable(
            f"permission denied reading {path}: RAPL counters are root-only since Linux 5.10 (2020, "
            f"PLATYPUS, CVE-2020-8694); run as root or 'sudo chmod a+r {path.parent}/energy_uj'"
        ) from None
    except UnicodeDecodeError as exc:
        raise SensorError(f"{path}: not text: {exc.object[:40]!r}") from None
    except OSError as exc:
        raise SensorError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_uj(path: Path) -> int:
    """A microjoule figure: digits only (``int()`` would also take ``1_0``, ``+1`` or other scripts' digits)."""
    raw = _read_text(path)
    if not _DIGITS.fullmatch(raw):
        raise SensorError(f"{path}: not a number: {raw[:40]!r}")
    return int(raw)


def discover(root: Path = POWERCAP) -> list[RaplDomain]:
    """The package and DRAM domains under ``root``; raises SensorUnavailable saying why there are none."""
    if not root.is_dir():
        raise SensorUnavailable(f"{root} does not exist (no powercap in this kernel, VM or container)")
    try:
        entries = {p.name: p for p in root.iterdir()}
    except OSError as exc:
        raise SensorUnavailable(f"cannot list {root}: {exc.strerror or exc}") from None
    tops = sorted((int(m.group(1)), name) for name in entries if (m := _TOP.match(name)))
    if not tops:
        raise SensorUnavailable(f"no intel-rapl:* domains under {root} (CPU or hypervisor does not expose RAPL)")
    domains: list[RaplDomain] = []
    for index, name in tops:
        path = entries[name]
        label = _read_text(path / "name")
        if label == "psys":  # the platform domain contains the packages: counting both doubles
            continue
        domains.append(RaplDomain(label, path, _read_uj(path / "max_energy_range_uj")))
        subs = [entries[n] for n in sorted(entries) if (sub := _SUB.match(n)) and int(sub.group(1)) == index]
        for sub_path in subs:
            if _read_text(sub_path / "name") == "dram":  # core/uncore are inside the package figure
                domains.append(RaplDomain(f"{label}/dram", sub_path, _read_uj(sub_path / "max_energy_range_uj")))
    if not domains:
        raise SensorUnavailable(f"no package domain under {root} (only psys)")
    return domains


class RaplSensor:
    """Cumulative joules of every counted domain."""

    source: EnergySource = "rapl"

    def __init__(self, root: Path = POWERCAP) -> None:
        self.root = root
        self.domains: list[RaplDomain] = []
        self.scope = "cpu (RAPL)"

    def open(self) -> None:
        self.domains = discover(self.root)
        self.scope = "cpu " + " + ".join(d.key for d in self.domains) + " (RAPL)"
        self.read()  # permission problems surface here, before any work is measured

    def read(self) -> dict[str, float]:
        return {domain.key: _read_uj(domain.path / "energy_uj") / 1e6 for domain in self.domains}

    def wrap_j(self, domain: str) -> float | None:
        return next((d.max_range_uj / 1e6 for d in self.domains if d.key == domain), None)

    def close(self) -> None:
        return None
