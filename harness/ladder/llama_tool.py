"""The llama.cpp side of a ladder, run as a child process: ``quantize SRC DST TYPE``.

A child keeps llama.cpp's loader chatter and any abort out of the tierbench process, and lets a
file-size limit or a full disk fail one call, not the run. The last stdout line is one JSON
object; anything llama.cpp printed goes to stderr, which the parent keeps for the error message.
"""

from __future__ import annotations

import ctypes
import json
import signal
import sys
from typing import Any


def quantize(source: str, target: str, ftype: int, allow_requantize: bool, threads: int) -> dict[str, Any]:
    """Write ``target`` with llama.cpp's quantizer; its return code says whether it succeeded."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = allow_requantize
    params.nthread = threads
    code = llama_cpp.llama_model_quantize(source.encode(), target.encode(), ctypes.byref(params))
    if code != 0:
        raise OSError(f"llama.cpp's quantizer returned {code}")
    return {}  # the parent reads what was written from the file's header


def main(argv: list[str]) -> int:
    # past a file-size limit, write() should fail with EFBIG rather than the process dying silently
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        if argv[1] == "quantize":
            result = quantize(argv[2], argv[3], int(argv[4]), argv[5] == "1", int(argv[6]))
        else:
            raise ValueError(f"unknown action {argv[1]!r}")
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
