"""Peak memory of the cell's own process, split into anonymous and file-backed parts.

The kernel's high-water mark (VmHWM) is the authoritative peak and starts fresh at exec (unlike
``ru_maxrss``, inherited through fork). It cannot tell mmap'd weights (file-backed) from working
memory (anonymous), so a thread also tracks the peaks of RssAnon and RssFile, every 20 ms by default:
llama.cpp allocates its buffers in a few large steps, each lasting far longer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.meters.periodic import Ticker

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
_FIELDS = {"VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"}


def read_status(path: Path = STATUS) -> dict[str, float]:
    """Memory fields of /proc/<pid>/status (VmRSS, VmHWM, RssAnon, RssFile, RssShmem), its kB as MiB."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    fields = (line.partition(":") for line in lines)
    return {key: int(rest.split()[0]) / 1024.0 for key, _, rest in fields if key in _FIELDS and rest.split()}


def reset_peak(path: Path = CLEAR_REFS) -> bool:
    """Reset the kernel's VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        path.write_text("5")
    except OSError:
        return False
    return True


def support(status_path: Path = STATUS, clear_refs: Path = CLEAR_REFS) -> dict[str, str | None]:
    """What memory accounting this machine offers: field -> None if available, else why not."""
    status = read_status(status_path)
    found: dict[str, str | None] = {}
    for key, what in (("VmHWM", "kernel peak RSS"), ("RssAnon", "anonymous RSS"), ("RssFile", "file-backed RSS")):
        found[f"{key} ({what})"] = None if key in status else f"{status_path} has no {key} field (Linux >= 4.5 needed)"
    found["peak reset (clear_refs)"] = None if clear_refs.exists() else f"{clear_refs} missing"
    return found


@dataclass
class MemoryResult:
    """Peaks in MiB; ``peak_rss_mb`` is VmHWM, or the largest sampled VmRSS where the kernel has none
    (``peak_rss_source`` says which)."""

    peak_rss_mb: float | None
    peak_anon_mb: float | None
    peak_file_mb: float | None
    samples: int
    peak_rss_source: str = "VmHWM"

    def columns(self) -> dict[str, float | None]:
        return {"peak_rss_mb": self.peak_rss_mb, "peak_anon_mb": self.peak_anon_mb, "peak_file_mb": self.peak_file_mb}


class MemorySampler:
    """``with MemorySampler() as m: ...`` then ``m.result`` (also while running); ``on_sample`` sees
    every reading (the memory watchdog), so one thread polls /proc for both."""

    def __init__(
        self,
        interval_s: float = 0.02,
        status_path: Path = STATUS,
        on_sample: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        self.status_path = status_path
        self.on_sample = on_sample
        self._ticker = Ticker(self.sample, interval_s, "memory-sampler")
        self._peak_anon = 0.0
        self._peak_file = 0.0
        self._peak_rss = 0.0
        self._samples = 0
        self.current_rss_mb = 0.0

    def sample(self) -> dict[str, float]:
        status = read_status(self.status_path)
        self._peak_anon = max(self._peak_anon, status.get("RssAnon", 0.0))
        self._peak_file = max(self._peak_file, status.get("RssFile", 0.0) + status.get("RssShmem", 0.0))
        self.current_rss_mb = status.get("VmRSS", 0.0)
        self._peak_rss = max(self._peak_rss, self.current_rss_mb)
        self._samples += 1
        if self.on_sample is not None:
            self.on_sample(status)
        return status

    def __enter__(self) -> MemorySampler:
        self.sample()
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ticker.stop()
        self.sample()

    @property
    def result(self) -> MemoryResult:
        status = read_status(self.status_path)
        hwm = status.get("VmHWM")
        sampled = self._peak_rss if self._samples and self._peak_rss > 0 else None
        return MemoryResult(
            peak_rss_mb=hwm if hwm is not None else sampled,
            peak_anon_mb=self._peak_anon if self._samples else None,
            peak_file_mb=self._peak_file if self._samples else None,
            samples=self._samples,
            peak_rss_source="VmHWM" if hwm is not None else "sampled VmRSS",
        )
