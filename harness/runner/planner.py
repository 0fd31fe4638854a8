"""Turn a suite, a catalog and profile names into cells, deciding up front what cannot run."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path

from harness.backends.registry import check_model
from harness.config.models import TIER_ORDER, Catalog, ModelSpec
from harness.config.profile import HardwareProfile
from harness.devicememory import memory_shortfall
from harness.errors import UserError
from harness.hardware import get_profile, host_profile
from harness.runner.cell import CellSpec, cell_id_for
from harness.runner.request import RunRequest


@dataclass
class PlannedCell:
    spec: CellSpec
    skip_reason: str | None = None


@dataclass
class Plan:
    cells: list[PlannedCell] = field(default_factory=list)
    models: list[ModelSpec] = field(default_factory=list)
    profiles: list[HardwareProfile] = field(default_factory=list)


def select_models(catalog: Catalog, names: list[str] | None) -> list[ModelSpec]:
    """Models by name (a base model's name: all its variants), in tier order; unknown names are a user error."""
    if not names:
        names = [m.name for m in catalog.models]
    chosen: list[ModelSpec] = []
    for name in names:
        models = catalog.select(name)
        if not models:
            known = ", ".join(m.name for m in catalog.models)
            raise UserError(f"--models: unknown model '{name}' (known: {known}; add it with --catalog FILE)")
        chosen += [model for model in models if model not in chosen]
    return sorted(chosen, key=lambda m: TIER_ORDER.get(m.tier, 99))


def emulation(profile: HardwareProfile, host: HardwareProfile) -> tuple[str | None, str | None]:
    """(emulated_on, skip_reason): whether the host only emulates the profile, or cannot at all."""
    if profile.name == "host":
        return None, None
    wanted, have = profile.accelerator, host.accelerator
    if wanted.kind != "none" and have.kind != wanted.kind:
        return None, f"profile '{profile.name}' needs a {wanted.kind} ({wanted.name}); this host has none"
    if wanted.kind != "none" and (short := memory_shortfall(wanted, have)) is not None:
        return None, f"profile '{profile.name}' {short}"
    if profile.cores > host.cores:
        return None, f"profile '{profile.name}' has {profile.cores} cores; this host offers {host.cores}"
    if profile.memory_mb > host.memory_mb:
        return None, f"profile '{profile.name}' has {profile.memory_mb:.0f} MiB; this host has {host.memory_mb:.0f} MiB"
    return host.name if host.name != "host" else platform.node() or "host", None


def plan_run(request: RunRequest, run_dir: Path, *, on_cluster: bool = False) -> Plan:
    """Every (model, profile) cell of the request, with the reason a cell cannot run here (``on_cluster``:
    the Ray executor places cells on nodes that offer their profile, so none is checked against this host)."""
    suite = request.suite
    models = select_models(request.catalog, request.models)
    by_name: dict[str, HardwareProfile] = {}
    for profile in map(get_profile, request.profiles):
        by_name.setdefault(profile.name, profile)
    profiles, host = list(by_name.values()), host_profile()
    plan = Plan(models=models, profiles=profiles)
    for profile in profiles:
        emulated_on, profile_skip = (None, None) if on_cluster else emulation(profile, host)
        if profile_skip is not None and profile.performance is not None:
            # the run still answers for this device: harness.projection projects the host cells onto it
            profile_skip = f"not emulated: {profile_skip}; projected from host instead"
        for model in models:
            # the plugin's cheap check on the catalog-validated params: no backend is built here
            reason = profile_skip if profile_skip is not None else check_model(model)
            spec = CellSpec(
                cell_id=cell_id_for(model.name, profile.name),
                run_dir=str(run_dir),
                model=model,
                profile=profile,
                emulated_on=emulated_on,
                tasks=request.tasks,
                limit=request.limit,
                seed=suite.seed,
                data_dir=str(request.data_dir) if request.data_dir else None,
                scenarios=suite.scenarios,
                enforce_memory=profile.name != "host",
                self_check=suite.self_check_tasks(request.tasks),
                eval_concurrency=request.options.eval_concurrency,
            )
            plan.cells.append(PlannedCell(spec, reason))
    return plan
