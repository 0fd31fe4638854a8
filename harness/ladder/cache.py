"""The user cache of derived GGUF files, keyed by the source's SHA-256 and the target type.

``$TIERBENCH_CACHE_DIR`` or the platform's user cache directory (``~/.cache/tierbench`` on
Linux, via platformdirs) holds ``quantized/<sha16>-<type>.gguf`` and a JSON sidecar beside each.
A file counts as cached only when both exist and the sidecar's size matches the file: the GGUF is
renamed into place first and its sidecar last, so a run killed in between derives it again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from harness.cachedir import cache_root
from harness.errors import UserError
from harness.results.files import atomic_write_json

PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class QuantCache:
    """One cache directory of derived files."""

    root: Path

    @classmethod
    def open(cls, root: Path | None = None) -> QuantCache:
        """The cache under ``root`` (default: the user cache), checked writable now, before any work."""
        root, flag = cache_root(root)
        base = root / "quantized"
        try:
            base.mkdir(parents=True, exist_ok=True)
            probe = base / f".write-test-{os.getpid()}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise UserError(
                f"{flag} {base}: cannot write the quantization cache there ({exc.strerror}); "
                "choose a writable directory with --cache-dir or TIERBENCH_CACHE_DIR"
            ) from None
        cache = cls(base)
        cache.sweep_partials()
        return cache

    def target(self, source_sha: str, type_slug: str) -> Path:
        return self.root / f"{source_sha[:16]}-{type_slug}.gguf"

    @staticmethod
    def sidecar(path: Path) -> Path:
        return path.with_suffix(".json")

    def partial(self, final: Path) -> Path:
        return final.with_name(f".{final.name}.{os.getpid()}{PARTIAL_SUFFIX}")

    def lookup(self, final: Path) -> dict[str, Any] | None:
        """The sidecar of a complete cached file, or None (absent, torn or not matching)."""
        try:
            record = json.loads(self.sidecar(final).read_text(encoding="utf-8"))
            size = final.stat().st_size
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and record.get("size_bytes") == size else None

    def sweep_partials(self) -> None:
        """Remove partial files a killed process left behind (their writer no longer runs)."""
        for path in self.root.glob(f".*{PARTIAL_SUFFIX}"):
            pid = path.name.removesuffix(PARTIAL_SUFFIX).rsplit(".", 1)[-1]
            if pid.isdigit() and psutil.pid_exists(int(pid)) and int(pid) != os.getpid():
                continue
            path.unlink(missing_ok=True)

    # -- source hashes -------------------------------------------------------------------------
    def source_sha256(self, source: Path) -> str:
        """SHA-256 of ``source``, remembered by (path, size, mtime) so a run re-hashes only a changed file."""
        stat = source.stat()
        key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:24]
        memo = self.root / "sources" / f"{key}.json"
        try:
            known = json.loads(memo.read_text(encoding="utf-8"))
            if known.get("size") == stat.st_size and known.get("mtime_ns") == stat.st_mtime_ns:
                return str(known["sha256"])
        except (OSError, ValueError, KeyError, AttributeError):
            pass
        with source.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        try:
            memo.parent.mkdir(exist_ok=True)
            atomic_write_json(
                memo,
                {"path": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest},
            )
        except OSError:
            pass  # only a shortcut: the next run hashes again
        return digest
