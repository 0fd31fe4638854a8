"""The embedded default model catalog and how to load a user's own."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from harness.config.loading import line_of, read_yaml, validate
from harness.config.models import Catalog


def default_catalog() -> Catalog:
    """The catalog shipped in the package: nano and mini local GGUF models, full over an API."""
    resource = files("harness.catalog").joinpath("models.yaml")
    return validate(Catalog, read_yaml(Path(str(resource))), "harness/catalog/models.yaml")


def load_catalog(path: Path | None) -> Catalog:
    """The default catalog, with a user catalog's models added or replacing same-named ones."""
    base = default_catalog()
    if path is None:
        return base
    data = read_yaml(path)
    user = validate(Catalog, data, str(path))
    _check_backend_params(user, data, path)
    return base.merged_with(user)


def _check_backend_params(catalog: Catalog, data: Any, path: Path) -> None:
    """Validate each model's backend ``params`` now, so a typo names the catalog file and line."""
    from harness.backends.registry import create_backend
    from harness.errors import BackendUnavailable, ConfigError

    for index, model in enumerate(catalog.models):
        try:
            create_backend(model)
        except BackendUnavailable:
            continue  # the planner reports it as the cell's skip reason
        except ConfigError as exc:
            line = line_of(data, ("models", index, "params")) or line_of(data, ("models", index, "name"))
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(f"{where}: {exc}") from None
