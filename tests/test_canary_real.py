"""The llama.cpp canary on the shipped GGUFs: a real verdict for this CPU, and in-process use that survives it.

On a CPU whose AMX/repack kernels crash (Sapphire Rapids and later Xeons with a from-source
llama-cpp-python), the canary sees the real SIGSEGV and the backend is built without them; elsewhere
the fast kernels pass. Either way a batched prompt then decodes in this very process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends import canary
from harness.backends.base import GenerationRequest, StreamUsage
from harness.backends.llamacpp import LlamaCppBackend
from harness.backends.registry import check_model, create_backend, get_plugin
from harness.catalog import default_catalog
from harness.meters.host import cpu_flags


@pytest.mark.slow
def test_the_canary_gives_a_conclusive_verdict_and_the_backend_decodes_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = default_catalog().get("nano")
    assert spec is not None
    if check_model(spec):
        pytest.skip(str(check_model(spec)))
    monkeypatch.setenv("TIERBENCH_CACHE_DIR", str(tmp_path))  # a verdict of its own, run now
    plugin = get_plugin("llamacpp")
    verdict = canary.check(plugin, spec, plugin.params(spec))
    assert verdict.conclusive and not verdict.cached, verdict
    assert verdict.fast == canary.OK or (verdict.fast.startswith("crashed") and verdict.safe == canary.OK), verdict
    assert canary.check(plugin, spec, plugin.params(spec)).cached  # the second asks the cache

    backend = create_backend(spec)
    assert isinstance(backend, LlamaCppBackend)
    expected = "on" if verdict.fast == canary.OK else "off"
    assert backend.params.extra_buffers == expected, (verdict, cpu_flags())
    backend.load()
    try:
        prompt = " ".join(["The quick brown fox jumps over the lazy dog."] * 4)  # a batched prefill
        text = "".join(c.text for c in backend.stream(GenerationRequest(prompt=prompt, max_tokens=4), StreamUsage()))
        assert text
        assert backend.describe()["extra_buffers"] == expected
    finally:
        backend.close()
