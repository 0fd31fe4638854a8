"""Catalog expansion: each ladder entry becomes ordinary llamacpp model specs before planning.

A rung is a variant over the weights file (harness.config.variants.expand, labelled with the ladder
as its base model); nothing downstream knows a rung from any other model except by its ``labels``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.config.models import LADDER, Catalog, LadderSpec, ModelSpec
from harness.config.variants import Variant, expand
from harness.errors import BackendUnavailable, UserError
from harness.ladder.cache import QuantCache
from harness.ladder.derive import Rung, derive_ladder, parse_types
from harness.results.columns import BPW, DESCRIPTION, FILE_MB, QUANT_TYPE, REQUANTIZED_FROM, SOURCE

# the label naming a rung's fidelity reference (the other label keys are cells-table columns)
REFERENCE = "fidelity_reference"


def source_path(ladder: LadderSpec) -> Path:
    """The ladder's source GGUF (a model package's file is assembled on first use)."""
    src = ladder.source
    if src.model_path:
        return Path(src.model_path).expanduser()
    from harness.backends.local_models import resolve_model_file

    assert src.model_package and src.model_file
    return resolve_model_file(src.model_package, src.model_file)


def _base(ladder: LadderSpec, params: dict[str, Any]) -> ModelSpec:
    """The ladder as the base model its rungs are variants of (a variant over the weights file)."""
    description = ladder.description or f"{ladder.name} ladder"
    return ModelSpec(name=ladder.name, tier=ladder.tier, backend="llamacpp", description=description, params=params)


def rung_spec(ladder: LadderSpec, rung: Rung) -> ModelSpec:
    """One rung as a plain llamacpp model, labelled with what it is."""
    labels = {
        LADDER: ladder.name,
        QUANT_TYPE: rung.type.name,
        BPW: f"{rung.info.bits_per_weight:.3f}",
        FILE_MB: f"{rung.info.size_mb:.1f}",
        SOURCE: f"{rung.source.name} ({rung.source_type}, sha256 {rung.source_sha256[:12]})",
        REFERENCE: str(rung.source),
        DESCRIPTION: rung.label(),
    }
    if rung.requantized_from:
        labels[REQUANTIZED_FROM] = rung.requantized_from
    name = ladder.rung_name(rung.type.name)
    variant = Variant(name, rung.type.name, {"model_path": str(rung.path)}, labels, rung.label())
    return expand(_base(ladder, ladder.params), [variant])[0]


def _placeholder_specs(ladder: LadderSpec, note: str) -> list[ModelSpec]:
    """Rungs not derived in this command; if planned, the backend's check names why they cannot run."""
    params = {**ladder.params, **ladder.source.model_dump(exclude_none=True)}
    variants = [
        Variant(ladder.rung_name(t), t, labels={LADDER: ladder.name, QUANT_TYPE: t}, description=f"{t} ({note})")
        for t in ladder.types
    ]
    return expand(_base(ladder, params), variants)


def expand_catalog(
    catalog: Catalog,
    wanted: list[str] | None,
    *,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> Catalog:
    """The catalog with every ladder's rungs added as models; only rungs of ``wanted`` models are derived
    now, the others are listed all the same (so ``--models`` can name them)."""
    if not catalog.ladders:
        return catalog
    known = {m.name for m in catalog.models}
    added: list[ModelSpec] = []
    cache: QuantCache | None = None
    for index, ladder in enumerate(catalog.ladders):
        names = [ladder.rung_name(t) for t in ladder.types]
        clash = next((n for n in names if n in known), None)
        if clash:
            raise UserError(f"catalog ladders[{index}] '{ladder.name}': rung name '{clash}' is also a model's name")
        if wanted is not None and not set(names) & set(wanted):
            added += _placeholder_specs(ladder, "derived when a run selects it")
            continue
        try:
            source = source_path(ladder)
        except BackendUnavailable as exc:
            added += _placeholder_specs(ladder, f"not derived: {exc}")
            continue
        cache = cache or QuantCache.open(cache_dir)  # opened (and checked writable) only when a ladder derives
        types = parse_types(ladder.types, f"catalog ladders[{index}] '{ladder.name}' types")
        rungs = derive_ladder(
            source,
            types,
            allow_requantize=ladder.allow_requantize,
            cache=cache,
            where=f"catalog ladder '{ladder.name}' types",
            what=f"catalog ladder '{ladder.name}' source",
            log=log,
        )
        added += [rung_spec(ladder, rung) for rung in rungs]
    return Catalog(models=[*catalog.models, *added], ladders=catalog.ladders)
