"""The embedded default model catalog and how to load a user's own, validated whole before anything runs.

The catalog sits above config and the backend registry and is the one place that knows both (each
model's ``params`` are checked against its backend plugin's params model), so config never imports a backend.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.backends.registry import UnknownBackend, get_plugin
from harness.config.loading import format_validation_error, line_of, located, read_yaml, validate
from harness.config.models import VARIANT, Catalog, ModelSpec
from harness.config.variants import expand, matrix_variants
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
    catalog = expand_variants(catalog, sources)
    catalog = resolve_cascades(catalog, sources)
    for model in catalog.models:
        check_backend_params(model, *sources[model.name])
    return catalog


def expand_variants(catalog: Catalog, sources: Sources) -> Catalog:
    """Each model with a ``variants:`` matrix replaced by one model per combination (``sources`` learns
    their names)."""
    names = {m.name for m in catalog.models}
    models: list[ModelSpec] = []
    for model in catalog.models:
        if not model.variants:
            models.append(model)
            continue
        where, data, index = sources[model.name]
        declared = _declared_params(model.backend)
        for key in model.variants:
            if declared is not None and key not in declared:
                raise ConfigError(
                    f"{located(where, data, ('models', index, 'variants', key))}: model '{model.name}' field "
                    f"'variants.{key}': backend '{model.backend}' has no such param (its params: {', '.join(declared)})"
                )
        for spec in expand(model, matrix_variants(model)):
            if spec.name in names:
                raise ConfigError(
                    f"{located(where, data, ('models', index, 'variants'))}: model '{model.name}' field 'variants': "
                    f"variant '{spec.name}' has the name of another catalog model; rename one"
                )
            names.add(spec.name)
            sources[spec.name] = (where, data, index)
            models.append(spec)
    return Catalog(models=models, ladders=catalog.ladders)


def _declared_params(backend: str) -> list[str] | None:
    """The params a backend's plugin declares, or None when it accepts any (or cannot be loaded here)."""
    try:
        model = get_plugin(backend).params_model
    except (UnknownBackend, BackendUnavailable):
        return None  # the params check names an unknown backend; an unimportable one is the planner's
    return list(model.model_fields) if model.model_config.get("extra") == "forbid" else None


def resolve_cascades(catalog: Catalog, sources: Sources) -> Catalog:
    """Embed each cascade's chain (the tiers' own specs) in its params, so its cell needs no catalog.
    A default cascade whose tier the user's catalog turned into variants is left out."""
    models: list[ModelSpec] = []
    for model in catalog.models:
        if model.backend != CASCADE_BACKEND:
            models.append(model)
            continue
        where = sources[model.name][0]
        at = f"{where}: model '{model.name}' params.chain"
        chain = model.params.get("chain")
        if not isinstance(chain, list) or not all(isinstance(n, str) for n in chain):
            raise ConfigError(f"{at}: give a list of catalog model names")
        if where == DEFAULT_SOURCE and any(catalog.get(n) is None and catalog.select(n) for n in chain):
            continue  # the user's catalog made one of its tiers variants: a cascade of theirs names one
        tiers = []
        for name in chain:
            tier = catalog.get(name)
            variants = [m.name for m in catalog.select(name)]
            if tier is None and variants:
                raise ConfigError(f"{at} names '{name}', which has variants; name one: {', '.join(variants)}")
            if tier is None:
                known = ", ".join(m.name for m in catalog.models if m.backend != CASCADE_BACKEND)
                raise ConfigError(f"{at} names unknown model '{name}' (known: {known})")
            if tier.backend == CASCADE_BACKEND:
                raise ConfigError(f"{at} names '{name}', itself a cascade; list the tiers it chains instead")
            tiers.append(tier.model_dump(mode="json"))
        models.append(model.model_copy(update={"params": {**model.params, "tiers": tiers}}))
    return Catalog(models=models, ladders=catalog.ladders)  # ladders expand later, before planning


def check_backend_params(model: ModelSpec, where: str, data: Any, index: int) -> None:
    """Validate ``model.params`` against its backend's params model. A registered backend that cannot be
    imported is left to the planner, which reports it as the cell's skip reason."""
    try:
        plugin = get_plugin(model.backend)
    except UnknownBackend as exc:
        at = located(where, data, ("models", index, "backend"))
        raise ConfigError(f"{at}: model '{model.name}' field 'backend': {exc}") from None
    except BackendUnavailable:
        return
    try:
        plugin.params_model.model_validate(model.params)
    except ValidationError as exc:
        field = exc.errors()[0]["loc"]
        # a variant's own value is written under variants:, with the parameter's name as its label
        part = "variants" if VARIANT in model.labels and field and str(field[0]) in model.labels else "params"
        loc = ("models", index, part, *field)
        line = line_of(data, loc[:4] if part == "variants" else loc) or line_of(data, ("models", index, "name"))
        source = f"{where}:{line}" if line else where
        raise ConfigError(format_validation_error(source, exc, subject=f"model '{model.name}' params: ")) from None
