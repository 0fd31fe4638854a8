"""A non-editable install must carry every package and the data files (tasks, profiles, catalog)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _declared_packages() -> set[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    return set(config["tool"]["setuptools"]["packages"])


def test_every_python_package_directory_is_declared() -> None:
    found = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "harness").rglob("__init__.py")}
    found |= {"harness.tasks", "harness.hardware_profiles"}
    assert found <= _declared_packages(), f"add to [tool.setuptools] packages: {sorted(found - _declared_packages())}"


@pytest.mark.slow
def test_wheel_contains_tasks_profiles_catalog_and_templates(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("tierbench-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "harness/tasks/suites/quick.yaml" in names
    assert "harness/catalog/models.yaml" in names
    assert {"harness/tasks/traces/azure_llm_conv_2023_slice.csv", "harness/tasks/traces/SOURCE.txt"} <= names
    assert any(n.startswith("harness/hardware_profiles/") and n.endswith(".yaml") for n in names)
    assert any(n.startswith("harness/report/templates/") for n in names)
