"""Derive a ladder's rungs from one source GGUF with llama.cpp's quantizer, through the cache.

A rung above the source's precision is refused (it cannot be better than its source, and a table
must not suggest it is); requantizing an already-quantized source needs an explicit flag and the
rung then says "requantized from <type>". Each file is written under a partial name, checked
(GGUF magic, the file type llama.cpp reads back) and only then renamed into the cache.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.config.quant_types import UNQUANTIZED, QuantType, parse_type
from harness.errors import UserError
from harness.ladder.cache import QuantCache
from harness.ladder.gguf_file import GgufInfo, last_problem, read_info, run_tool
from harness.results.files import atomic_write_json


@dataclass(frozen=True)
class Rung:
    """One bit width of a ladder, ready to load."""

    type: QuantType
    path: Path
    info: GgufInfo
    source: Path
    source_type: str
    source_sha256: str
    requantized_from: str | None
    origin: str  # "source" (the file itself), "cache" (derived earlier) or "derived" (now)

    def label(self) -> str:
        """The words that go beside the rung's name everywhere it appears."""
        words = f"{self.type.name}, {self.info.bits_per_weight:.2f} bpw, {self.info.size_mb:.0f} MiB"
        if self.origin == "source":
            return f"{words}, source"
        if self.requantized_from:
            return f"{words}, requantized from {self.requantized_from}"
        return f"{words}, from {self.source_type}"


def check_targets(
    source_info: GgufInfo, types: Sequence[QuantType], allow_requantize: bool, where: str = "--types"
) -> None:
    """Refuse rungs above the source's precision, and requantizing without the flag."""
    source_type = source_info.file_type
    if source_type is None:
        raise UserError(
            f"{where}: cannot tell the source's precision (general.file_type {source_info.ftype} is unknown); "
            "use an F16, BF16, F32 or k-quant source"
        )
    for target in types:
        if target.name == source_type.name:
            continue
        if target.nominal_bpw > source_type.nominal_bpw:
            raise UserError(
                f"{where}: {target.name} is above the source's precision ({source_type.name}); a rung cannot be "
                f"better than its source — drop it or start from an F16 model"
            )
        if source_type.name not in UNQUANTIZED and not allow_requantize:
            raise UserError(
                f"{where}: the source is already quantized ({source_type.name}); deriving {target.name} from it "
                "requantizes and loses more than quantizing from F16 — pass --allow-requantize "
                "(catalog: allow_requantize: true) to do it anyway"
            )


def parse_types(names: Sequence[str], where: str = "--types") -> list[QuantType]:
    """Target types by name, highest precision first, each once."""
    if not names:
        raise UserError(f"{where}: name at least one type, e.g. Q4_K_M,Q3_K_M")
    found = {t.name: t for t in (parse_type(n, where) for n in names)}
    return sorted(found.values(), key=lambda t: -t.nominal_bpw)


def derive_ladder(
    source: Path,
    types: Sequence[QuantType],
    *,
    allow_requantize: bool,
    cache: QuantCache,
    where: str = "--types",
    what: str = "source",
    log: Callable[[str], None] = lambda _: None,
) -> list[Rung]:
    """Every rung of ``types`` from ``source``: the source itself, a cached file, or derived now."""
    source_info = read_info(source, what)
    check_targets(source_info, types, allow_requantize, where)
    assert source_info.file_type is not None
    sha = cache.source_sha256(source)
    source_type = source_info.file_type.name
    requantized = source_type if source_type not in UNQUANTIZED else None
    rungs: list[Rung] = []
    for target in types:
        if target.name == source_type:
            rungs.append(Rung(target, source, source_info, source, source_type, sha, None, "source"))
            continue
        final = cache.target(sha, target.slug)
        record = cache.lookup(final)
        if record is not None:
            log(f"{target.name}: cached {final}")
            info, origin = GgufInfo.from_json(record["info"]), "cache"
        else:
            log(f"{target.name}: deriving from {source.name} ({source_type}) ...")
            info, origin = _derive(source, target, final, requantized is not None, cache, sha, source_type), "derived"
            log(f"{target.name}: wrote {final} ({info.bits_per_weight:.2f} bpw, {info.size_mb:.0f} MiB)")
        rungs.append(Rung(target, final, info, source, source_type, sha, requantized, origin))
    return rungs


def _derive(
    source: Path, target: QuantType, final: Path, requantize: bool, cache: QuantCache, sha: str, source_type: str
) -> GgufInfo:
    """Quantize into a partial file, verify it, rename it into the cache; never leave the partial behind."""
    partial = cache.partial(final)
    threads = int(os.environ.get("TIERBENCH_THREADS", "0")) or os.cpu_count() or 1
    try:
        answer, stderr = run_tool(
            "quantize", str(source), str(partial), str(target.ftype), "1" if requantize else "0", str(threads)
        )
        if "error" in answer:
            raise UserError(_write_failure(target, final, answer["error"], stderr))
        info = read_info(partial, f"derived {target.name}")
        if info.ftype != target.ftype:
            raise UserError(
                f"derived {target.name}: llama.cpp wrote file type {info.ftype}, expected {target.ftype}; "
                "nothing was cached"
            )
        os.replace(partial, final)
        record = {"size_bytes": info.size_bytes, "type": target.name, "source": str(source), "source_sha256": sha}
        atomic_write_json(cache.sidecar(final), {**record, "source_type": source_type, "info": info.to_json()})
        return info
    except OSError as exc:
        raise UserError(_write_failure(target, final, f"{exc.strerror or exc}", "")) from None
    finally:
        partial.unlink(missing_ok=True)


def _write_failure(target: QuantType, final: Path, error: str, stderr: str) -> str:
    detail = last_problem(stderr) or error
    if "failed to quantize:" in detail:
        detail = detail[detail.index("failed to quantize:") :]
    free = shutil.disk_usage(final.parent).free / 2**20
    writing = any(s in detail + error for s in ("iostream", "No space", "File too large", "write"))
    why = f"writing the file failed, the disk is full or a file-size limit was hit ({free:.0f} MiB free)"
    return (
        f"quantize {target.name} -> {final.parent}: {why if writing else 'llama.cpp could not quantize'} "
        f"[{detail}]; the partial file was removed and nothing was cached — free space or choose another "
        "--cache-dir / TIERBENCH_CACHE_DIR"
    )
