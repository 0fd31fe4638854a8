"""llama-cpp-python's OpenAI-compatible server, behind the native-crash canary.

``python -m harness.backends.llama_server --model PATH [any llama_cpp.server option]``: on a CPU where
llama.cpp's AMX/repack kernels crash, the plain server dies on its first request; this one serves
(the canary decides per model and machine; ``--extra-buffers on|off`` forces either way).
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from harness.backends.llamacpp import extra_buffers_for


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--model", required=True)
    parser.add_argument("--extra-buffers", choices=("auto", "on", "off"), default="auto")
    ours, rest = parser.parse_known_args(argv)
    sys.argv = ["llama_cpp.server", "--model", ours.model, *rest]
    with extra_buffers_for(Path(ours.model), ours.extra_buffers):
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
