"""Suites: the built-in ones shipped in tasks/suites, or a user's YAML file."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from harness.config.loading import load_yaml_model
from harness.config.suite import SuiteSpec
from harness.errors import UserError


def load_suite(name_or_path: str) -> SuiteSpec:
    """A built-in suite by name, or a suite file by path."""
    directory = Path(str(files("harness.tasks"))) / "suites"
    builtin = {path.stem: path for path in sorted(directory.glob("*.yaml"))}
    path = builtin.get(name_or_path, Path(name_or_path))  # a built-in name wins over a file of that name
    if path.suffix in {".yaml", ".yml"} or path.exists():
        return load_yaml_model(SuiteSpec, path)
    known = ", ".join(builtin) or "none"
    raise UserError(f"--suite: unknown suite '{name_or_path}' (built-in: {known}; or give a YAML path)")
