"""Peak memory: the kernel's high-water mark, split into anonymous and file-backed (mmap) parts."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.meters.memory import MemorySampler, read_status, support

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")

CHILD = textwrap.dedent(
    """
    import json, mmap, sys, time
    from harness.meters.memory import MemorySampler, reset_peak

    path, file_mb, anon_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with MemorySampler(interval_s=0.01) as sampler:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as weights:
            touched = sum(weights[i] for i in range(0, len(weights), 4096))  # fault in every page
            time.sleep(0.15)
        block = bytearray(b"\\x01") * (anon_mb * 2**20)  # written, so resident
        time.sleep(0.15)
        del block
    before = sampler.result
    reset_ok = reset_peak()
    print(json.dumps({"peak": before.__dict__, "reset": reset_ok, "after_reset": sampler.result.peak_rss_mb}))
    """
)


def test_status_fields_are_parsed_in_mib(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text(
        "Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t 51200 kB\nRssFile:\t 40960 kB\n"
    )
    assert read_status(status) == {"VmHWM": 200.0, "VmRSS": 100.0, "RssAnon": 50.0, "RssFile": 40.0}
    assert read_status(tmp_path / "missing") == {}


def test_without_vmhwm_the_sampled_peak_is_used_and_labelled(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("VmRSS:\t  102400 kB\nRssAnon:\t 51200 kB\nRssFile:\t 40960 kB\n")
    with MemorySampler(interval_s=0.01, status_path=status) as sampler:
        status.write_text("VmRSS:\t  307200 kB\nRssAnon:\t 256000 kB\nRssFile:\t 40960 kB\n")
        sampler.sample()
        status.write_text("VmRSS:\t  102400 kB\nRssAnon:\t 51200 kB\nRssFile:\t 40960 kB\n")
    result = sampler.result
    assert result.peak_rss_mb == 300.0 and result.peak_rss_source == "sampled VmRSS"
    assert result.peak_anon_mb == 250.0 and result.peak_file_mb == 40.0


def test_fresh_process_splits_anonymous_and_file_backed_peaks(tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x02" * (48 * 2**20))
    ballast = bytearray(b"\x01") * (300 * 2**20)  # a big parent must not leak into the child's peak
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(weights), "48", "96"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    del ballast
    report = json.loads(out)
    peak = report["peak"]
    assert peak["peak_rss_source"] == "VmHWM"
    assert peak["peak_file_mb"] >= 46  # the mmap'd "weights" show up as file-backed
    assert peak["peak_anon_mb"] >= 94  # the written block shows up as anonymous
    assert peak["peak_rss_mb"] >= peak["peak_anon_mb"]
    assert peak["peak_rss_mb"] < 250  # the child's own peak, not the 300 MiB parent's
    assert peak["samples"] >= 10
    if report["reset"]:
        assert report["after_reset"] < peak["peak_rss_mb"] - 50  # VmHWM restarts from current RSS


def test_support_names_what_is_missing(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("VmRSS:\t 100 kB\n")
    found = support(status, tmp_path / "clear_refs")
    assert found["VmHWM (kernel peak RSS)"] is not None and "VmHWM" in str(found["VmHWM (kernel peak RSS)"])
    assert "clear_refs" in str(found["peak reset (clear_refs)"])
    assert all(why is None for why in support().values())
