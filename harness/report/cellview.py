"""The report's view types: one cell, one task score, one latency row, one caveat, each value with its interval
or the reason it is missing (so no page ever says NaN or leaves a blank)."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.results.schema import PROJECTED, CellStatus

# why a figure is missing, for each status of a cell that did not run
STATUS_WHY: dict[str, str] = {
    CellStatus.FAILED: "cell failed",
    CellStatus.SKIPPED: "cell skipped",
    CellStatus.DOES_NOT_FIT: "does not fit the profile",
}


def not_run_why(status: str) -> str:
    """Why a metric of a cell that did not run is missing."""
    return STATUS_WHY.get(status, f"cell {status}")


def fit_verdict(fit: str) -> bool | None:
    """fitcost's verdict (fits, does_not_fit or unknown), for measured and projected cells alike."""
    return {"fits": True, "does_not_fit": False}.get(fit)


@dataclass(frozen=True)
class Estimate:
    """A value with an optional 95% interval, or the reason it is missing."""

    value: float | None
    low: float | None = None
    high: float | None = None
    missing: str = ""

    @property
    def known(self) -> bool:
        return self.value is not None

    @property
    def interval(self) -> tuple[float, float] | None:
        """(low, high) when both ends are known."""
        return None if self.low is None or self.high is None else (self.low, self.high)


@dataclass
class CellView:
    model: str
    tier: str
    backend: str
    profile: str
    status: str
    reason: str
    emulated_on: str
    energy_source: str
    metrics: dict[str, Estimate]
    numbers: dict[str, float | None] = field(default_factory=dict)
    tasks_scored: int = 0
    tasks_total: int = 0
    items: int = 0
    fit: bool | None = None
    fit_reason: str = ""
    cost_basis: str = ""
    projected_from: str = ""
    quant_label: str = ""  # a quantization rung's type, bits per weight and source (catalog labels)
    base_model: str = ""  # the catalog entry a variant or ladder rung was expanded from (catalog labels)
    variant: str = ""  # what this variant sets, e.g. "reasoning_effort=high"
    ladder: str = ""  # the quantization ladder a rung belongs to
    native_fallback: str = ""  # native kernels turned off because they crashed on this machine, and why
    retried_after: str = ""  # the worker crash after which the cell ran again with the safest settings

    # the peak-memory metric: GPU memory for a GPU cell, else host RSS (which stays in numbers["peak_rss_mb"])
    memory_label: str = "host RSS"
    memory_on_gpu: bool = False

    @property
    def native_notes(self) -> list[str]:
        """What the cell's figures owe to native-crash safety: kernels turned off, a retry after a crash."""
        notes = [f"{self.label}: {self.native_fallback}."] if self.native_fallback else []
        if self.retried_after:
            notes.append(
                f"{self.label} ran again with the safest settings after its worker crashed ({self.retried_after})."
            )
        return notes

    @property
    def ran(self) -> bool:
        return self.status in (CellStatus.OK, PROJECTED)

    @property
    def label(self) -> str:
        return f"{self.model} on {self.profile}"

    def get(self, key: str) -> Estimate:
        return self.metrics.get(key, Estimate(None, missing="not measured"))


@dataclass(frozen=True)
class TaskScore:
    model: str
    tier: str
    profile: str
    task: str
    metric: str
    value: float | None
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None
    status: str
    reason: str
    primary: bool


@dataclass(frozen=True)
class LatencyRow:
    model: str
    profile: str
    scenario: str
    point: str
    metric: str
    stats: dict[str, float | None]
    errors: int
    warmups: int


@dataclass(frozen=True)
class Caveat:
    """One line of the report's caveats, tagged with its kind (cell, energy, projected, ...)."""

    kind: str
    text: str
