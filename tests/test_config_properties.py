"""Property tests over the config loaders: any input gives a valid model or a one-line ConfigError.

Hypothesis feeds the suite, catalog, profile and rules loaders YAML documents built from the
models' own field names (so validation goes deep) mixed with arbitrary keys and values, and raw
text that is often not YAML at all. Whatever comes in, the loader must either return a model or
raise ``ConfigError`` whose message is one line naming the file; any other exception is a bug.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from harness.catalog import load_catalog
from harness.config.loading import load_yaml_model
from harness.config.models import ModelSpec, Prices
from harness.config.profile import Accelerator, CostModel, HardwareProfile, PowerModel
from harness.config.rules import GateRule, GateRules
from harness.config.suite import Constraints, PerfScenario, SuiteSpec
from harness.errors import ConfigError
from harness.hardware import load_profile_file

SETTINGS = settings(
    max_examples=int(os.environ.get("TIERBENCH_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _field_names(*models: type[BaseModel]) -> list[str]:
    names: set[str] = set()
    for model in models:
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
    return sorted(names)


MODELS: tuple[type[BaseModel], ...] = (
    SuiteSpec,
    PerfScenario,
    Constraints,
    ModelSpec,
    Prices,
    HardwareProfile,
    PowerModel,
    CostModel,
    Accelerator,
    GateRules,
    GateRule,
)
EXTRA_KEYS = ["models", "params", "model_path", "model_package", "model_file", "n_ctx", "api_key_env", "base_url"]
KEYS = [*_field_names(*MODELS), *EXTRA_KEYS, "headers"]

# Values that real files hold, and values that they should not.
WORDS = st.sampled_from(
    [
        "nano",
        "mini",
        "full",
        "llamacpp",
        "openai",
        "grid",
        "rate",
        "host",
        "edge",
        "accuracy",
        "ttft_p95",
        "e2e_p50",
        "cheapest",
        "laptop",
        "none",
        "gpu",
        "quick",
        "arithmetic",
        "x" * 300,
        "",
        " ",
        "a/b",
        "名前",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    WORDS,
    st.text(max_size=20),
)
KEY = st.one_of(st.sampled_from(KEYS), st.text(max_size=12), st.integers(-3, 3))
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(KEY, inner, max_size=6),
    ),
    max_leaves=25,
)
# A catalog-shaped document: a list of mostly well-formed models with random damage.
MODEL_ENTRY = st.fixed_dictionaries(
    {"name": st.one_of(WORDS, st.text(max_size=8)), "tier": WORDS, "backend": WORDS},
    optional={"params": st.dictionaries(KEY, DOCUMENTS, max_size=4), "prices": DOCUMENTS, "description": SCALARS},
)
CATALOGS = st.one_of(DOCUMENTS, st.fixed_dictionaries({"models": st.lists(MODEL_ENTRY, max_size=3)}))
RAW_TEXT = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.lists(
        st.sampled_from(["name: x", "tasks: [a", "- ", ": :", "  k: v", "\t", "&a [*a]", "!!python/object:os.system"]),
        max_size=6,
    ).map("\n".join),
)


@contextmanager
def _file(text: str | bytes, name: str = "config.yaml") -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        if isinstance(text, str):
            path.write_text(text, encoding="utf-8", errors="surrogateescape")
        else:
            path.write_bytes(text)
        yield path


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True)


Loader = Callable[[Path], Any]
LOADERS: dict[str, Loader] = {
    "suite": lambda path: load_yaml_model(SuiteSpec, path),
    "catalog": load_catalog,
    "profile": load_profile_file,
    "rules": lambda path: load_yaml_model(GateRules, path),
}


def _check(loader: Loader, path: Path) -> None:
    """The one property: a model, or a ConfigError on one line that names the file."""
    try:
        loader(path)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        assert str(path) in message, message
        assert message.strip(), "empty message"


@pytest.mark.parametrize("kind", sorted(LOADERS))
@SETTINGS
@given(document=DOCUMENTS)
def test_any_yaml_document_validates_or_fails_on_one_line(kind: str, document: Any) -> None:
    with _file(_dump(document)) as path:
        _check(LOADERS[kind], path)


@SETTINGS
@given(document=CATALOGS)
def test_catalog_shaped_documents(document: Any) -> None:
    with _file(_dump(document)) as path:
        _check(load_catalog, path)


@pytest.mark.parametrize("kind", sorted(LOADERS))
@SETTINGS
@given(text=RAW_TEXT)
def test_any_text_validates_or_fails_on_one_line(kind: str, text: str) -> None:
    with _file(text) as path:
        _check(LOADERS[kind], path)


@pytest.mark.parametrize("kind", sorted(LOADERS))
@SETTINGS
@given(data=st.binary(max_size=120))
def test_any_bytes_validate_or_fail_on_one_line(kind: str, data: bytes) -> None:
    with _file(data) as path:
        _check(LOADERS[kind], path)


@SETTINGS
@given(
    extends=st.one_of(st.text(max_size=15), WORDS, DOCUMENTS),
    cores=st.one_of(st.integers(-2, 64), SCALARS),
)
def test_profile_extends_anything(extends: Any, cores: Any) -> None:
    """``extends`` may name anything: a shipped profile, a path-like string, nothing at all."""
    with _file(_dump({"name": "child", "extends": extends, "cores": cores})) as path:
        _check(load_profile_file, path)


def test_a_valid_suite_still_loads() -> None:
    """The properties above would hold for a loader that refuses everything: show it accepts."""
    document = {"name": "ok", "tasks": ["arithmetic"], "scenarios": [{"name": "s", "prompt_tokens": [8]}]}
    with _file(_dump(document)) as path:
        suite = load_yaml_model(SuiteSpec, path)
    assert suite.scenarios[0].prompt_tokens == [8]
