"""What each side of ``tierbench ab`` runs: a baseline file's pinned plan (suite, catalog entries, tasks,
limit, profiles and measured model files) with the candidate's catalog on the other side, or one suite
with two catalogs (``--baseline-catalog``). A pinned model that cannot run here is refused before anything
runs: an A/B job must never measure a stand-in for the baseline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.backends.registry import check_model
from harness.catalog import load_catalog
from harness.errors import UserError
from harness.results.schema import RunOptions
from harness.results.snapshot import Snapshot
from harness.results.store import atomic_write_bytes


@dataclass(frozen=True)
class AbSides:
    """The options of each side's blocks, and the baseline file that pinned the baseline side."""

    baseline: RunOptions
    candidate: RunOptions
    pinned: Snapshot | None = None
    pinned_path: Path | None = None


def from_catalogs(baseline_catalog: Path, candidate: RunOptions) -> AbSides:
    """Both sides run the candidate's plan; the baseline side with its own catalog."""
    if not baseline_catalog.is_file():
        raise UserError(f"--baseline-catalog {baseline_catalog}: no such file")
    load_catalog(baseline_catalog)  # a broken catalog is one line before anything runs
    return AbSides(baseline=candidate.model_copy(update={"catalog": str(baseline_catalog)}), candidate=candidate)


def _write_json(path: Path, data: Any) -> Path:
    atomic_write_bytes(path, json.dumps(data, indent=2).encode("utf-8"))  # JSON is YAML: the loaders read it
    return path


def from_baseline(path: Path, pinned: Snapshot, candidate_catalog: Path | None, workdir: Path) -> AbSides:
    """The baseline file's plan for both sides: its suite and catalog entries for the baseline, the
    same suite with the candidate's catalog for the candidate."""
    meta = pinned.meta
    try:
        options = RunOptions.model_validate(meta.get("options"))
    except ValueError:
        raise UserError(
            f"--baseline {path}: holds no run options (saved by an older tierbench); save it again"
        ) from None
    models = [m for m in meta.get("models") or [] if isinstance(m, dict) and isinstance(m.get("name"), str)]
    if not models or not isinstance(meta.get("suite"), dict):
        raise UserError(
            f"--baseline {path}: pins no catalog entries or suite (saved by an older tierbench); save it again"
        )
    suite = _write_json(workdir / "baseline-suite.yaml", meta["suite"])
    catalog = _write_json(workdir / "baseline-catalog.yaml", {"models": models})
    names = options.models or [str(m["name"]) for m in models]
    common = {"suite_source": str(suite), "models": names, "data_dir": options.data_dir}
    return AbSides(
        baseline=options.model_copy(update={**common, "catalog": str(catalog)}),
        candidate=options.model_copy(
            update={**common, "catalog": str(candidate_catalog) if candidate_catalog else None}
        ),
        pinned=pinned,
        pinned_path=path,
    )


def _pinned_file(meta: dict[str, Any], model: str) -> tuple[str, float] | None:
    """(file name, MiB) of the model file the baseline's cells of ``model`` measured, if recorded."""
    backends = meta.get("backends")
    if not isinstance(backends, dict):
        return None
    for cell_id, info in sorted(backends.items()):
        if str(cell_id).rsplit("@", 1)[0] == model and isinstance(info, dict):
            name, size = info.get("model_file"), info.get("model_file_mb")
            if isinstance(name, str) and isinstance(size, int | float):
                return name, float(size)
    return None


def check_pinned_models(sides: AbSides) -> None:
    """Every model the baseline side runs can run here (one line, exit 2, before anything runs)."""
    catalog = load_catalog(Path(sides.baseline.catalog) if sides.baseline.catalog else None)
    specs = {m.name: m for m in catalog.models}
    where = f"--baseline {sides.pinned_path}" if sides.pinned_path else f"--baseline-catalog {sides.baseline.catalog}"
    for name in sides.baseline.models or []:
        spec = specs.get(name)
        if spec is None:
            raise UserError(f"{where}: model '{name}' is not in the baseline's catalog")
        reason = check_model(spec)
        if reason is not None:
            pinned = _pinned_file(sides.pinned.meta, name) if sides.pinned is not None else None
            what = f" (model file {pinned[0]}, {pinned[1]:g} MiB)" if pinned else ""
            raise UserError(f"{where}: the baseline's model '{name}'{what} is not available here: {reason}")


def check_pinned_files(sides: AbSides, block_meta: dict[str, Any]) -> None:
    """After the first baseline block: its model files are the ones the baseline file measured
    (same name and size), else the A/B job would compare the candidate with another model."""
    if sides.pinned is None:
        return
    for name in sides.baseline.models or []:
        pinned, measured = _pinned_file(sides.pinned.meta, name), _pinned_file(block_meta, name)
        if pinned and measured and (pinned[0] != measured[0] or abs(pinned[1] - measured[1]) > 0.01):
            raise UserError(
                f"--baseline {sides.pinned_path}: pins model '{name}' as {pinned[0]} ({pinned[1]:g} MiB), but "
                f"here it resolves to {measured[0]} ({measured[1]:g} MiB); install the pinned file or save a new baseline"
            )
