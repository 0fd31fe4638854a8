"""Where tierbench keeps what outlives a run: one root for every cache (quantized files, canary verdicts)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root(override: Path | None = None) -> tuple[Path, str]:
    """The cache root and how the user chose it (for error messages): a flag, ``$TIERBENCH_CACHE_DIR``,
    or the platform's user cache directory (``~/.cache/tierbench`` on Linux)."""
    if override is not None:
        return override, "--cache-dir"
    env = os.environ.get("TIERBENCH_CACHE_DIR")
    if env:
        return Path(env).expanduser(), "TIERBENCH_CACHE_DIR"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("tierbench")), "cache directory"
