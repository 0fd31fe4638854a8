"""Typed configuration: model catalog, suites, hardware profiles, gate rules (import each module)."""
