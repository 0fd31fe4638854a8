"""Backends are found through the ``tierbench.backends`` entry-point group, built-ins and plugins alike."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from plugin_install import install_plugin

from harness.backends.base import Backend
from harness.backends.plugin import BackendPlugin
from harness.backends.registry import UnknownBackend, available_backends, check_model, create_backend, get_plugin
from harness.cli.main import cli
from harness.config.models import ModelSpec
from harness.results.store import RunStore

TINY_SUITE = Path(__file__).resolve().parent / "data" / "tiny-suite.yaml"


def test_built_ins_are_registered_as_entry_points() -> None:
    registered = available_backends()
    assert registered["llamacpp"] == "harness.backends.llamacpp:plugin"
    assert registered["openai"] == "harness.backends.openai_compat:plugin"
    assert registered["transformers"] == "harness.backends.transformers_hf:plugin"
    assert registered["cascade"] == "harness.backends.cascade:plugin"
    assert all(isinstance(get_plugin(name), BackendPlugin) for name in registered)


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
    with pytest.raises(UnknownBackend, match=r"unknown backend 'nope' \(registered: .*llamacpp.*openai"):
        get_plugin("nope")


PROBE = """
    import os
    from pydantic import BaseModel, ConfigDict, Field
    from harness.backends.base import Capabilities
    from harness.backends.plugin import BackendPlugin

    class ProbeParams(BaseModel):
        model_config = ConfigDict(extra="forbid")
        widget: str | None = None
        log: str
        size: int = Field(default=1, ge=1)

    def check(spec, params):
        return None if params.widget else "no widget here (set params.widget)"

    def create(spec, params):
        with open(params.log, "a") as log:  # who built it: one line per build, with the process id
            log.write(f"{spec.name} {os.getpid()}\\n")
        raise RuntimeError("probe built")

    plugin = BackendPlugin(
        name="probe", params_model=ProbeParams, check=check, create=create, capabilities=Capabilities(loglikelihood=False)
    )
"""


def test_a_plugin_is_validated_at_load_checked_cheaply_and_built_only_in_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner asks the plugin's check (a skipped cell says why) and builds nothing; the worker builds once."""
    install_plugin(tmp_path, monkeypatch, "probe_backend", PROBE, "probe = probe_backend:plugin")
    log = tmp_path / "built.log"
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "models:\n"
        f"  - {{name: gated, tier: nano, backend: probe, params: {{log: '{log}'}}}}\n"
        f"  - {{name: open, tier: mini, backend: probe, params: {{log: '{log}', widget: w}}}}\n"
    )
    runner = CliRunner()
    listed = runner.invoke(cli, ["models", "list", "--catalog", str(catalog), "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row for row in json.loads(listed.output)}
    assert rows["gated"]["reason"] == "no widget here (set params.widget)" and rows["open"]["reason"] == "ready"

    out = tmp_path / "run"
    args = ["run", "--suite", str(TINY_SUITE), "--catalog", str(catalog), "--models", "gated,open"]
    result = runner.invoke(cli, [*args, "--tasks", "", "--out", str(out), "--no-report"])
    assert result.exit_code == 1, f"{result.output}\n{result.exception!r}"  # the built cell failed
    cells = RunStore.open(out).read_table("cells").set_index("model")
    assert cells.loc["gated", "status"] == "skipped"
    assert cells.loc["gated", "reason"] == "no widget here (set params.widget)"
    assert cells.loc["open", "status"] == "failed" and "probe built" in cells.loc["open", "reason"]
    builds = log.read_text().splitlines()
    assert len(builds) == 1 and builds[0].startswith("open ")  # once, for the runnable cell only
    assert int(builds[0].split()[1]) != os.getpid()  # ... in the worker, never in this (the parent) process

    # a bad field of the plugin's own params model is refused at load, naming file, line, model and field
    catalog.write_text("models:\n  - name: gated\n    tier: nano\n    backend: probe\n    params: {log: x, size: 0}\n")
    refused = runner.invoke(cli, [*args, "--out", str(tmp_path / "refused")])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert f"{catalog}:5: model 'gated' params: field 'size'" in refused.stderr
    assert not (tmp_path / "refused").exists()


def test_a_bare_factory_plugin_still_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin whose entry point is still a bare ``create(spec)`` factory (the older contract) keeps working."""
    install_plugin(
        tmp_path,
        monkeypatch,
        "echo_backend",
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
            """,
        "echo = echo_backend:create",
    )
    assert available_backends()["echo"] == "echo_backend:create"
    spec = ModelSpec(name="parrot", tier="nano", backend="echo", params={"anything": 1})
    assert check_model(spec) is None  # no params model, no check of its own: it is built to ask, as before
    backend = create_backend(spec)
    from harness.backends.base import GenerationRequest
    from harness.meters.latency import timed_generate

    timing = timed_generate(backend, GenerationRequest(prompt="one two three", max_tokens=2))
    assert timing.text == "one two " and timing.output_tokens == 2
