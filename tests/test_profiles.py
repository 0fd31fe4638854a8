"""Hardware profiles: schema, shipped files, ``extends``, malformed files, emulation and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli.main import cli
from harness.config.profile import HardwareProfile
from harness.errors import ConfigError, UserError
from harness.hardware import all_profiles, get_profile, host_profile, load_profile_file, shipped_profile_paths
from harness.runner.planner import emulation

BASE = {
    "name": "base",
    "class": "edge",
    "cores": 1,
    "memory_mb": 512,
    "power": {"idle_watts": 1.0, "max_watts": 2.0, "source": "test bench"},
    "cost": {"usd_per_hour": 0.01},
    "sources": ["base source"],
}


def write(directory: Path, name: str, data: dict[str, object]) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_profile_file(path)
    message = str(caught.value)
    assert "\n" not in message, "errors are one line"
    return message


# -- shipped profiles -------------------------------------------------------------------------


def test_shipped_profiles_load_and_cite_sources() -> None:
    paths = shipped_profile_paths()
    for expected in ("raspberry-pi-5-8gb", "jetson-orin-nano-8gb", "laptop-4c-16gb", "cloud-vm-16c", "server-h100"):
        assert expected in paths
    for name, path in paths.items():
        profile = load_profile_file(path)
        assert profile.name == name, f"{path}: name must match the file name"
        assert profile.sources, f"{name}: cite where the figures come from"
        assert profile.power.source.strip() and profile.cost.source.strip(), name
        assert profile.power.max_watts >= profile.power.idle_watts > 0
        perf = profile.performance  # roofline figures for projection, each with its source
        assert perf is not None and perf.memory_bandwidth_source and perf.cpu_compute_source, name
        assert perf.storage_read_mbs and perf.storage_source, name


def test_edge_1c_1gb_is_one_core_one_gib() -> None:
    profile = get_profile("edge-1c-1gb")
    assert (profile.cores, profile.effective_threads, profile.memory_mb) == (1, 1, 1024)
    # inherited from the Raspberry Pi 5 through extends, with both profiles' sources
    assert profile.power == get_profile("raspberry-pi-5-8gb").power
    assert "https://www.raspberrypi.com/products/raspberry-pi-5/" in profile.sources


def test_gpu_profiles_carry_memory() -> None:
    for name in ("jetson-orin-nano-8gb", "server-h100"):
        accelerator = get_profile(name).accelerator
        assert accelerator.kind == "gpu" and accelerator.memory_gb


def test_host_is_detected() -> None:
    host = host_profile()
    assert host.name == "host" and host.cores >= 1 and host.memory_mb > 0
    assert get_profile("host") == host
    assert all_profiles()[0].name == "host"


def test_class_alias_round_trips() -> None:
    profile = HardwareProfile.model_validate(BASE)
    assert profile.device_class == "edge"
    assert profile.model_dump(by_alias=True)["class"] == "edge"


# -- extends ----------------------------------------------------------------------------------


def test_extends_merges_nested_fields_and_keeps_own_name(tmp_path: Path) -> None:
    write(tmp_path, "base", BASE)
    child = write(
        tmp_path,
        "child",
        {"extends": "base", "memory_mb": 256, "power": {"max_watts": 3.0}, "sources": ["child source"]},
    )
    profile = load_profile_file(child)
    assert profile.name == "child"  # the file's stem, never the parent's name
    assert profile.memory_mb == 256 and profile.cores == 1
    assert profile.power.idle_watts == 1.0 and profile.power.max_watts == 3.0
    assert profile.sources == ["child source", "base source"]
    assert profile.extends == "base"


def test_extends_host(tmp_path: Path) -> None:
    path = write(tmp_path, "small-host", {"extends": "host", "cores": 1, "memory_mb": 1024})
    profile = load_profile_file(path)
    assert profile.name == "small-host" and profile.cores == 1 and profile.memory_mb == 1024
    assert profile.power.source == host_profile().power.source


# -- malformed files: file, field and reason on one line --------------------------------------


def test_unknown_field_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "bad", {**BASE, "colour": "red"})
    message = error_of(path)
    assert str(path) in message and "'colour'" in message and "unknown field" in message


def test_negative_memory_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "bad", {**BASE, "memory_mb": -5})
    message = error_of(path)
    assert str(path) in message and "'memory_mb'" in message and "greater than 0" in message


def test_missing_power_block_is_rejected(tmp_path: Path) -> None:
    data = {k: v for k, v in BASE.items() if k != "power"}
    path = write(tmp_path, "bad", data)
    message = error_of(path)
    assert str(path) in message and "'power'" in message and "required" in message.lower()


@pytest.mark.parametrize("figure", ["idle_watts", "max_watts", "source"])
def test_missing_power_figure_is_rejected(tmp_path: Path, figure: str) -> None:
    power = {k: v for k, v in BASE["power"].items() if k != figure}  # type: ignore[attr-defined]
    path = write(tmp_path, "bad", {**BASE, "power": power})
    message = error_of(path)
    assert str(path) in message and f"'power.{figure}'" in message and "required" in message.lower()


def test_max_below_idle_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "bad", {**BASE, "power": {"idle_watts": 5, "max_watts": 2, "source": "x"}})
    assert "max_watts must be at least idle_watts" in error_of(path)


def test_gpu_without_memory_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "bad", {**BASE, "accelerator": {"kind": "gpu", "name": "X"}})
    message = error_of(path)
    assert "'accelerator'" in message and "memory_gb" in message


def test_extends_cycle_is_rejected(tmp_path: Path) -> None:
    a = write(tmp_path, "a", {**BASE, "name": "a", "extends": "b"})
    write(tmp_path, "b", {"name": "b", "extends": "a"})
    message = error_of(a)
    assert "'extends'" in message and "cycle (a -> b -> a)" in message and ".yaml" in message


def test_extends_itself_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "selfish", {**BASE, "name": "selfish", "extends": "selfish"})
    message = error_of(path)
    assert str(path) in message and "cycle" in message


def test_extends_unknown_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "orphan", {"extends": "no-such-device", "cores": 1})
    message = error_of(path)
    assert str(path) in message and "'extends'" in message and "unknown profile 'no-such-device'" in message


def test_unknown_name_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown profile 'nope'"):
        get_profile("nope")


# -- emulation --------------------------------------------------------------------------------


def test_emulation_labels_and_skips() -> None:
    host = host_profile().model_copy(update={"cores": 2, "memory_mb": 8192.0})
    emulated_on, skip = emulation(get_profile("edge-1c-1gb"), host)
    assert emulated_on and skip is None
    assert emulation(host, host) == (None, None)
    _, skip = emulation(get_profile("server-h100"), host)
    assert skip is not None and "needs a gpu" in skip
    _, skip = emulation(get_profile("cloud-vm-16c"), host)
    assert skip is not None and "16 cores" in skip and "offers 2" in skip


# -- CLI --------------------------------------------------------------------------------------


def test_cli_list_and_show(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["profiles", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row for row in json.loads(listed.output)}
    assert rows["host"]["here"] == "native"
    assert rows["server-h100"]["here"] in {"no", "native", "emulated"} and rows["server-h100"]["reason"]
    shown = runner.invoke(cli, ["profiles", "show", "edge-1c-1gb"])
    assert shown.exit_code == 0, shown.output
    data = yaml.safe_load(shown.output)
    assert data["cores"] == 1 and data["extends"] == "raspberry-pi-5-8gb" and data["power"]["source"]
    assert data["on_this_host"]["verdict"] in {"emulated", "no"}


def test_cli_show_bad_file_exits_2_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad", {**BASE, "memory_mb": -1})
    result = CliRunner().invoke(cli, ["profiles", "show", str(path)])
    assert result.exit_code == 2
    assert "memory_mb" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args", [["profiles", "--help"], ["profiles", "list", "--help"], ["profiles", "show", "--help"]]
)
def test_help(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and "Usage" in result.output


def test_emulation_on_a_gpu_host() -> None:
    """A GPU profile is skipped only when the host lacks the GPU or its memory, not on any GPU host."""
    from harness.config.profile import Accelerator

    big = Accelerator(kind="gpu", name="Big GPU", memory_gb=141)
    small = Accelerator(kind="gpu", name="Small GPU", memory_gb=4)
    host = host_profile().model_copy(update={"cores": 16, "memory_mb": 131072.0, "accelerator": big})
    jetson = get_profile("jetson-orin-nano-8gb")
    emulated_on, skip = emulation(jetson, host)
    assert emulated_on and skip is None
    _, skip = emulation(jetson, host.model_copy(update={"accelerator": small}))
    assert skip is not None and "needs 8 GB (8,192 MiB)" in skip and "Small GPU has 4,096 MiB" in skip


def test_server_h100_is_emulated_on_a_real_h100() -> None:
    """The figures a real H100 80GB HBM3 reports (nvidia-smi: 81,559 MiB) match the datasheet's 80 GB."""
    from harness.config.profile import Accelerator

    h100 = Accelerator(kind="gpu", name="NVIDIA H100 80GB HBM3", memory_gb=79.6, memory_mb=81559)
    host = host_profile().model_copy(update={"cores": 26, "memory_mb": 2_000_000.0, "accelerator": h100})
    emulated_on, skip = emulation(get_profile("server-h100"), host)
    assert emulated_on and skip is None
    # 8 % short of the datasheet's 81,920 MiB is another card, and the message says so in MiB
    smaller = h100.model_copy(update={"memory_mb": 75_000.0})
    _, skip = emulation(get_profile("server-h100"), host.model_copy(update={"accelerator": smaller}))
    assert skip is not None
    assert "needs 80 GB (81,920 MiB) (at least 76,186 MiB reported: 7% tolerance)" in skip
    assert "has 75,000 MiB" in skip


def test_host_gpu_detection_parses_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our parsing of nvidia-smi's CSV (the query itself is harness.meters.host.gpu_info)."""
    import harness.hardware as hardware

    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(
        hardware, "gpu_info", lambda: [{"name": "NVIDIA H200", "memory": "143771 MiB", "driver": "570.1"}]
    )
    hardware._host_accelerator.cache_clear()
    try:
        accelerator = hardware.host_profile().accelerator
    finally:
        hardware._host_accelerator.cache_clear()
    assert (accelerator.kind, accelerator.name, accelerator.memory_gb) == ("gpu", "NVIDIA H200", 140.4)
    assert accelerator.memory_mb == 143771  # compared in MiB, as reported, never the rounded GB
