"""Find backends through the ``tierbench.backends`` entry-point group.

Built-ins are registered in our own pyproject.toml exactly as a third-party plugin would be.
Each entry point names a factory ``create(spec: ModelSpec) -> Backend`` that imports its heavy
dependency lazily and raises ``MissingDependency`` with the extra to install.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from harness.backends.base import Backend
from harness.config.models import ModelSpec
from harness.errors import BackendUnavailable

GROUP = "tierbench.backends"

BackendFactory = Callable[[ModelSpec], Backend]


def available_backends() -> dict[str, str]:
    """Backend name -> entry point target, for listing."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def get_factory(name: str) -> BackendFactory:
    """The factory registered under ``name``."""
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(sorted(available_backends())) or "none"
        raise BackendUnavailable(f"unknown backend '{name}' (registered: {known})")
    try:
        factory: BackendFactory = matches[0].load()
    except ImportError as exc:
        raise BackendUnavailable(f"backend '{name}' could not be imported ({exc}); reinstall tierbench") from None
    return factory


def create_backend(spec: ModelSpec) -> Backend:
    """Build (but do not load) the backend for ``spec``."""
    return get_factory(spec.backend)(spec)
