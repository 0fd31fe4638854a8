"""Replay a cascade from a run's per-item samples: the threshold sweep, baselines and summary figures.

Thresholds are quantiles of each tier's signal on a seeded half of the items (stratified by
task); every figure is scored on the other half, so the headline is not fitted to the items it
reports on. See docs/cascade.md for every definition.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.cascade import gains
from harness.cascade.chain import Step, chain_text, default_chain, parse_chain, resolve_chain
from harness.cascade.items import ItemKey, ItemTable, check_signal, join_items, samples_by_cell
from harness.cascade.routing import TierRates, cascade_outcome, oracle_outcome, single_outcome, thresholds_at
from harness.cascade.stats import FIGURES, Figures, measure, random_routing
from harness.cascade.verdict import Goal, Option, choose_point, recommendation
from harness.errors import UserError
from harness.results import RunStore
from harness.results.files import atomic_write_bytes
from harness.results.signals import SIGNALS
from harness.results.values import finite_or_none
from harness.stats import resample_index

DEFAULT_POINTS = 21
DEFAULT_BOOT = 1000


@dataclass(frozen=True)
class ReplayConfig:
    """What to replay: the chain (None: the run's local tiers, cheapest first), signal, seed, sweep size."""

    chain: str | None = None
    signal: str | None = None
    seed: int = 0
    points: int = DEFAULT_POINTS
    n_boot: int = DEFAULT_BOOT
    profile: str | None = None


@dataclass
class ReplayResult:
    """The curve and baselines on the held-out items, the chosen point and the summary figures."""

    steps: list[Step]
    signal: str
    config: ReplayConfig
    levels: np.ndarray
    thresholds: np.ndarray  # (m, k-1), from the fit half
    fit_keys: list[ItemKey]
    test_keys: list[ItemKey]
    excluded: Counter[str]
    curve: Figures
    tiers: Figures
    random: Figures
    oracle: Figures
    chosen: int
    chosen_how: str
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def chain(self) -> str:
        return chain_text(self.steps)

    def frame(self) -> pd.DataFrame:
        """One row per curve point, single tier, random-routing point and the oracle (the cascade.parquet table)."""
        k = len(self.steps)
        rows: list[dict[str, Any]] = []

        def add(kind: str, label: str, figs: Figures, i: int, level: float | None, thr: np.ndarray | None) -> None:
            row: dict[str, Any] = {"kind": kind, "label": label, "chosen": kind == "cascade" and i == self.chosen}
            row["quantile"], row["threshold"] = level, threshold_text(thr) if thr is not None else None
            row.update({f"threshold_{j + 1}": None if thr is None else float(thr[j]) for j in range(k - 1)})
            for name in (*FIGURES, *(f"reach_{j}" for j in range(k))):
                if name not in figs.point:
                    row[name] = row[f"{name}_low"] = row[f"{name}_high"] = None
                    continue
                low, high = figs.interval(name)
                row[name] = finite_or_none(figs.point[name][i])
                row[f"{name}_low"], row[f"{name}_high"] = finite_or_none(low[i]), finite_or_none(high[i])
            rows.append(row)

        for i, level in enumerate(self.levels):
            add("cascade", self.chain, self.curve, i, float(level), self.thresholds[i])
        for j, step in enumerate(self.steps):
            add("tier", step.model, self.tiers, j, None, None)
        for i, level in enumerate(self.levels):
            add("random", f"random escalation ({self.chain})", self.random, i, float(level), None)
        add("oracle", f"oracle ({self.chain})", self.oracle, 0, None, None)
        return pd.DataFrame(rows)


def threshold_text(thresholds: np.ndarray) -> str:
    """``0.62`` (or ``0.62 / 0.4`` for longer chains); the sweep's ends say what they mean."""
    if np.all(np.isneginf(thresholds)):
        return "never escalate"
    if np.all(np.isposinf(thresholds)):
        return "always escalate"
    return " / ".join(f"{t:.3g}" for t in thresholds)


def split_halves(items: ItemTable, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, test rows): each task's items shuffled with ``seed`` and halved, so both halves mix tasks alike."""
    rng = np.random.default_rng(seed)
    tasks = items.tasks
    fit: list[int] = []
    test: list[int] = []
    for task in dict.fromkeys(tasks):
        rows = rng.permutation(np.nonzero(tasks == task)[0])
        half = len(rows) // 2
        fit += rows[:half].tolist()
        test += rows[half:].tolist()
    return np.array(sorted(fit), dtype=int), np.array(sorted(test), dtype=int)


def select_steps(run_dir: Path, cells: pd.DataFrame, config: ReplayConfig) -> list[Step]:
    """The chain asked for, or the run's local tiers on one profile (at least two)."""
    if config.chain is not None:
        return resolve_chain(parse_chain(config.chain), cells, config.profile)
    steps = default_chain(cells, config.profile)
    if len(steps) < 2:
        names = ", ".join(s.model for s in steps) or "none"
        raise UserError(
            f"{run_dir}: a cascade needs two local tiers that ran on one profile (here: {names}); "
            "name a chain with tierbench cascade RUN --chain"
        )
    return steps


def replay_run(run_dir: Path, config: ReplayConfig, goal: Goal | None = None) -> ReplayResult:
    """Read RUN and replay the chain; every input problem is a one-line UserError."""
    if config.points < 3:
        raise UserError(f"--thresholds {config.points}: the sweep needs at least 3 points")
    store = RunStore.open(run_dir)
    steps = select_steps(run_dir, store.read_table("cells"), config)
    where = str(store.layout.samples)
    by_cell = samples_by_cell(store.read_samples(), steps)
    signal = check_signal(config.signal, by_cell, steps, where)
    items = join_items(by_cell, steps, signal, where)
    if goal is None:
        goal = Goal.from_suite(store.read_meta().suite)
    k = len(steps)
    rates = TierRates.of(steps)
    paid_check = signal in SIGNALS and SIGNALS[signal].extra_cost
    fit_rows, test_rows = split_halves(items, config.seed)
    fit, test = items.subset(fit_rows), items.subset(test_rows)
    levels = np.linspace(0.0, 1.0, config.points)
    thresholds = thresholds_at(levels, fit.confidence)

    fit_idx = np.zeros((0, fit.n), dtype=int)
    fit_curve = measure(cascade_outcome(fit, thresholds, rates, paid_check), fit_idx)
    fit_tiers = measure(single_outcome(fit, rates), fit_idx)
    chosen, how = choose_point(fit_curve.point, float(fit_tiers.point["accuracy"][-1]), goal, k)

    idx = resample_index(test.n, config.n_boot, np.random.default_rng(config.seed))  # the same for every point
    curve = measure(cascade_outcome(test, thresholds, rates, paid_check), idx)
    tiers = measure(single_outcome(test, rates), idx)
    oracle = measure(oracle_outcome(test, rates), idx)
    result = ReplayResult(
        steps=steps,
        signal=signal,
        config=config,
        levels=levels,
        thresholds=thresholds,
        fit_keys=fit.keys,
        test_keys=test.keys,
        excluded=items.excluded,
        curve=curve,
        tiers=tiers,
        random=random_routing(curve, tiers, rates),
        oracle=oracle,
        chosen=chosen,
        chosen_how=how,
    )
    result.summary = _summary(result, goal, fit_curve, k)
    return result


def _summary(result: ReplayResult, goal: Goal, fit_curve: Figures, k: int) -> dict[str, Any]:
    curve, tiers = result.curve, result.tiers
    weak, strong = float(tiers.point["accuracy"][0]), float(tiers.point["accuracy"][-1])
    share, acc, i = curve.point[f"reach_{k - 1}"], curve.point["accuracy"], result.chosen
    boot_acc, boot_share = curve.boot["accuracy"], curve.boot[f"reach_{k - 1}"]
    boot_weak, boot_strong = tiers.boot["accuracy"][0], tiers.boot["accuracy"][-1]
    n_boot = boot_acc.shape[1]

    def figure(gain: Callable[..., float | None], *fraction: float) -> dict[str, float | None]:
        """A gain on the curve, and its interval over the same gain on every bootstrap resample."""
        reps = [gain(boot_share[:, b], boot_acc[:, b], boot_weak[b], boot_strong[b], *fraction) for b in range(n_boot)]
        low, high = gains.interval(reps)
        return {"value": gain(share, acc, weak, strong, *fraction), "low": low, "high": high}

    def pgr_at_chosen(share: np.ndarray, acc: np.ndarray, weak: float, strong: float) -> float | None:
        return gains.pgr(float(acc[i]), weak, strong)

    def option(name: str, figs: Figures, j: int) -> Option:
        p = figs.point
        return Option(name, float(p["accuracy"][j]), float(p["cost_per_1k_usd"][j]), float(p["latency_p95_s"][j]))

    beats, sentence = recommendation(
        result.chain,
        threshold_text(result.thresholds[i]),
        option(result.chain, curve, i),
        [option(s.model, tiers, j) for j, s in enumerate(result.steps)],
        goal,
    )
    fit_figures = ("accuracy", "cost_per_1k_usd", "latency_p95_s")
    return {
        "chain": [{"model": s.model, "profile": s.profile, "tier": s.tier, "cell_id": s.cell_id} for s in result.steps],
        "chain_text": result.chain,
        "signal": result.signal,
        "signal_description": SIGNALS[result.signal].description if result.signal in SIGNALS else "",
        "seed": result.config.seed,
        "points": result.config.points,
        "bootstrap_resamples": result.config.n_boot,
        "items": {"fit": len(result.fit_keys), "test": len(result.test_keys)},
        "excluded": dict(result.excluded),
        "excluded_total": int(sum(result.excluded.values())),
        "goal": asdict(goal),
        "chosen": {
            "index": i,
            "quantile": float(result.levels[i]),
            "threshold": threshold_text(result.thresholds[i]),
            "thresholds": [finite_or_none(t) for t in result.thresholds[i]],
            "how": result.chosen_how,
            "test": {name: finite_or_none(curve.point[name][i]) for name in curve.point},
            "fit": {name: finite_or_none(fit_curve.point[name][i]) for name in fit_figures},
        },
        "weak_accuracy": weak,
        "strong_accuracy": strong,
        "pgr": figure(pgr_at_chosen),
        "apgr": figure(gains.apgr),
        "cpt50": figure(gains.cpt, 0.5),
        "cpt80": figure(gains.cpt, 0.8),
        "beats_every_tier": beats,
        "recommendation": sentence,
        "energy_estimated": any(s.energy_source == "estimate" for s in result.steps),
        "split": {"fit": [list(key) for key in result.fit_keys], "test": [list(key) for key in result.test_keys]},
    }


def write_outputs(run_dir: Path, result: ReplayResult) -> tuple[Path, Path]:
    """RUN/cascade.parquet (the curve and baselines) and RUN/cascade.json (the summary), written atomically."""
    table, summary = run_dir / "cascade.parquet", run_dir / "cascade.json"
    atomic_write_bytes(table, result.frame().to_parquet(index=False))
    atomic_write_bytes(summary, json.dumps(result.summary, indent=1, ensure_ascii=False).encode("utf-8"))
    return table, summary
