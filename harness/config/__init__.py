"""Typed configuration: model catalog, suites, hardware profiles, gate rules."""

from harness.config.loading import load_yaml_model, read_yaml, validate
from harness.config.models import TIER_ORDER, Catalog, ModelSpec, Prices, Tier
from harness.config.profile import Accelerator, CostModel, HardwareProfile, PerformanceModel, PowerModel
from harness.config.suite import Constraints, PerfScenario, SuiteSpec

__all__ = [
    "TIER_ORDER",
    "Accelerator",
    "Catalog",
    "Constraints",
    "CostModel",
    "HardwareProfile",
    "ModelSpec",
    "PerfScenario",
    "PerformanceModel",
    "PowerModel",
    "Prices",
    "SuiteSpec",
    "Tier",
    "load_yaml_model",
    "read_yaml",
    "validate",
]
