"""The plugin contract: what a backend declares so it can be validated and checked without being built.
A backend module exposes one ``BackendPlugin``, named by its ``tierbench.backends`` entry point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.backends.base import Backend, Capabilities
from harness.config.loading import format_validation_error
from harness.config.models import ModelSpec
from harness.errors import ConfigError

ParamsT = TypeVar("ParamsT", bound=BaseModel)


@dataclass(frozen=True)
class NativeGuard(Generic[ParamsT]):
    """What a backend whose native code can crash on some machines declares (harness.backends.canary)."""

    facts: Callable[[ModelSpec, ParamsT], dict[str, Any]]  # what a verdict depends on: build, CPU, weights
    undecided: Callable[[ParamsT], bool]  # the params leave the risky choice to the canary ("auto")
    fast: Callable[[ParamsT], ParamsT]  # the settings the canary tries first
    safe: Callable[[ParamsT], ParamsT]  # the safest settings the backend has
    disabled: str  # what the safe settings turn off, as the report names it
    advice: str  # what to try when even the safe settings crash


@dataclass(frozen=True)
class BackendPlugin(Generic[ParamsT]):
    """One backend: its typed params, a cheap availability check and the factory that builds it."""

    name: str
    params_model: type[ParamsT]
    # why it cannot run here, or None; cheap (no heavy import, no model load, no network), never builds
    check: Callable[[ModelSpec, ParamsT], str | None]
    create: Callable[[ModelSpec, ParamsT], Backend]  # build (not load) the backend: the worker only
    # what every model of this backend can do, known without building it (None: only once built)
    capabilities: Capabilities | None = None
    # native code that may crash on some CPUs: checked by a canary before it is built (None: pure Python)
    guard: NativeGuard[ParamsT] | None = None
    # the models a composite backend holds (a cascade's tiers): their canaries run before it is built
    parts: Callable[[ParamsT], list[ModelSpec]] | None = None

    def params(self, spec: ModelSpec) -> ParamsT:
        """``spec.params`` validated; a one-line ConfigError naming the model and the field."""
        try:
            return self.params_model.model_validate(spec.params)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(f"model '{spec.name}' params", exc)) from None


class AnyParams(BaseModel):
    """Params of a bare-factory plugin: it validates them itself when it is built."""

    model_config = ConfigDict(extra="allow")


def from_factory(name: str, factory: Callable[[ModelSpec], Any]) -> BackendPlugin[AnyParams]:
    """Wrap a plugin that is still a bare ``create(spec) -> Backend`` factory (the older contract): with no
    params model or cheap check, answering "can it run here?" means building it, as before."""

    def check(spec: ModelSpec, _: AnyParams) -> str | None:
        own_check = getattr(factory(spec), "check", None)
        return own_check() if callable(own_check) else None

    return BackendPlugin(
        name=name, params_model=AnyParams, check=check, create=lambda spec, _: factory(spec), capabilities=None
    )
