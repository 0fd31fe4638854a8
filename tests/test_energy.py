"""Energy meters: RAPL against a fake sysfs tree, NVML behind its seam, and the fallback chain."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.config.profile import HardwareProfile
from harness.meters.energy import EstimateMeter, MeterChain, select_meter
from harness.meters.nvml import NvmlNotSupported, NvmlSensor
from harness.meters.rapl import RaplSensor, discover
from harness.meters.sensor import CounterMeter, SensorError, SensorUnavailable

EXACT = {"rel": 1e-9, "abs": 1e-9}
MAX_RANGE_UJ = 1_000_000_000  # 1000 J, small so that wrap-around is easy to script


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write_domain(root: Path, directory: str, name: str, energy_uj: int, max_uj: int = MAX_RANGE_UJ) -> Path:
    path = root / directory
    path.mkdir(parents=True, exist_ok=True)
    (path / "name").write_text(f"{name}\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return path


def set_energy(root: Path, directory: str, joules: float) -> None:
    (root / directory / "energy_uj").write_text(f"{round(joules * 1e6)}\n")


@pytest.fixture
def powercap(tmp_path: Path) -> Path:
    """package-0 with core/uncore (inside the package) and dram (outside it), psys, and the mmio mirror."""
    root = tmp_path / "powercap"
    write_domain(root, "intel-rapl", "ignored-control-type", 0)
    write_domain(root, "intel-rapl:0", "package-0", 100_000_000)
    write_domain(root, "intel-rapl:0:0", "core", 50_000_000)
    write_domain(root, "intel-rapl:0:1", "uncore", 10_000_000)
    write_domain(root, "intel-rapl:0:2", "dram", 20_000_000)
    write_domain(root, "intel-rapl:1", "psys", 500_000_000)
    write_domain(root, "intel-rapl-mmio:0", "package-0", 100_000_000)
    return root


def profile(name: str = "pi", idle: float = 2.0, peak: float = 10.0, cores: int = 4) -> HardwareProfile:
    return HardwareProfile.model_validate(
        {
            "name": name,
            "class": "edge",
            "cores": cores,
            "memory_mb": 4096,
            "power": {"idle_watts": idle, "max_watts": peak, "source": "test datasheet"},
            "cost": {"usd_per_hour": 0.0},
        }
    )


class NoNvml:
    """An NVML seam on a machine without a driver."""

    def init(self) -> None:
        raise SensorUnavailable("no NVIDIA driver (test)")

    def shutdown(self) -> None:
        return None


# -- RAPL ----------------------------------------------------------------------------------------


def test_only_package_and_dram_are_counted(powercap: Path) -> None:
    keys = [d.key for d in discover(powercap)]
    assert keys == ["package-0", "package-0/dram"]  # no core/uncore/psys/mmio double counting


def rapl_meter(root: Path, clock: FakeClock, on_sleep: Callable[[], None], idle_s: float = 2.0) -> CounterMeter:
    def sleep(seconds: float) -> None:
        clock.now += seconds
        on_sleep()

    return CounterMeter(RaplSensor(root), idle_s=idle_s, poll_s=0, clock=clock, sleep=sleep)


def test_rapl_total_idle_and_dynamic_energy(powercap: Path) -> None:
    clock = FakeClock()

    def idle_window() -> None:  # 2 s idle: package +2 J, dram +0.5 J -> 1.25 W
        set_energy(powercap, "intel-rapl:0", 102.0)
        set_energy(powercap, "intel-rapl:0:2", 20.5)

    meter = rapl_meter(powercap, clock, idle_window)
    meter.start()
    clock.now += 4.0
    set_energy(powercap, "intel-rapl:0", 112.0)  # +10 J
    set_energy(powercap, "intel-rapl:0:2", 22.5)  # +2 J
    set_energy(powercap, "intel-rapl:0:0", 99.0)  # core is inside the package: never added
    set_energy(powercap, "intel-rapl:1", 900.0)  # psys contains everything: never added
    reading = meter.stop()
    assert reading.source == "rapl"
    assert "package-0" in reading.scope and "dram" in reading.scope
    assert reading.joules == pytest.approx(12.0, **EXACT)
    assert reading.idle_power_w == pytest.approx(1.25, **EXACT)
    assert reading.idle_j == pytest.approx(5.0, **EXACT)
    assert reading.dynamic_j == pytest.approx(7.0, **EXACT)
    assert reading.duration_s == pytest.approx(4.0, **EXACT)


def test_rapl_counter_wrap_around(powercap: Path) -> None:
    set_energy(powercap, "intel-rapl:0", 999.0)
    meter = rapl_meter(powercap, FakeClock(), lambda: None, idle_s=0)
    meter.start()
    set_energy(powercap, "intel-rapl:0", 3.0)  # wrapped at 1000 J
    set_energy(powercap, "intel-rapl:0:2", 21.0)
    reading = meter.stop()
    assert reading.joules == pytest.approx(4.0 + 1.0, **EXACT)


def test_polling_catches_more_than_one_wrap(powercap: Path) -> None:
    meter = rapl_meter(powercap, FakeClock(), lambda: None, idle_s=0)
    meter.start()  # package at 100 J
    set_energy(powercap, "intel-rapl:0", 900.0)
    meter.poll()  # +800
    set_energy(powercap, "intel-rapl:0", 50.0)
    meter.poll()  # wrapped: +150
    set_energy(powercap, "intel-rapl:0", 60.0)
    assert meter.stop().joules == pytest.approx(960.0, **EXACT)


def deny(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """Make ``target`` unreadable, as RAPL's energy_uj is for non-root users."""
    if os.geteuid() != 0:
        target.chmod(0)
        return
    original = Path.read_text

    def read_text(self: Path, *args: object, **kwargs: object) -> str:
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", read_text)


