"""The embedded default model catalog and how to load a user's own.

Loading validates every model whole, before anything plans or runs: the catalog's own fields,
each cascade's chain, and each model's backend ``params`` against its backend plugin's params
model (harness.backends.plugin). The catalog sits above config and the backend registry and is
the one place that knows both, so config never imports a backend.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.backends.registry import UnknownBackend, get_plugin
from harness.config.loading import format_validation_error, line_of, read_yaml, validate
from harness.config.models import Catalog, ModelSpec
from harness.errors import BackendUnavailable, ConfigError

CASCADE_BACKEND = "cascade"
DEFAULT_SOURCE = "harness/catalog/models.yaml"

# model name -> (file that defined it, that file's parsed YAML, the model's index in its list)
Sources = dict[str, tuple[str, Any, int]]


def default_catalog() -> Catalog:
    """The catalog shipped in the package: nano and mini local GGUF models, full over an API, a cascade."""
    return load_catalog(None)


def load_catalog(path: Path | None) -> Catalog:
    """The default catalog, with a user catalog's models added or replacing same-named ones; all validated."""
    data = read_yaml(Path(str(files("harness.catalog").joinpath("models.yaml"))))
    catalog = validate(Catalog, data, DEFAULT_SOURCE)
    sources: Sources = {m.name: (DEFAULT_SOURCE, data, i) for i, m in enumerate(catalog.models)}
    if path is not None:
        user_data = read_yaml(path)
        user = validate(Catalog, user_data, str(path))
        sources.update({m.name: (str(path), user_data, i) for i, m in enumerate(user.models)})
        catalog = catalog.merged_with(user)
    catalog = resolve_cascades(catalog, sources)
    for model in catalog.models:
        check_backend_params(model, *sources[model.name])
    return catalog


def resolve_cascades(catalog: Catalog, sources: Sources) -> Catalog:
    """Embed each cascade's chain (the tiers' own specs) in its params, so its cell needs no catalog.

    A chain that names an unknown model, a cascade, or the cascade itself is a one-line
    ConfigError naming the file that defined the cascade.
    """
    models: list[ModelSpec] = []
    for model in catalog.models:
        if model.backend != CASCADE_BACKEND:
            models.append(model)
            continue
        where = sources[model.name][0]
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
    return Catalog(models=models, ladders=catalog.ladders)  # ladders expand later, before planning


def check_backend_params(model: ModelSpec, where: str, data: Any, index: int) -> None:
    """Validate ``model.params`` against its backend's params model: a one-line ConfigError naming the
    file, line, model and field. A backend that is registered but cannot be imported is left to the
    planner, which reports it as the cell's skip reason."""
    try:
        plugin = get_plugin(model.backend)
    except UnknownBackend as exc:
        line = line_of(data, ("models", index, "backend"))
        raise ConfigError(f"{where}{f':{line}' if line else ''}: model '{model.name}' field 'backend': {exc}") from None
    except BackendUnavailable:
        return
    try:
        plugin.params_model.model_validate(model.params)
    except ValidationError as exc:
        loc = ("models", index, "params", *exc.errors()[0]["loc"])
        line = line_of(data, loc) or line_of(data, ("models", index, "name"))
        source = f"{where}:{line}" if line else where
        raise ConfigError(format_validation_error(source, exc, subject=f"model '{model.name}' params: ")) from None
