"""The llama.cpp side of a ladder, run as a child process: ``info PATH`` and ``quantize SRC DST TYPE``.

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


def model_info(path: str) -> dict[str, Any]:
    """general.file_type, parameter count and tensor bytes, read by llama.cpp's own loader (no weights)."""
    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(path.encode(), params)
    if not model:
        raise ValueError("llama.cpp could not read the file")
    try:
        buffer = ctypes.create_string_buffer(32)
        found = llama_cpp.llama_model_meta_val_str(model, b"general.file_type", buffer, len(buffer))
        ftype = int(buffer.value) if found >= 0 and buffer.value.isdigit() else None
        return {
            "ftype": ftype,
            "n_params": int(llama_cpp.llama_model_n_params(model)),
            "tensor_bytes": int(llama_cpp.llama_model_size(model)),
        }
    finally:
        llama_cpp.llama_model_free(model)


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
    return model_info(target)


def main(argv: list[str]) -> int:
    # past a file-size limit, write() should fail with EFBIG rather than the process dying silently
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        if argv[1] == "info":
            result = model_info(argv[2])
        elif argv[1] == "quantize":
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
