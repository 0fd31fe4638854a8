"""Find backends through the ``tierbench.backends`` entry-point group, where the built-ins are registered
exactly as a third-party plugin would be; an entry point naming a bare factory is wrapped to keep working."""

from __future__ import annotations

import functools
import sys
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from harness.backends import canary
from harness.backends.base import Backend
from harness.backends.plugin import BackendPlugin, from_factory
from harness.config.models import ModelSpec
from harness.errors import BackendUnavailable, ConfigError

GROUP = "tierbench.backends"


class UnknownBackend(ConfigError):
    """A catalog names a backend no installed distribution registers."""


@functools.lru_cache(maxsize=8)
def _registered(search_path: tuple[str, ...]) -> tuple[EntryPoint, ...]:
    """The group's entry points as seen from ``search_path``: scanning every installed distribution costs
    tens of milliseconds and a run asks once per model and per check, so one scan per import path."""
    return tuple(entry_points(group=GROUP))


def _entry_points() -> tuple[EntryPoint, ...]:
    return _registered(tuple(sys.path))


def available_backends() -> dict[str, str]:
    """Backend name -> entry point target, for listing."""
    return {ep.name: ep.value for ep in _entry_points()}


def get_plugin(name: str) -> BackendPlugin[Any]:
    """The plugin registered under ``name`` (UnknownBackend, or BackendUnavailable if it cannot be imported)."""
    matches = [ep for ep in _entry_points() if ep.name == name]
    if not matches:
        known = ", ".join(sorted(available_backends())) or "none"
        raise UnknownBackend(f"unknown backend '{name}' (registered: {known})")
    try:
        loaded = matches[0].load()
    except (ImportError, AttributeError) as exc:  # AttributeError: installed metadata older than the code
        raise BackendUnavailable(f"backend '{name}' could not be imported ({exc}); reinstall its package") from None
    if isinstance(loaded, BackendPlugin):
        return loaded
    if callable(loaded):
        return from_factory(name, loaded)
    raise BackendUnavailable(
        f"backend '{name}': entry point {matches[0].value} is neither a BackendPlugin nor a factory"
    )


def check_model(spec: ModelSpec) -> str | None:
    """Why ``spec`` cannot run here, or None: its plugin's cheap check on its validated params."""
    try:
        plugin = get_plugin(spec.backend)
        return plugin.check(spec, plugin.params(spec))
    except BackendUnavailable as exc:
        return str(exc)


def create_backend(spec: ModelSpec) -> Backend:
    """Build (not load) the backend for ``spec``, with the settings its canary found safe whoever builds it:
    a worker, a test or a notebook."""
    plugin = get_plugin(spec.backend)
    return plugin.create(spec, canary.resolve(plugin, spec, plugin.params(spec)))


def prepare_native(spec: ModelSpec) -> None:
    """Run the canaries ``spec`` needs (its own and its parts') before its worker starts, so they cost none of
    the cell's measured time, energy or CPU; problems are left for the worker to report."""
    try:
        plugin = get_plugin(spec.backend)
        params = plugin.params(spec)
        for part in plugin.parts(params) if plugin.parts is not None else []:
            prepare_native(part)
        canary.resolve(plugin, spec, params)  # the one place that decides whether a canary must run
    except (BackendUnavailable, ConfigError, canary.NativeCrash):
        return
