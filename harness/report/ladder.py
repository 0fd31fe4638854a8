"""The ladder view: every rung of a quantization ladder against its bits per weight, with the knee; rungs are
ordinary cells whose labels name a ladder, joined with the run's fidelity table."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from harness.report.cellview import Estimate, not_run_why
from harness.report.charts import PALETTE, Chart, _figure, error_bars, to_svg
from harness.report.formatting import clean, text
from harness.report.metrics import ACCURACY, ENERGY, MEMORY
from harness.report.view import RunView
from harness.results import RunStore
from harness.results.measure import cell_rows
from harness.stats import statistic_interval


@dataclass(frozen=True)
class LadderRung:
    model: str
    quant_type: str
    bits_per_weight: float | None
    file_mb: float | None
    label: str
    requantized_from: str
    accuracy: Estimate
    kl: Estimate
    top1: Estimate
    ppl: Estimate
    memory: Estimate
    decode_tps: Estimate
    energy: Estimate


@dataclass
class Ladder:
    name: str
    profile: str
    rungs: list[LadderRung]
    knee: str
    reference_ppl: Estimate = field(default_factory=lambda: Estimate(None, missing="no fidelity measured"))
    chart: Chart | None = None


def _est(row: dict[str, object] | None, key: str, low: str, high: str) -> Estimate:
    if not row:
        return Estimate(None, missing="no fidelity measured for this model")
    if text(row.get("status")) not in ("", "ok"):
        return Estimate(None, missing=f"fidelity failed: {text(row.get('reason'))}")
    return Estimate(clean(row.get(key)), clean(row.get(low)), clean(row.get(high)))


def _decode(view: RunView, model: str, profile: str) -> Estimate:
    """Median decode tokens/s of the rung's measured requests, with a bootstrap interval."""
    if view.requests.empty or "decode_tps" not in view.requests:
        return Estimate(None, missing="no performance scenario ran")
    mine = cell_rows(view.requests, model, profile)  # measured requests: warm-ups are already left out
    values = mine["decode_tps"].map(clean).dropna().to_numpy(dtype=float)
    if values.size == 0:
        return Estimate(None, missing="no decode throughput recorded")
    ci = statistic_interval(values, "p50", iterations=500, seed=values.size)
    return Estimate(float(np.median(values)), *(ci or (None, None)))


def knee(rungs: list[LadderRung]) -> str:
    """Where accuracy first falls below the top rung's 95% interval, walking down the bit widths."""
    ran = [r for r in rungs if r.accuracy.value is not None]
    if len(ran) < 2:
        return "Too few rungs with an accuracy to find a knee."
    top = ran[0]
    low, value = top.accuracy.low, top.accuracy.value or 0.0  # every rung in ran has a value: "or" narrows the type
    if low is None:
        return f"{top.quant_type} has no accuracy interval, so no drop can be called significant."
    band = f"{low:.0%}–{(top.accuracy.high or value):.0%}"
    for above, rung in itertools.pairwise(ran):
        if (rung.accuracy.value or 0.0) < low:
            return (
                f"Below {above.quant_type} accuracy drops by more than its 95% interval: {rung.quant_type} scores "
                f"{rung.accuracy.value:.0%} against {top.quant_type}'s {value:.0%} ({band})."
            )
    return (
        f"No rung's accuracy falls below {top.quant_type}'s 95% interval ({band}): down to {ran[-1].quant_type} "
        "the differences are within noise at this item count."
    )


def _chart(ladder: Ladder) -> Chart:
    key = f"ladder-{ladder.name}-{ladder.profile}"
    title = f"Ladder {ladder.name} on {ladder.profile}: accuracy and KL divergence vs bits per weight"
    points = [r for r in ladder.rungs if r.bits_per_weight is not None]
    if not points:
        return Chart(key, title, None, "No rung has a bits-per-weight label.")
    fig = _figure(7.0, 3.0)
    panels = ((ACCURACY.label, "accuracy"), ("KL divergence (nats)", "kl"))
    for i, (label, attr) in enumerate(panels):
        ax = fig.add_subplot(1, 2, i + 1)
        drawn: list[tuple[LadderRung, Estimate]] = [(r, getattr(r, attr)) for r in points if getattr(r, attr).known]
        if drawn:
            # every point has a bits per weight and every drawn estimate a value: "or 0.0" only narrows the type
            xs = [r.bits_per_weight or 0.0 for r, _ in drawn]
            ys = [e.value or 0.0 for _, e in drawn]
            ax.errorbar(xs, ys, yerr=error_bars([e for _, e in drawn]), fmt="o-", capsize=3, color=PALETTE[0])
            for x, y, (r, _) in zip(xs, ys, drawn, strict=True):
                ax.annotate(r.quant_type, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set(xlabel="bits per weight", ylabel=label)
    return Chart(key, title, to_svg(fig, key, title))


def build_ladders(view: RunView) -> list[Ladder]:
    """One ladder per (ladder label, profile), rungs from highest to lowest bits per weight."""
    store = RunStore.open(view.run_dir)
    cells = store.read_table("cells")
    if cells.empty or "ladder" not in cells:
        return []
    fidelity = {str(r["model"]): dict(r) for _, r in store.read_table("fidelity").iterrows()}
    ladders: dict[tuple[str, str], Ladder] = {}
    for _, row in cells.iterrows():
        name = text(row.get("ladder"))
        if not name:
            continue
        model, profile = text(row.get("model")), text(row.get("profile"))
        cell = view.cell(model, profile)
        if cell is None:
            continue
        fid = fidelity.get(model)
        rung = LadderRung(
            model=model,
            quant_type=text(row.get("quant_type")),
            bits_per_weight=clean(row.get("bits_per_weight")),
            file_mb=clean(row.get("quant_file_mb")),
            label=text(row.get("quant_label")),
            requantized_from=text(row.get("requantized_from")),
            accuracy=cell.get(ACCURACY.key),
            kl=_est(fid, "kl_mean", "kl_ci_low", "kl_ci_high"),
            top1=_est(fid, "top1_agreement", "top1_ci_low", "top1_ci_high"),
            ppl=_est(fid, "ppl", "ppl_ci_low", "ppl_ci_high"),
            memory=cell.get(MEMORY.key),
            decode_tps=_decode(view, model, profile) if cell.ran else Estimate(None, missing=not_run_why(cell.status)),
            energy=cell.get(ENERGY.key),
        )
        ladder = ladders.setdefault((name, profile), Ladder(name, profile, [], ""))
        ladder.rungs.append(rung)
        if fid and ladder.reference_ppl.value is None:
            ladder.reference_ppl = _est(fid, "ppl_reference", "ppl_reference_ci_low", "ppl_reference_ci_high")
    for ladder in ladders.values():
        ladder.rungs.sort(key=lambda r: -(r.bits_per_weight or 0.0))
        ladder.knee = knee(ladder.rungs)
        ladder.chart = _chart(ladder)
    return list(ladders.values())
