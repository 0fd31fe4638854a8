"""Native-crash safety: a canary in a child process decides whether a backend's fast native code survives here.

llama.cpp's AMX and repacked-weight kernels segfault on the first decode on some Xeons
(ggml-org/llama.cpp#20824), and a segfault cannot be caught: it loses the cell, or a whole test run
or notebook. So a ``NativeGuard``ed backend left to ``auto`` is first loaded, decoded and scored in a
child process; if its fast settings crash there and the safe ones work, it is built with the safe
ones and the fallback recorded. Verdicts are cached under the facts they depend on (build, CPU,
weight type): each machine pays once. A worker killed by a signal anyway is retried with ``force_safe``.
"""

from __future__ import annotations

import hashlib
import json
import resource
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.backends.plugin import BackendPlugin
from harness.cachedir import cache_root
from harness.config.models import ModelSpec
from harness.errors import ModelLoadError
from harness.results.files import atomic_write_json
from harness.secrets import clip

OK = "ok"
CANARY_TIMEOUT_S = 180.0
# signals a native fault ends a process with; a SIGKILL is the OOM killer or a user, not a bad kernel
CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT, signal.SIGSYS})


class NativeCrash(ModelLoadError):
    """The backend's native code crashes here even with its safest settings: the cell fails with this line."""


@dataclass(frozen=True)
class Verdict:
    """What the canary saw: ``OK``, or how the child ended (``crashed: SIGSEGV``, ``hung …``, ``error: …``)."""

    fast: str
    safe: str | None = None  # None: the safe settings were not tried (the fast ones worked)
    cached: bool = False

    @property
    def conclusive(self) -> bool:
        """Only a pass or a native fault is a fact about this machine; a Python error is not."""
        return self.fast == OK or (_is_fault(self.fast) and self.safe is not None and not self.safe.startswith("error"))


def _is_fault(outcome: str) -> bool:
    return outcome.startswith(("crashed", "hung"))


# what this process did about native faults: the cell worker records it in the cell's provenance
_taken: list[str] = []
_forced: list[str] = []


def force_safe(reason: str) -> None:
    """Every guarded backend built in this process from now on uses its safest settings (a retry after a crash)."""
    _forced[:] = [reason]


def fallbacks_taken() -> list[str]:
    """One line per guarded backend this process built with its safe settings, and why."""
    return list(dict.fromkeys(_taken))


def resolve(plugin: BackendPlugin[Any], spec: ModelSpec, params: Any) -> Any:
    """The params to build ``spec`` with: as given, or with the guard's choice made by the canary
    (``NativeCrash`` when the fast and the safe settings both crash)."""
    guard = plugin.guard
    if guard is None:
        return params
    if _forced:
        safe = guard.safe(params)
        if safe != params:
            _taken.append(f"{guard.disabled} disabled for {spec.name}: retried with the safest settings ({_forced[0]})")
        return safe
    if not guard.undecided(params) or plugin.check(spec, params) is not None:
        return params  # decided by the user, or it cannot run here anyway (its load will say why)
    verdict = check(plugin, spec, params)
    if not _is_fault(verdict.fast):
        return guard.fast(params)  # it works, or failed in a way the real load will report in its own words
    if verdict.safe is not None and _is_fault(verdict.safe):
        raise NativeCrash(
            f"{spec.name}: {plugin.name} crashes in native code on this machine with {guard.disabled} "
            f"({verdict.fast}) and without them ({verdict.safe}); {guard.advice}"
        )
    _taken.append(f"{guard.disabled} disabled for {spec.name}: they crashed on this CPU (canary: {verdict.fast})")
    return guard.safe(params)


def check(plugin: BackendPlugin[Any], spec: ModelSpec, params: Any) -> Verdict:
    """The canary's verdict for ``spec`` on this machine: from the cache, or by running it (fast, then safe)."""
    guard = plugin.guard
    assert guard is not None
    facts = {"backend": plugin.name, **guard.facts(spec, params)}
    path = _verdict_path(facts)
    if (cached := _read_verdict(path, facts)) is not None:
        return cached
    fast = run_canary(spec, guard.fast(params))
    safe = run_canary(spec, guard.safe(params)) if _is_fault(fast) else None
    verdict = Verdict(fast=fast, safe=safe)
    if verdict.conclusive:
        try:
            atomic_write_json(path, {"facts": facts, "verdict": asdict(verdict)})
        except OSError:
            pass  # only a shortcut: the next process runs the canary again
    return verdict


def run_canary(spec: ModelSpec, params: Any) -> str:
    """Load ``spec`` with ``params`` in a child process, decode a few tokens and score once: how it ended."""
    trial = spec.model_copy(update={"params": params.model_dump(mode="json")})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "harness.backends.canary_child"],
            input=trial.model_dump_json(),
            capture_output=True,
            text=True,
            timeout=CANARY_TIMEOUT_S,
            preexec_fn=_no_core_dump,
        )
    except subprocess.TimeoutExpired:
        return f"hung for {CANARY_TIMEOUT_S:.0f} s"
    if done.returncode == 0:
        return OK
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return f"crashed: {name}" if -done.returncode in CRASH_SIGNALS else f"error: killed by {name}"
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return f"error: {clip(lines[-1] if lines else f'exit code {done.returncode}', 300)}"


def _no_core_dump() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an expected crash should not leave a core file behind


def _canonical(facts: dict[str, Any]) -> str:
    return json.dumps(facts, sort_keys=True, default=str)


def _verdict_path(facts: dict[str, Any]) -> Path:
    digest = hashlib.sha256(_canonical(facts).encode()).hexdigest()[:16]
    return cache_root()[0] / "canary" / f"{facts['backend']}-{digest}.json"


def _read_verdict(path: Path, facts: dict[str, Any]) -> Verdict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if _canonical(record["facts"]) != _canonical(facts):
            return None
        return Verdict(fast=str(record["verdict"]["fast"]), safe=record["verdict"].get("safe"), cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or damaged: run the canary again
