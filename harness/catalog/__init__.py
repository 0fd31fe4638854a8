"""The embedded default model catalog and how to load a user's own."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from harness.config.loading import line_of, read_yaml, validate
from harness.config.models import Catalog, ModelSpec
from harness.errors import ConfigError

CASCADE_BACKEND = "cascade"


def default_catalog() -> Catalog:
    """The catalog shipped in the package: nano and mini local GGUF models, full over an API, a cascade."""
    resource = files("harness.catalog").joinpath("models.yaml")
    where = "harness/catalog/models.yaml"
    return resolve_cascades(validate(Catalog, read_yaml(Path(str(resource))), where), {}, where)


def load_catalog(path: Path | None) -> Catalog:
    """The default catalog, with a user catalog's models added or replacing same-named ones."""
    base = default_catalog()
    if path is None:
        return base
    data = read_yaml(path)
    user = validate(Catalog, data, str(path))
    merged = resolve_cascades(base.merged_with(user), {m.name: str(path) for m in user.models}, "the default catalog")
    resolved = Catalog(models=[m for m in merged.models if m.name in {u.name for u in user.models}])
    _check_backend_params(resolved, data, path)
    return merged


def resolve_cascades(catalog: Catalog, origin: dict[str, str], default_origin: str) -> Catalog:
    """Embed each cascade's chain (the tiers' own specs) in its params, so its cell needs no catalog.

    A chain that names an unknown model, a cascade, or the cascade itself is a one-line
    ConfigError naming the file that defined the cascade.
    """
    models: list[ModelSpec] = []
    for model in catalog.models:
        if model.backend != CASCADE_BACKEND:
            models.append(model)
            continue
        where = origin.get(model.name, default_origin)
        chain = model.params.get("chain")
        if not isinstance(chain, list) or not all(isinstance(n, str) for n in chain):
            raise ConfigError(f"{where}: model '{model.name}' params.chain: give a list of catalog model names")
        tiers = []
        for name in chain:
            tier = catalog.get(name)
            if tier is None:
                known = ", ".join(m.name for m in catalog.models if m.backend != CASCADE_BACKEND)
                raise ConfigError(
                    f"{where}: model '{model.name}' params.chain names unknown model '{name}' (known: {known})"
                )
            if tier.backend == CASCADE_BACKEND:
                raise ConfigError(
                    f"{where}: model '{model.name}' params.chain names '{name}', itself a cascade; "
                    "list the tiers it chains instead"
                )
            tiers.append(tier.model_dump(mode="json"))
        models.append(model.model_copy(update={"params": {**model.params, "tiers": tiers}}))
    return Catalog(models=models)


def _check_backend_params(catalog: Catalog, data: Any, path: Path) -> None:
    """Validate each model's backend ``params`` now, so a typo names the catalog file and line."""
    from harness.backends.registry import create_backend
    from harness.errors import BackendUnavailable

    for index, model in enumerate(catalog.models):
        try:
            create_backend(model)
        except BackendUnavailable:
            continue  # the planner reports it as the cell's skip reason
        except ConfigError as exc:
            line = line_of(data, ("models", index, "params")) or line_of(data, ("models", index, "name"))
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(f"{where}: {exc}") from None
