"""Run untrusted Python (model-written code) contained by the operating system, not by Python.

Containment is bubblewrap's and the kernel's, so nothing inside can switch it off: run as ``nobody``
when tierbench is root, a user namespace without capabilities and no nested ones; new pid, network
(not even loopback), ipc and uts namespaces; an empty environment; read-only ``/usr`` (and the
interpreter's prefix), fresh ``/proc`` and ``/dev``, one size-limited tmpfs ``/sandbox`` as the only
writable place; rlimits on CPU, address space, processes and file size; at the wall-clock deadline the
process group dies, and with its init the whole pid namespace.

The verdict cannot be forged from inside: the sandbox only computes probe values and writes their
``repr`` to a private descriptor; expected answers never enter it, exit codes and printed text prove
nothing. Without bwrap or namespaces ``run_python`` raises ``SandboxUnavailable``: no weaker fallback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

NOBODY = 65534
WORKDIR = "/sandbox"
_VERDICT_LIMIT = 2**20

# Runs inside the sandbox (python -I -S -c). It reads the job from stdin, runs the solution,
# then evaluates each probe and writes one JSON line per probe to the verdict descriptor.
_RUNNER = r"""
def _main(read=__import__("sys").stdin.read, loads=__import__("json").loads, dumps=__import__("json").dumps,
          fdopen=__import__("os").fdopen, show=repr, kind=type):
    job = loads(read())
    out = fdopen(job.pop("fd"), "w", encoding="utf-8", buffering=1)
    space = {"__name__": "__main__"}
    try:
        exec(compile(job["code"], "solution.py", "exec"), space)
    except BaseException as exc:
        out.write(dumps([-1, "error", kind(exc).__name__ + ": " + str(exc)[:300]]) + "\n")
    for index, probe in enumerate(job["probes"]):
        try:
            record = [index, "value", show(eval(probe, space))[:100000]]
        except BaseException as exc:
            record = [index, "error", kind(exc).__name__ + ": " + str(exc)[:300]]
        out.write(dumps(record) + "\n")
_main()
"""


class SandboxUnavailable(RuntimeError):
    """No OS-level sandbox here; the message says why in one line."""


@dataclass(frozen=True)
class Limits:
    """What one run may use."""

    wall_s: float = 5.0
    cpu_s: int = 5
    memory_mb: int = 512
    file_mb: int = 1
    disk_mb: int = 16
    processes: int = 32


@dataclass(frozen=True)
class SandboxResult:
    """How the run ended (``status``: finished | timeout | memory | crashed) and what it computed: ``values`` maps
    a probe's index to ("value", repr) or ("error", message), absent if unfinished; -1: an error defining the code."""

    status: str
    returncode: int | None
    seconds: float
    detail: str
    stdout: str = ""
    values: dict[int, tuple[str, str]] = field(default_factory=dict)


def _limits(limits: Limits) -> list[str]:
    """A ``prlimit`` prefix setting the rlimits (soft = hard) for bwrap and all it starts; not ``preexec_fn``:
    the caller may have threads (a loaded model), and Python code between fork and exec can deadlock there."""
    prlimit = shutil.which("prlimit", path="/usr/bin:/bin")
    if prlimit is None:
        raise SandboxUnavailable("prlimit (util-linux) is not installed")
    sizes = f"--as={limits.memory_mb * 2**20}", f"--fsize={limits.file_mb * 2**20}"
    return [prlimit, f"--cpu={limits.cpu_s}", *sizes, f"--nproc={limits.processes}", "--core=0", "--"]


def _interpreters() -> list[str]:
    """Pythons to run the code with: this one, then the system's (reachable by ``nobody``)."""
    found = (sys.executable, shutil.which("python3", path="/usr/bin:/bin"))
    return list(dict.fromkeys(os.path.realpath(python) for python in found if python))


def _command(bwrap: str, python: str, limits: Limits) -> list[str]:
    """The bwrap command line: namespaces, read-only system, one private writable tmpfs."""
    args = [*_limits(limits), bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"]
    args += ["--new-session", "--clearenv", "--hostname", "sandbox", "--ro-bind", "/usr", "/usr"]
    prefix = os.path.dirname(os.path.dirname(python))
    if not prefix.startswith("/usr/") and prefix != "/usr":
        args += ["--ro-bind", prefix, prefix]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.disk_mb * 2**20), "--tmpfs", WORKDIR]
    args += ["--remount-ro", "/", "--chdir", WORKDIR, "--", python, "-I", "-S", "-B", "-c", _RUNNER]
    return args


