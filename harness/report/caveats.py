"""The report's caveats: what a reader must know before trusting a figure (a cell that did not run, an
emulated profile, an estimated energy, a contended host, failed requests), one tagged line each."""

from __future__ import annotations

from harness.meters.contention import CONTENDED_SHARE
from harness.report.cellview import Caveat, CellView, TaskScore
from harness.report.formatting import fmt_range
from harness.report.samples import SamplePage
from harness.results.schema import CellStatus

CAVEAT_WHAT: dict[str, str] = {
    CellStatus.FAILED: "failed",
    CellStatus.SKIPPED: "was skipped",
    CellStatus.DOES_NOT_FIT: "does not fit the profile",
}


def _host_caveats(c: CellView) -> list[Caveat]:
    """Threads used vs cores seen, and what other processes took of those cores while it ran."""
    share, cores, threads = (c.numbers.get(k) for k in ("host_other_cpu_share", "cores_seen", "threads"))
    if share is None or cores is None or not c.ran:
        return []
    steal = c.numbers.get("host_steal_share")
    steal_text = f", steal {steal:.0%}" if steal else ""
    used = f"{int(threads)} thread(s) on {int(cores)} core(s) seen" if threads is not None else f"{int(cores)} core(s)"
    if share > CONTENDED_SHARE:
        text = (
            f"{c.label} ran contended: other processes took {share:.0%} of its cores{steal_text} "
            f"(limit {CONTENDED_SHARE:.0%}; {used}); its latency and throughput are not the model's. "
            "Rerun with tierbench run --quiet-host."
        )
        return [Caveat("contended", text)]
    return [Caveat("host", f"{c.label}: {used}; other processes took {share:.0%} of them{steal_text}.")]


def concurrency_notes(c: CellView) -> list[str]:
    """At what concurrency the cell's evaluation ran, and what the endpoint throttled (report and terminal)."""
    notes: list[str] = []
    in_flight, throttled = c.numbers.get("eval_concurrency_used"), c.numbers.get("throttled_requests")
    if in_flight is not None and in_flight > 1:
        notes.append(
            f"{c.label} was evaluated with up to {int(in_flight)} requests in flight: "
            "per-item latency is under concurrent load (each item's own request time, not a batch's)."
        )
    if throttled:
        notes.append(
            f"The endpoint throttled {int(throttled)} evaluation request(s) of {c.label} (HTTP 429/503): "
            "each was waited out and retried, none scored as a wrong answer; fewer were sent at once after it."
        )
    return notes


def truncation_lines(samples: SamplePage) -> list[str]:
    """Per model, profile and task: how many items ran out of tokens while reasoning (report and terminal)."""
    return [
        f"{model} on {profile}, {task}: {samples.truncation_text(model, profile, task)} (finish_reason length, "
        "no visible answer); they are scored wrong: a higher token limit may let the model answer."
        for (model, profile, task), cut in samples.truncated.items()
        if cut
    ]


def run_caveats(
    view_cells: list[CellView], scores: list[TaskScore], samples: SamplePage, cols: set[str]
) -> list[Caveat]:
    notes: list[Caveat] = []

    def add(kind: str, *lines: str) -> None:
        notes.extend(Caveat(kind, line) for line in lines)

    emulated: set[str] = set()
    for c in view_cells:
        if c.status != CellStatus.OK:
            add("cell", f"{c.label} {CAVEAT_WHAT.get(c.status, c.status)}: {c.reason or 'no reason recorded'}.")
        if c.emulated_on and c.profile not in emulated:
            emulated.add(c.profile)
            add(
                "emulated",
                f"{c.profile} was emulated on {c.emulated_on} (thread and memory caps): "
                "its latency and energy are not native figures of that device.",
            )
        if c.energy_source == "estimate" and c.numbers.get("energy_j") is not None:
            low, high = c.numbers.get("energy_j_low"), c.numbers.get("energy_j_high")
            span = f" (range {fmt_range(low, high, 'joules')})" if low is not None and high is not None else ""
            add("energy", f"Energy of {c.label} is estimated from the profile's power model{span}, not measured.")
        notes.extend(_host_caveats(c))
        add("concurrency", *concurrency_notes(c))
        add("native", *c.native_notes)
        spread, reps = c.numbers.get("e2e_s_rep_spread"), c.numbers.get("repetitions")
        if spread is not None and reps:
            add(
                "repetitions",
                f"Median E2E of {c.label} varied by {spread:.1%} between its {int(reps)} repetitions "
                "(largest over its points): the spread between runs, beside the interval within one.",
            )
        if errors := c.numbers.get("n_errors"):
            add("requests", f"{int(errors)} request(s) of {c.label} failed and are excluded.")
    for s in scores:
        if s.status != "ok" and s.primary:
            add(
                "task", f"Task {s.task} is {s.status} for {s.model} on {s.profile}: {s.reason or 'no reason recorded'}."
            )
    if "cost_per_1k_requests_usd" not in cols:
        add("data", "Cost per request was not computed by this run.")
    if "energy_per_request_j" not in cols:
        add("data", "Energy per request was not computed by this run.")
    add("reasoning", *truncation_lines(samples))
    if samples.torn_lines:
        add("data", f"{samples.torn_lines} unreadable line(s) in samples.jsonl were skipped.")
    return notes
