"""The fidelity step of a run: each model labelled with a ``fidelity_reference`` against it, one row of
RUN/fidelity.parquet each, in one child process per reference (``harness.ladder.fidelity_worker``:
this step never builds a backend). ``--resume`` reuses finished results.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from harness.config.models import ModelSpec
from harness.config.suite import FidelitySpec
from harness.errors import UserError
from harness.results.columns import FIDELITY_COLUMNS
from harness.results.files import atomic_write_json
from harness.runner.planner import Plan

REFERENCE = "fidelity_reference"


def fidelity_text(spec: FidelitySpec) -> Path:
    """The text file to score; a missing or unreadable user file is a one-line error before any work."""
    if spec.text is None:
        from harness.ladder.fidelity import builtin_text_path

        return builtin_text_path()
    path = Path(spec.text).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise UserError(f"suite fidelity.text {path}: cannot read ({why}); give a UTF-8 text file") from None
    if len(text.split()) < 20:
        raise UserError(f"suite fidelity.text {path}: too short to measure (fewer than 20 words)")
    return path


def measured_models(plan: Plan) -> dict[str, list[ModelSpec]]:
    """Models with a fidelity reference that at least one planned cell will run, by reference."""
    runnable = {p.spec.model.name for p in plan.cells if p.skip_reason is None}
    groups: dict[str, list[ModelSpec]] = {}
    for model in plan.models:
        reference = model.labels.get(REFERENCE)
        if reference and model.name in runnable and model.params.get("model_path"):
            groups.setdefault(reference, []).append(model)
    return groups


def run_fidelity(
    plan: Plan, run_dir: Path, spec: FidelitySpec, *, timeout_s: float, log: Callable[[str], None]
) -> pd.DataFrame | None:
    """Measure every labelled model of the plan; None when the plan has none."""
    groups = measured_models(plan)
    if not groups:
        return None
    text = fidelity_text(spec)
    rows: list[dict[str, Any]] = []
    for reference, models in groups.items():
        key = hashlib.sha256(reference.encode()).hexdigest()[:12]
        request_path = run_dir / "fidelity" / f"{key}.json"
        request = {
            "reference": reference,
            "models": {m.name: m.params["model_path"] for m in models},
            "text_path": str(text),
            "max_tokens": spec.max_tokens,
            "block_tokens": spec.block_tokens,
            "unit_tokens": spec.unit_tokens,
        }
        result = _reuse(request_path, request)
        if result is None:
            names = ", ".join(m.name for m in models)
            log(f"fidelity: {names} against {Path(reference).name} ({spec.max_tokens} tokens)")
            atomic_write_json(request_path, request)
            result = _run_child(request_path, timeout_s)
        for model in models:
            base = {
                "model": model.name,
                "ladder": model.labels.get("ladder"),
                "quant_type": model.labels.get("quant_type"),
                "reference": Path(reference).name,
                "text": text.name,
            }
            measured = (result.get("rows") or {}).get(model.name)
            failed = {"status": "failed", "reason": result.get("error", "no result")}
            rows.append({**base, **measured, "status": "ok", "reason": ""} if measured else {**base, **failed})
    return pd.DataFrame(rows, columns=FIDELITY_COLUMNS)


def _reuse(request_path: Path, request: dict[str, Any]) -> dict[str, Any] | None:
    """A finished result of the same request (a resumed run), else None."""
    try:
        previous = json.loads(request_path.read_text(encoding="utf-8"))
        result = json.loads(request_path.with_suffix(".result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if previous != request or "rows" not in result:
        return None
    return dict(result)


def _run_child(request_path: Path, timeout_s: float) -> dict[str, Any]:
    log_path = request_path.with_suffix(".log")
    try:
        with log_path.open("wb") as log:
            proc = subprocess.run(
                [sys.executable, "-m", "harness.ladder.fidelity_worker", str(request_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
            )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    try:
        result: dict[str, Any] = json.loads(request_path.with_suffix(".result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"error": f"fidelity worker exited with code {proc.returncode}; see {log_path}"}
    return result
