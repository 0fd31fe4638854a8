"""Install a backend plugin for a test the way a user would: a module and a dist-info with an entry point."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest


def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str, target: str) -> None:
    """A real installed distribution (dist-info with entry_points.txt) whose backend is ``module``.

    PYTHONPATH carries it into every child process (cell workers, canaries), as an installed package would be.
    """
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    dist = tmp_path / f"tierbench_{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tierbench-{module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[tierbench.backends]\n{target}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    monkeypatch.delitem(sys.modules, module, raising=False)