def test_unreadable_counter_is_reported_not_fatal(powercap: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deny(monkeypatch, powercap / "intel-rapl:0" / "energy_uj")
    with pytest.raises(SensorUnavailable, match="root-only"):
        RaplSensor(powercap).open()
    chain = select_meter(profile("host"), native=True, idle_s=0, powercap_root=powercap, nvml_api=NoNvml())
    chain.start()
    reading = chain.stop()
    assert reading.source == "estimate"
    assert reading.joules is not None and reading.low_j is not None and reading.high_j is not None
    notes = " ".join(reading.notes)
    assert "rapl unavailable: permission denied" in notes and "nvml unavailable: no NVIDIA driver" in notes


def test_missing_powercap_says_why(tmp_path: Path) -> None:
    with pytest.raises(SensorUnavailable, match="does not exist"):
        discover(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SensorUnavailable, match="no intel-rapl"):
        discover(tmp_path / "empty")


def test_sensor_failing_mid_run_degrades_to_the_estimate_with_a_note(powercap: Path) -> None:
    chain = select_meter(profile("host"), native=True, idle_s=0, powercap_root=powercap, nvml_api=NoNvml())
    chain.start()
    assert chain.source == "rapl"
    counter = powercap / "intel-rapl:0" / "energy_uj"
    counter.unlink()
    counter.mkdir()  # reading it now fails with an OSError
    reading = chain.stop()
    assert reading.source == "estimate"
    assert reading.low_j is not None and reading.joules is not None and reading.high_j is not None
    assert reading.low_j <= reading.joules <= reading.high_j
    assert any("rapl failed during the run" in note for note in reading.notes)


def test_rapl_measures_through_the_chain(powercap: Path) -> None:
    chain = select_meter(profile("host"), native=True, idle_s=0, powercap_root=powercap, nvml_api=NoNvml())
    chain.start()
    set_energy(powercap, "intel-rapl:0", 130.0)
    reading = chain.stop()
    assert (reading.source, reading.joules) == ("rapl", pytest.approx(30.0, **EXACT))
    assert reading.low_j is None  # a measurement is a point, not a range


def test_emulated_profile_always_uses_its_power_model(powercap: Path) -> None:
    chain = select_meter(profile("pi"), native=False, idle_s=0, powercap_root=powercap, nvml_api=NoNvml())
    assert chain.sensors == []
    chain.start()
    reading = chain.stop()
    assert reading.source == "estimate"
    assert "emulated" in reading.notes[0]


# -- NVML ----------------------------------------------------------------------------------------


class FakeNvml:
    """One GPU whose energy counter (or only its power) follows the scripted clock."""

    def __init__(self, clock: FakeClock, counter: bool, watts: Callable[[float], float]) -> None:
        self.clock = clock
        self.counter = counter
        self.watts = watts
        self.energy_mj = 5_000_000
        self.shutdowns = 0

    def init(self) -> None:
        return None

    def shutdown(self) -> None:
        self.shutdowns += 1

    def device_count(self) -> int:
        return 1

    def name(self, index: int) -> str:
        return "Fake H100"

    def total_energy_mj(self, index: int) -> int:
        if not self.counter:
            raise NvmlNotSupported("no energy counter before Volta")
        return self.energy_mj

    def power_mw(self, index: int) -> int:
        return round(self.watts(self.clock.now) * 1000)

    def process_memory_mb(self, index: int, pid: int) -> float | None:
        return 512.0


def test_nvml_total_energy_counter() -> None:
    clock = FakeClock()
    api = FakeNvml(clock, counter=True, watts=lambda t: 0.0)

    def sleep(seconds: float) -> None:
        clock.now += seconds
        api.energy_mj += 200_000  # 100 W idle over 2 s

    meter = CounterMeter(NvmlSensor(api, background=False, clock=clock), idle_s=2.0, poll_s=0, clock=clock, sleep=sleep)
    meter.start()
    clock.now += 4.0
    api.energy_mj += 1_000_000
    reading = meter.stop()
    assert reading.source == "nvml" and "total-energy counter" in reading.scope
    assert reading.joules == pytest.approx(1000.0, **EXACT)
    assert reading.idle_j == pytest.approx(400.0, **EXACT)
    assert reading.dynamic_j == pytest.approx(600.0, **EXACT)


def test_nvml_power_integration_fallback() -> None:
    clock = FakeClock()
    api = FakeNvml(clock, counter=False, watts=lambda t: 50.0 if t <= 2.0 else 150.0)

    def sleep(seconds: float) -> None:
        clock.now += seconds

    sensor = NvmlSensor(api, background=False, clock=clock)
    meter = CounterMeter(sensor, idle_s=2.0, poll_s=0, clock=clock, sleep=sleep)
    meter.start()  # idle: 50 W sampled at 0 s and 2 s
    clock.now = 2.5
    meter.poll()  # trapezoid (50 + 150) / 2 * 0.5 = 50 J
    clock.now = 6.0
    reading = meter.stop()  # + 150 W * 3.5 s = 525 J
    assert "power integrated" in reading.scope
    assert reading.idle_power_w == pytest.approx(50.0, **EXACT)
    assert reading.joules == pytest.approx(575.0, **EXACT)
    assert reading.idle_j == pytest.approx(200.0, **EXACT)


def test_nvml_counter_that_does_not_advance_is_unknown_not_zero() -> None:
    clock = FakeClock()
    api = FakeNvml(clock, counter=True, watts=lambda t: 0.0)
    meter = CounterMeter(NvmlSensor(api, background=False, clock=clock), idle_s=0, poll_s=0, clock=clock)
    meter.start()
    clock.now += 0.05  # shorter than NVML's ~100 ms update period
    with pytest.raises(SensorError, match="did not advance"):
        meter.stop()
    chain = MeterChain([CounterMeter(NvmlSensor(api, background=False, clock=clock), idle_s=0, poll_s=0)], estimate())
    chain.start()
    reading = chain.stop()
    assert reading.source == "estimate" and any("nvml failed" in n for n in reading.notes)


def test_rapl_and_nvml_together_are_summed(powercap: Path) -> None:
    clock = FakeClock()
    api = FakeNvml(clock, counter=True, watts=lambda t: 0.0)
    chain = select_meter(profile("host"), native=True, idle_s=0, powercap_root=powercap, nvml_api=api)
    chain.start()
    assert chain.source == "rapl+nvml"
    set_energy(powercap, "intel-rapl:0", 110.0)
    api.energy_mj += 40_000
    reading = chain.stop()
    assert reading.source == "rapl+nvml"
    assert reading.joules == pytest.approx(50.0, **EXACT)
    assert "RAPL" in reading.scope and "NVML" in reading.scope


# -- estimate ------------------------------------------------------------------------------------


class FakeProcess:
    def __init__(self) -> None:
        self.cpu = 0.0

    def cpu_times(self) -> SimpleNamespace:
        return SimpleNamespace(user=self.cpu * 0.75, system=self.cpu * 0.25, children_user=0.0, children_system=0.0)


def estimate(process: FakeProcess | None = None, clock: FakeClock | None = None) -> EstimateMeter:
    return EstimateMeter(
        profile().power,
        cores=4,
        process=process or FakeProcess(),  # type: ignore[arg-type]
        clock=clock or FakeClock(),
    )


def test_estimate_is_a_range_from_the_power_model() -> None:
    clock, process = FakeClock(), FakeProcess()
    meter = estimate(process, clock)
    meter.start()
    clock.now += 10.0
    process.cpu += 20.0  # 2 of 4 cores busy: utilisation 0.5
    reading = meter.stop()
    # idle 2 W * 10 s = 20 J; dynamic (10 - 2) W * 0.5 * 10 s = 40 J
    assert reading.source == "estimate"
    assert reading.joules == pytest.approx(60.0, **EXACT)
    assert reading.idle_j == pytest.approx(20.0, **EXACT)
    assert reading.low_j == pytest.approx(20 * 0.9 + 40 * 0.7, **EXACT)
    assert reading.high_j == pytest.approx(20 * 1.1 + 40 * 1.3, **EXACT)
    assert reading.columns()["energy_source"] == "estimate"
