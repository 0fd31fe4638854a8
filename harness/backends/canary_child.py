"""The canary's child process: ``python -m harness.backends.canary_child`` with a ModelSpec as JSON on stdin.

It loads the model with exactly the params it was given, decodes a few tokens and makes one scoring
call, the paths where native kernels first run. Exit 0: it survived; a signal: the kernels crash here.
"""

from __future__ import annotations

import sys

from harness.backends.base import GenerationRequest, StreamUsage
from harness.backends.registry import get_plugin
from harness.config.models import ModelSpec

# long enough that the prompt is evaluated as a batch (llama.cpp's matrix kernels, where AMX and the
# repacked weights run), as every real prompt is; a one-token prompt alone can pass where they crash
PROMPT = " ".join(["The quick brown fox jumps over the lazy dog near the river bank."] * 6)


def main() -> int:
    spec = ModelSpec.model_validate_json(sys.stdin.read())
    plugin = get_plugin(spec.backend)
    backend = plugin.create(spec, plugin.params(spec))  # as given: the canary must not consult itself
    backend.load()
    try:
        for _ in backend.stream(GenerationRequest(prompt=PROMPT, max_tokens=4), StreamUsage()):
            pass
        if backend.capabilities.loglikelihood:
            backend.loglikelihood([(PROMPT, " The end.")])
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
