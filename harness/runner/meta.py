"""meta.json: what was run, where, with which versions — and never a secret."""

from __future__ import annotations

import subprocess
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from harness.meters.host import fingerprint
from harness.results.schema import RunMeta
from harness.runner.planner import Plan
from harness.runner.request import RunRequest
from harness.secrets import strip_credentials

SECRET_PARAM_HINTS = ("key", "token", "secret", "password", "authorization", "auth")


def redact_params(params: dict[str, Any]) -> dict[str, Any]:
    """Drop values that could be credentials (headers in particular, URL passwords); keep env variable *names*."""
    clean: dict[str, Any] = {}
    for key, value in params.items():
        lowered = key.lower()
        if key.endswith("_env"):
            clean[key] = value
        elif isinstance(value, dict):
            clean[key] = {k: "<redacted>" for k in value} if lowered == "headers" else redact_params(value)
        elif any(hint in lowered for hint in SECRET_PARAM_HINTS):
            clean[key] = "<redacted>"
        elif isinstance(value, str) and "://" in value:
            clean[key] = strip_credentials(value)
        else:
            clean[key] = value
    return clean


def git_revision() -> str | None:
    """The tierbench source checkout's revision, when it runs from one."""
    source = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(source), *args], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()

    try:
        out = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{out}{'-dirty' if dirty else ''}" if out else None


def build_meta(run_id: str, request: RunRequest, plan: Plan) -> RunMeta:
    """The record of a new run: what was asked, the models and profiles it planned, this machine."""
    return RunMeta(
        run_id=run_id,
        tierbench_version=version("tierbench"),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        status="running",
        suite=request.suite.model_dump(mode="json"),
        models=[{**m.model_dump(mode="json"), "params": redact_params(m.params)} for m in plan.models],
        profiles=[p.model_dump(mode="json", by_alias=True) for p in plan.profiles],
        options=request.options,
        host=fingerprint().model_dump(mode="json"),
        git_revision=git_revision(),
    )
