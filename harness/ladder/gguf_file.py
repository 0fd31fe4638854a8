"""What a GGUF file says about itself: its file type and its real bits per weight.

The metadata is read in-process from the header (``harness.ggufheader``); only quantization runs
llama.cpp, in a child process (``llama_tool``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.config.quant_types import QuantType, type_of_ftype
from harness.errors import UserError
from harness.ggufheader import GgufHeaderError, NotGguf, read_header


@dataclass(frozen=True)
class GgufInfo:
    """A GGUF file's type, size and bits per weight (tensor bytes x 8 / parameters)."""

    file_type: QuantType | None
    ftype: int | None
    bits_per_weight: float
    n_params: int
    size_bytes: int

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 2**20

    def to_json(self) -> dict[str, Any]:
        """Every field but ``file_type``, which ``from_json`` derives from ``ftype``."""
        return {k: v for k, v in asdict(self).items() if k != "file_type"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GgufInfo:
        ftype = data.get("ftype")
        return cls(
            file_type=type_of_ftype(int(ftype)) if ftype is not None else None,
            ftype=int(ftype) if ftype is not None else None,
            bits_per_weight=float(data["bits_per_weight"]),
            n_params=int(data["n_params"]),
            size_bytes=int(data["size_bytes"]),
        )


def run_tool(*args: str) -> tuple[dict[str, Any], str]:
    """Run ``harness.ladder.llama_tool`` with ``args``: (its JSON answer, its stderr)."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise UserError("quantization needs llama-cpp-python: pip install 'tierbench[local]'") from None
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "harness.ladder.llama_tool", *args], capture_output=True, text=True, env=env
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    answer: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    if proc.returncode != 0 and "error" not in answer:
        answer["error"] = f"llama.cpp stopped (exit code {proc.returncode})"
    return answer, proc.stderr


def last_problem(stderr: str) -> str:
    """The most telling line llama.cpp printed, for a one-line error."""
    keys = ("error", "failed", "No space", "File too large", "exception", "what()")
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    hits = [line for line in lines if any(k.lower() in line.lower() for k in keys)]
    return (hits or lines or [""])[-1][-200:]


def read_info(path: Path, what: str = "model file") -> GgufInfo:
    """File type and bits per weight of a GGUF file; a one-line error naming it when it cannot be read."""
    try:
        header = read_header(path)
    except FileNotFoundError:
        raise UserError(f"{what} {path}: file not found") from None
    except IsADirectoryError:
        raise UserError(f"{what} {path}: is a directory, expected a .gguf file") from None
    except OSError as exc:
        raise UserError(f"{what} {path}: cannot read ({exc.strerror})") from None
    except NotGguf:
        raise UserError(
            f"{what} {path}: not a GGUF file (it does not start with 'GGUF'); "
            "convert the model with llama.cpp's convert_hf_to_gguf.py first"
        ) from None
    except GgufHeaderError as exc:
        raise UserError(f"{what} {path}: damaged or unsupported GGUF file ({exc})") from None
    ftype, n_params = header.fields.get("general.file_type"), header.n_params
    bits = 8 * header.tensor_bytes / n_params if n_params else 0.0
    data = {"ftype": ftype, "n_params": n_params, "bits_per_weight": bits, "size_bytes": path.stat().st_size}
    return GgufInfo.from_json(data)
