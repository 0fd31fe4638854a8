"""Backends are found through the ``tierbench.backends`` entry-point group, built-ins and plugins alike."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from harness.backends.base import Backend
from harness.backends.registry import available_backends, create_backend, get_factory
from harness.config.models import ModelSpec
from harness.errors import BackendUnavailable


def test_built_ins_are_registered_as_entry_points() -> None:
    registered = available_backends()
    assert registered["llamacpp"] == "harness.backends.llamacpp:create"
    assert registered["openai"] == "harness.backends.openai_compat:create"
    assert registered["transformers"] == "harness.backends.transformers_hf:create"


@pytest.mark.parametrize(
    ("backend", "params"),
    [
        ("llamacpp", {"model_path": "/x.gguf"}),
        ("openai", {"model": "m", "base_url": "http://127.0.0.1:9/v1"}),
        ("transformers", {"model_path": "/x"}),
    ],
)
def test_every_built_in_satisfies_the_protocol(backend: str, params: dict[str, str]) -> None:
    instance = create_backend(ModelSpec(name="m", tier="nano", backend=backend, params=params))
    assert isinstance(instance, Backend)
    assert instance.name == "m"


def test_unknown_backend_lists_the_registered_ones() -> None:
    with pytest.raises(BackendUnavailable, match=r"unknown backend 'nope' \(registered: .*llamacpp.*openai"):
        get_factory("nope")


def test_a_third_party_plugin_registers_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed distribution with a ``tierbench.backends`` entry point is found like a built-in."""
    (tmp_path / "echo_backend.py").write_text(
        textwrap.dedent(
            """
            from harness.backends.base import Capabilities, Chunk

            class Echo:
                capabilities = Capabilities(loglikelihood=False, concurrent=True)

                def __init__(self, spec):
                    self.name = spec.name

                def stream(self, request, usage):
                    for word in request.prompt.split()[: request.max_tokens]:
                        yield Chunk(word + " ")
                    usage.output_tokens = min(len(request.prompt.split()), request.max_tokens)

            def create(spec):
                return Echo(spec)
            """
        )
    )
    dist = tmp_path / "tierbench_echo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tierbench-echo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tierbench.backends]\necho = echo_backend:create\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "echo_backend", raising=False)

    assert available_backends()["echo"] == "echo_backend:create"
    backend = create_backend(ModelSpec(name="parrot", tier="nano", backend="echo"))
    from harness.backends.base import GenerationRequest
    from harness.meters.latency import timed_generate

    timing = timed_generate(backend, GenerationRequest(prompt="one two three", max_tokens=2))
    assert timing.text == "one two " and timing.output_tokens == 2
