"""Catalog expansion: one model entry becomes several ordinary models, each a variant of it.

A ``variants:`` matrix and a quantization ladder (harness/ladder/expand.py) both expand through :func:`expand`,
so downstream a variant is a plain ``ModelSpec`` told apart only by its labels (docs/variants.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.config.models import BASE_MODEL, VARIANT, ModelSpec


@dataclass(frozen=True)
class Variant:
    """One expanded model: its full name, the params it overrides and the labels it adds."""

    name: str
    label: str  # what the variant is, e.g. "reasoning_effort=high" or a rung's type
    params: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    description: str = ""  # appended to the base model's description


def expand(base: ModelSpec, variants: Sequence[Variant]) -> list[ModelSpec]:
    """Each variant as an ordinary model: the base's fields, its params over the base's, labelled."""
    return [
        base.model_copy(
            update={
                "name": variant.name,
                "params": {**base.params, **variant.params},
                "labels": {**base.labels, BASE_MODEL: base.name, VARIANT: variant.label, **variant.labels},
                "description": f"{base.description} — {variant.description or variant.label}".lstrip(" —"),
                "variants": {},
            }
        )
        for variant in variants
    ]


def value_text(value: Any) -> str:
    """A matrix value as it appears in names and labels (true/false for booleans, as YAML writes them)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def variant_name(base: str, settings: dict[str, Any]) -> str:
    """``mini@high`` for a one-parameter matrix of words, ``nano@n_threads=1`` where the value alone would
    not say what varies (a number, a boolean), ``mini@reasoning_effort=high+verbosity=low`` for several."""
    values = list(settings.values())
    if len(values) == 1 and isinstance(values[0], str):
        return f"{base}@{values[0]}"
    return f"{base}@" + "+".join(f"{key}={value_text(value)}" for key, value in settings.items())


def matrix_variants(spec: ModelSpec) -> list[Variant]:
    """Every combination of a model's ``variants:`` matrix, in the order the YAML lists keys and values."""
    variants = []
    for values in itertools.product(*spec.variants.values()):
        settings = dict(zip(spec.variants, values, strict=True))
        labels = {key: value_text(value) for key, value in settings.items()}
        label = ", ".join(f"{key}={text}" for key, text in labels.items())
        variants.append(Variant(variant_name(spec.name, settings), label, settings, labels))
    return variants
