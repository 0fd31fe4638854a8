"""Model-written code runs contained by the OS: hostile solutions get nothing out, and cannot pass.

Every case runs real code in the real bubblewrap sandbox. A probe is an expression evaluated
inside after the solution ran; its value (or error) comes back as text.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import sandbox
from harness.backends.registry import create_backend
from harness.config.models import ModelSpec
from harness.evaluation import MemorySink, run_tasks
from harness.evaluation.scorers import code_tests
from harness.sandbox import Limits, SandboxUnavailable, run_python

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (.ci/run installs it)"
)

LIMITS = Limits(wall_s=3.0, cpu_s=2, memory_mb=256)


def _value(code: str, probe: str, limits: Limits = LIMITS) -> tuple[str, str]:
    return run_python(code, [probe], limits).values.get(0, ("missing", ""))


def test_good_code_gives_its_values_and_writes_inside_work() -> None:
    code = "open('scratch.txt', 'w').write('ok')\ndef add(a, b):\n    return a + b\n"
    limits = "[__import__('resource').getrlimit(getattr(__import__('resource'), n)) for n in ('RLIMIT_CPU', 'RLIMIT_AS', 'RLIMIT_NPROC', 'RLIMIT_FSIZE')]"
    result = run_python(code, ["add(2, 3)", "open('scratch.txt').read()", "1 / 0", limits], LIMITS)
    assert result.values[0] == ("value", "5") and result.values[1] == ("value", "'ok'")
    assert result.values[2] == ("error", "ZeroDivisionError: division by zero")
    expected = [LIMITS.cpu_s, LIMITS.memory_mb * 2**20, LIMITS.processes, LIMITS.file_mb * 2**20]
    assert result.values[3] == ("value", repr([(n, n) for n in expected]))


def test_infinite_loop_and_runaway_memory_are_stopped() -> None:
    start = time.monotonic()
    assert run_python("while True:\n    pass", ["1"], LIMITS).status == "timeout"
    assert time.monotonic() - start < 10
    result = run_python("blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))", ["1"], LIMITS)
    assert result.status == "memory"


def test_no_write_outside_the_private_directory(tmp_path: Path) -> None:
    target, victim = tmp_path / "escaped.txt", tmp_path / "keep.txt"
    victim.write_text("keep")
    code = f"""
import os
tried = []
for attempt in (lambda: open({str(target)!r}, 'w').write('x'), lambda: os.remove({str(victim)!r}),
                lambda: open('/usr/escaped.txt', 'w').write('x'), lambda: open('/escaped.txt', 'w').write('x')):
    try:
        attempt()
        tried.append('WROTE')
    except OSError as exc:
        tried.append(type(exc).__name__)
"""
    kind, text = _value(code, "tried")
    assert kind == "value" and "WROTE" not in text, text
    assert not target.exists() and victim.read_text() == "keep"
    assert not Path("/usr/escaped.txt").exists() and not Path("/escaped.txt").exists()


def test_no_network_even_to_a_listening_local_socket() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        probe = f"__import__('socket').create_connection(('127.0.0.1', {port}), timeout=1)"
        kind, text = _value("", probe)
        assert kind == "error", text
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever connected


def test_the_parents_environment_and_etc_shadow_are_out_of_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    planted = f"planted-{secrets.token_hex(8)}"
    monkeypatch.setenv("TIERBENCH_PLANTED_SECRET", planted)
    code = """
import os
seen = [repr(dict(os.environ))]
for pid in os.listdir('/proc'):
    try:
        seen.append(open(f'/proc/{pid}/environ', 'rb').read().decode('latin-1'))
    except OSError:
        pass
try:
    seen.append(open('/etc/shadow').read())
except OSError as exc:
    shadow = type(exc).__name__
"""
    result = run_python(code, ["seen", "shadow", "os.getuid()"], LIMITS)
    assert result.values[0][0] == "value" and planted not in result.values[0][1]
    assert result.values[1] == ("value", "'FileNotFoundError'")
    if os.geteuid() == 0:
        assert result.values[2] == ("value", str(sandbox.NOBODY))  # not root, in or out of the namespace


def _alive_with(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize("hang", [False, True])
def test_no_process_outlives_the_run(hang: bool) -> None:
    marker = f"tierbench-orphan-{secrets.token_hex(6)}"
    code = f"""
