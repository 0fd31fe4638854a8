"""The model catalog: which models exist, which tier each serves, and how to reach it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.secrets import inline_secret

Tier = Literal["nano", "mini", "full", "hybrid"]
# hybrid: a live cascade over other tiers (backend: cascade); listed after the tiers it combines
TIER_ORDER: dict[str, int] = {"nano": 0, "mini": 1, "full": 2, "hybrid": 3}


class Prices(BaseModel):
    """List prices in US dollars per one million tokens."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    input_per_mtok: float = Field(ge=0, description="$ per 1M prompt tokens.")
    output_per_mtok: float = Field(ge=0, description="$ per 1M output tokens.")
    source: str = Field(default="", description="Where the prices come from (URL or note).")


class ModelSpec(BaseModel):
    """One model a run can use. Backend-specific settings live in ``params``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(
        min_length=1,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Short name used on the command line (e.g. nano).",
    )
    tier: Tier = Field(description="The tier this model serves: nano, mini, full, or hybrid (a cascade).")
    backend: str = Field(min_length=1, description="Registered backend name (llamacpp, openai, transformers...).")
    description: str = Field(default="", description="What the model is, for the report.")
    params: dict[str, Any] = Field(default_factory=dict, description="Backend settings, validated by the backend.")
    prices: Prices | None = Field(default=None, description="API prices; local models are costed by hardware.")

    @field_validator("params")
    @classmethod
    def _no_inline_secrets(cls, params: dict[str, Any]) -> dict[str, Any]:
        problem = inline_secret(params)
        if problem:
            raise ValueError(problem)
        return params


class Catalog(BaseModel):
    """A list of models; names are unique."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    models: list[ModelSpec] = Field(min_length=1)

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ModelSpec]) -> list[ModelSpec]:
        seen: set[str] = set()
        for model in models:
            if model.name in seen:
                raise ValueError(f"model name '{model.name}' appears twice")
            seen.add(model.name)
        return models

    def get(self, name: str) -> ModelSpec | None:
        return next((m for m in self.models if m.name == name), None)

    def merged_with(self, other: Catalog) -> Catalog:
        """Models in ``other`` replace same-named ones here and add the rest."""
        names = {m.name for m in other.models}
        return Catalog(models=[m for m in self.models if m.name not in names] + list(other.models))
