"""``tierbench doctor`` names each sensor, whether it works here, and exactly why not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.main import cli


def fake_rapl(root: Path) -> Path:
    for directory, name in (("intel-rapl:0", "package-0"), ("intel-rapl:0:0", "dram")):
        (root / directory).mkdir(parents=True)
        (root / directory / "name").write_text(name)
        (root / directory / "energy_uj").write_text("123456")
        (root / directory / "max_energy_range_uj").write_text("262143328850")
    return root


def doctor_json(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["doctor", "--json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output)
    return data


def by_name(data: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(c["name"]): c for c in data["capabilities"]}  # type: ignore[attr-defined]


def test_missing_rapl_is_explained_and_estimate_is_the_source(tmp_path: Path) -> None:
    data = doctor_json("--powercap-root", str(tmp_path / "none"))
    caps = by_name(data)
    assert caps["rapl"]["available"] is False
    assert "does not exist" in str(caps["rapl"]["detail"])
    assert caps["estimate"]["available"] is True and "W" in str(caps["estimate"]["detail"])
    assert caps["nvml"]["detail"]  # a reason (no pynvml / no driver / no GPU) or the GPU found
    if not caps["nvml"]["available"]:
        assert data["energy_source"] == "estimate"
    host = data["host"]
    assert isinstance(host, dict) and host["cpu_model"] and host["python"]


def test_readable_rapl_is_found(tmp_path: Path) -> None:
    data = doctor_json("--powercap-root", str(fake_rapl(tmp_path / "powercap")))
    caps = by_name(data)
    assert caps["rapl"]["available"] is True
    assert "package-0" in str(caps["rapl"]["detail"])
    assert str(data["energy_source"]).startswith("rapl")


def test_table_output_and_help() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["doctor"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for word in ("rapl", "nvml", "estimate", "VmHWM", "RssAnon", "Host:"):
        assert word in result.output
    assert runner.invoke(cli, ["doctor", "--help"]).exit_code == 0


@pytest.mark.parametrize(
    ("file", "content", "reason"),
    [
        ("intel-rapl:0/energy_uj", b"garbage[bold]x[/]\n", "energy_uj: not a number: 'garbage[bold]x[/]'"),
        ("intel-rapl:0/energy_uj", b"\xff\xfe\x00", "energy_uj: not text: b'\\xff\\xfe\\x00'"),
        ("intel-rapl:0/energy_uj", b"1_000", "energy_uj: not a number: '1_000'"),  # int() would take it
        ("intel-rapl:0:0/max_energy_range_uj", b"-5", "max_energy_range_uj: not a number: '-5'"),
        ("intel-rapl:0/name", b"\xff", "name: not text"),
        ("intel-rapl:0/energy_uj", None, "energy_uj: not a regular file"),  # a directory in its place
    ],
    ids=["markup", "not-text", "underscore", "negative-range", "name-not-text", "directory"],
)
def test_a_garbage_counter_makes_rapl_unavailable_with_the_reason(
    tmp_path: Path, file: str, content: bytes | None, reason: str
) -> None:
    root = fake_rapl(tmp_path / "powercap")
    target = root / file
    if content is None:
        target.unlink()
        target.mkdir()
    else:
        target.write_bytes(content)
    caps = by_name(doctor_json("--powercap-root", str(root)))
    assert caps["rapl"]["available"] is False
    assert reason in str(caps["rapl"]["detail"]), caps["rapl"]["detail"]
    table = CliRunner().invoke(cli, ["doctor", "--powercap-root", str(root)], env={"COLUMNS": "300"})
    assert table.exit_code == 0, f"{table.output}\n{table.exception!r}"
    assert reason in " ".join(table.output.split())  # printed as written: rich markup stays text


def test_llama_cpp_offload_is_reported_with_the_cuda_install_line() -> None:
    """Our reading of llama_supports_gpu_offload(); a module stand-in, since the answer is the build's."""
    from types import ModuleType

    from harness.meters.doctor import LLAMA_CUDA_INSTALL, llama_offload_capability

    cpu_build, gpu_build = ModuleType("llama_cpp"), ModuleType("llama_cpp")
    cpu_build.__dict__.update(__version__="0.3.36", llama_supports_gpu_offload=lambda: False)
    gpu_build.__dict__.update(__version__="0.3.36", llama_supports_gpu_offload=lambda: True)
    cpu = llama_offload_capability(cpu_build)
    assert not cpu.available and "CPU-only build" in cpu.detail and LLAMA_CUDA_INSTALL in cpu.detail
    assert "-DGGML_CUDA=on" in LLAMA_CUDA_INSTALL
    assert llama_offload_capability(gpu_build).available
    assert "llama.cpp offload" in by_name(doctor_json())  # the command lists it, whatever this build is