import os, sys, time
read, write = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(write, str(os.getpid()).encode())
        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(120)', {marker!r}])
    os._exit(0)
orphan = int(os.read(read, 20))
time.sleep(0.3)
started = os.path.exists(f'/proc/{{orphan}}/cmdline') and {marker!r} in open(f'/proc/{{orphan}}/cmdline').read()
"""
    result = run_python(code + ("while True: pass\n" if hang else ""), ["started"], LIMITS)
    if not hang:
        assert result.values[0] == ("value", "True")  # the orphan was really running
    else:
        assert result.status == "timeout"
    deadline = time.monotonic() + 5
    while _alive_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive_with(marker) == []


def test_containment_cannot_be_switched_off() -> None:
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        code = f"""
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
outcome = {{}}
outcome['unshare_user'] = libc.unshare(0x10000000)      # a new user namespace: refused
outcome['unshare_net'] = libc.unshare(0x40000000)       # back to a network namespace of our own: refused
outcome['mount'] = libc.mount(b'none', b'/usr', b'tmpfs', 0, None)
for name, call in (('setuid', lambda: os.setuid(0)), ('kill', lambda: os.kill({bystander.pid}, signal.SIGKILL)),
                   ('chroot', lambda: os.chroot('/'))):
    try:
        call()
        outcome[name] = 'DONE'
    except OSError as exc:
        outcome[name] = type(exc).__name__
"""
        kind, text = _value(code, "outcome")
        assert kind == "value", text
        assert "DONE" not in text and "': 0" not in text, text  # every call failed (-1 or an error)
        assert bystander.poll() is None  # the host process outside was not signalled
    finally:
        bystander.kill()
        bystander.wait()


DOC = {"prompt": "def mix(a, b):\n", "tests": ["assert mix(1234, 4321) == 9257", "assert mix(0, 7) is not None"]}
FORGERIES = [
    "    return 0\nimport os\nos._exit(0)\n",  # exit 0 before any test runs
    "    return 0\nimport sys\nsys.exit(0)\n",
    "    raise SystemExit(0)\n",
    "    class Any:\n        def __eq__(self, other): return True\n        __hash__ = None\n    return Any()\n",
    "    return 0\nimport builtins\nbuiltins.repr = lambda value: 'True'\nbuiltins.AssertionError = None\n",
    "    return 0\nprint('passed'); print('tierbench-tests-passed')\n",
    '    return 0\nimport os\nos.write(3, b\'[0, "value", "True"]\\n[1, "value", "1"]\\n\'); os._exit(0)\n',
    '    return 0\nimport json\njson.dumps = lambda *a, **k: \'[0, "value", "True"]\'\n',
]


def test_a_wrong_solution_cannot_forge_a_pass() -> None:
    assert code_tests(DOC, ["    return 4 * a + b\n"]) == {"pass": 1.0}  # the honest right answer
    assert code_tests(DOC, ["    return a - b\n"]) == {"pass": 0.0}
    for forgery in FORGERIES:
        assert code_tests(DOC, [forgery]) == {"pass": 0.0}, forgery


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("PATH", str(tmp_path))
    sandbox._working_interpreter.cache_clear()
    yield
    sandbox._working_interpreter.cache_clear()


def test_without_bubblewrap_code_scoring_refuses_with_a_reason(no_bwrap: None) -> None:
    reason = sandbox.unavailable()
    assert reason is not None and "bwrap" in reason and "\n" not in reason
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        code_tests(DOC, ["    return a + b\n"])  # no weaker fallback, and no silent zero


def test_a_code_task_is_unsupported_without_the_sandbox(no_bwrap: None) -> None:
    spec = ModelSpec(
        name="api", tier="full", backend="openai", params={"model": "m", "base_url": "http://127.0.0.1:9/v1"}
    )
    sink = MemorySink()
    run_tasks(create_backend(spec), ["code_generation"], limit=2, seed=0, data_dir=None, sink=sink)
    assert sink.scores and all(r["status"] == "unsupported" and "bwrap" in r["reason"] for r in sink.scores)
    assert sink.samples == []  # refused before asking the model anything
