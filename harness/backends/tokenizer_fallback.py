"""A local tokenizer (a GGUF's vocabulary or an HF tokenizer directory) for counting tokens an API server
did not report; only ever a labelled fallback (token_count_source = 'retokenized')."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.backends.local_models import resolve_model_file
from harness.errors import BackendUnavailable, MissingDependency


@dataclass(frozen=True)
class FallbackTokenizer:
    """Counts tokens and cuts text to a token budget with one tokenizer's encode and decode."""

    encode: Callable[[str], list[int]]
    decode: Callable[[list[int]], str]

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def truncate(self, text: str, n_tokens: int) -> str:
        return self.decode(self.encode(text)[:n_tokens]).strip()


def _gguf_tokenizer(path: Path) -> FallbackTokenizer:
    """The vocabulary of a GGUF file, loaded without its weights; one call into it at a time."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise MissingDependency("llama-cpp-python", "local") from None
    lock = threading.Lock()
    vocab: Any = Llama(model_path=str(path), vocab_only=True, n_ctx=64, verbose=False)

    def encode(text: str) -> list[int]:
        with lock:
            return list(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def decode(tokens: list[int]) -> str:
        with lock:
            return bytes(vocab.detokenize(tokens)).decode("utf-8", errors="ignore")

    return FallbackTokenizer(encode, decode)


def _hf_tokenizer(path: Path) -> FallbackTokenizer:
    """A Hugging Face tokenizer directory (tokenizer.json and friends)."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise MissingDependency("transformers", "hf") from None
    tok: Any = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    return FallbackTokenizer(
        lambda text: list(tok.encode(text, add_special_tokens=False)), lambda ids: str(tok.decode(ids))
    )


def load_fallback_tokenizer(source: str) -> FallbackTokenizer:
    """``source``: a GGUF path, ``package:file.gguf`` (a GGUF shipped in a package) or an HF directory."""
    if ":" in source and not Path(source).exists():
        package, _, filename = source.partition(":")
        return _gguf_tokenizer(resolve_model_file(package, filename))
    path = Path(source).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _gguf_tokenizer(path)
    if path.is_dir():
        return _hf_tokenizer(path)
    raise BackendUnavailable(f"tokenizer '{source}' not found: give a .gguf file, 'package:file.gguf' or a directory")