def _execute(python: str, code: str, probes: Sequence[str], limits: Limits) -> SandboxResult:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    root = os.geteuid() == 0  # root drops to ``nobody`` before bwrap starts
    started = time.perf_counter()
    # output goes to files, not pipes: RLIMIT_FSIZE then caps what the code can print
    with (
        tempfile.TemporaryFile(prefix="tierbench-verdict-") as verdict,
        tempfile.TemporaryFile(prefix="tierbench-out-") as out_file,
        tempfile.TemporaryFile(prefix="tierbench-err-") as err_file,
    ):
        job = json.dumps({"code": code, "probes": list(probes), "fd": verdict.fileno()}).encode()
        process = subprocess.Popen(
            _command(bwrap, python, limits),
            env={},
            cwd="/",
            stdin=subprocess.PIPE,
            stdout=out_file,
            stderr=err_file,
            pass_fds=(verdict.fileno(),),
            start_new_session=True,
            user=NOBODY if root else None,
            group=NOBODY if root else None,
            extra_groups=[] if root else None,
        )
        try:
            process.communicate(job, timeout=limits.wall_s)
            timed_out = False
        except (subprocess.TimeoutExpired, BrokenPipeError):
            timed_out = process.poll() is None
        finally:
            _kill_group(process.pid)
        process.wait()
        seconds = time.perf_counter() - started
        values = _read_values(_head(verdict, _VERDICT_LIMIT))
        stdout = _head(out_file, 10000).decode("utf-8", "replace")
        detail = _head(err_file, 10000).decode("utf-8", "replace").strip()
    last = detail.splitlines()[-1][:300] if detail else ""
    code_ = process.returncode
    if timed_out:
        status, detail = "timeout", f"killed after {limits.wall_s:g} s"
    elif code_ in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL):
        status, detail = "timeout", "CPU time limit"
    elif "MemoryError" in detail or any(text.startswith("MemoryError") for _, text in values.values()):
        status, detail = "memory", "memory limit"
    else:
        status, detail = "crashed" if code_ != 0 and not values and last.startswith("bwrap:") else "finished", last
    return SandboxResult(status, code_, seconds, detail, stdout, values)


def _head(handle: IO[bytes], limit: int) -> bytes:
    handle.seek(0)
    return handle.read(limit)


def _kill_group(pid: int) -> None:
    """Kill bwrap's whole process group; its pid namespace dies with its init."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _read_values(raw: bytes) -> dict[int, tuple[str, str]]:
    """Probe records from the verdict file; the last record of an index counts, junk is skipped."""
    values: dict[int, tuple[str, str]] = {}
    for line in raw.decode("utf-8", "replace").split("\n"):
        try:
            index, kind, text = json.loads(line)
        except (ValueError, TypeError):
            continue
        if isinstance(index, int) and kind in {"value", "error"} and isinstance(text, str):
            values[index] = (kind, text)
    return values


@functools.cache
def _working_interpreter() -> str:
    """The first interpreter that runs in the sandbox here; SandboxUnavailable names why none does."""
    reasons = []
    for python in _interpreters():
        result = _execute(python, "", ["1 + 1"], Limits(wall_s=20.0))
        if result.values.get(0) == ("value", "2"):
            return python
        reasons.append(result.detail or f"{python} exited with {result.returncode}")
    raise SandboxUnavailable(f"the code sandbox cannot start here: {reasons[0]}")


def unavailable() -> str | None:
    """Why code cannot be run contained on this machine, or None when it can."""
    try:
        _working_interpreter()
    except SandboxUnavailable as exc:
        return str(exc)
    return None


def run_python(code: str, probes: Sequence[str] = (), limits: Limits | None = None) -> SandboxResult:
    """Run ``code`` contained, then evaluate each probe expression in its namespace."""
    return _execute(_working_interpreter(), code, probes, limits or Limits())
