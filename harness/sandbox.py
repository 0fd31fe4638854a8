"""Run untrusted Python (model-written code) in a throwaway subprocess, never in-process.

Containment, each layer independent of the others:
- a fresh ``python -I`` process in an empty temporary directory that is deleted afterwards, with
  an empty environment;
- kernel limits: CPU seconds, address space (memory), file size, no core dumps; a wall-clock
  timeout that kills the whole process group;
- a network namespace with no interfaces when the kernel lets us create one (``unshare``);
- a Python audit hook, installed before the code runs and impossible to remove, that refuses
  sockets, subprocesses, and any file write, rename or delete outside the sandbox directory.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CLONE_NEWNET = 0x40000000

_GUARD = r"""
import os, sys
_ROOT = os.path.realpath(os.getcwd())
_BLOCK = {"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "subprocess.Popen",
          "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty.spawn", "ctypes.dlopen"}
_PATHS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink", "os.link",
          "os.truncate", "shutil.rmtree", "shutil.move", "shutil.copyfile"}
def _inside(path):
    try:
        path = os.fspath(path)
    except TypeError:
        return True  # file descriptors: already opened, so already checked
    if isinstance(path, bytes):
        path = path.decode("utf-8", "replace")
    real = os.path.realpath(os.path.join(_ROOT, path))
    return real == _ROOT or real.startswith(_ROOT + os.sep)
def _hook(event, args):
    if event in _BLOCK or event.startswith("socket."):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "open" and args and args[0] is not None:
        mode, flags = (args[1] or "r"), (args[2] or 0)
        writing = any(c in str(mode) for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
        if writing and not _inside(args[0]):
            raise PermissionError(f"sandbox: writing {args[0]!r} is not allowed")
    if event in _PATHS and args and not all(_inside(a) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))):
        raise PermissionError(f"sandbox: {event} outside the sandbox is not allowed")
sys.addaudithook(_hook)
del _hook
__file__ = "solution.py"
exec(compile(open("solution.py", encoding="utf-8").read(), "solution.py", "exec"), {"__name__": "__main__"})
"""


@dataclass(frozen=True)
class Limits:
    """What one run may use."""

    wall_s: float = 5.0
    cpu_s: int = 5
    memory_mb: int = 512
    file_mb: int = 1


@dataclass(frozen=True)
class SandboxResult:
    """How the code ended: ``status`` is passed | failed | timeout | memory | blocked."""

    passed: bool
    status: str
    returncode: int | None
    seconds: float
    detail: str
    stdout: str = ""


def _limit(limits: Limits) -> None:  # runs in the child between fork and exec
    os.setsid()
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)  # no network at all, where permitted
    except Exception:
        pass  # the audit hook still refuses sockets


def run_python(code: str, limits: Limits | None = None) -> SandboxResult:
    """Run ``code`` as a script; passed means exit code 0 within the limits."""
    limits = limits or Limits()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tierbench-sandbox-") as folder:
        Path(folder, "solution.py").write_text(code, encoding="utf-8")
        Path(folder, "guard.py").write_text(_GUARD, encoding="utf-8")
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "guard.py"],
            cwd=folder,
            env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "HOME": folder, "TMPDIR": folder},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: _limit(limits),
        )
        try:
            out, err = process.communicate(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return SandboxResult(
                False, "timeout", None, time.perf_counter() - started, f"killed after {limits.wall_s} s"
            )
    seconds = time.perf_counter() - started
    detail = err.decode("utf-8", "replace")[-2000:]
    code_ = process.returncode
    stdout = out.decode("utf-8", "replace")[-10000:]
    if code_ == 0:
        return SandboxResult(True, "passed", 0, seconds, "", stdout)
    if code_ in (-signal.SIGXCPU, -signal.SIGKILL):
        return SandboxResult(False, "timeout", code_, seconds, "CPU time limit")
    if "MemoryError" in detail:
        return SandboxResult(False, "memory", code_, seconds, "memory limit")
    if "sandbox:" in detail:
        return SandboxResult(False, "blocked", code_, seconds, detail.strip().splitlines()[-1])
    return SandboxResult(False, "failed", code_, seconds, detail.strip().splitlines()[-1] if detail.strip() else "")
