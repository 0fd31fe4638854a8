"""The embedded default model catalog and how to load a user's own."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from harness.config.loading import load_yaml_model, read_yaml, validate
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
    return base.merged_with(load_yaml_model(Catalog, path))
