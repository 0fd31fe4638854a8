"""A local tokenizer for counting tokens an API server did not report.

Used only as a labelled fallback (token_count_source = 'retokenized'): a GGUF file's vocabulary
through llama.cpp (vocab only, no weights), or a Hugging Face tokenizer directory.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from harness.backends.local_models import resolve_model_file
from harness.errors import BackendUnavailable, MissingDependency


class FallbackTokenizer(Protocol):
    """Counts tokens and cuts text to a token budget."""

    def count(self, text: str) -> int: ...

    def truncate(self, text: str, n_tokens: int) -> str: ...


class _GGUFTokenizer:
    """The vocabulary of a GGUF file, loaded without its weights."""

    def __init__(self, path: Path) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise MissingDependency("llama-cpp-python", "local") from None
        self._lock = threading.Lock()
        self._vocab: Any = Llama(model_path=str(path), vocab_only=True, n_ctx=64, verbose=False)

    def _encode(self, text: str) -> list[int]:
        with self._lock:
            tokens: list[int] = self._vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return tokens

    def count(self, text: str) -> int:
        return len(self._encode(text))

    def truncate(self, text: str, n_tokens: int) -> str:
        tokens = self._encode(text)[:n_tokens]
        with self._lock:
            data = bytes(self._vocab.detokenize(tokens))
        return data.decode("utf-8", errors="ignore").strip()


class _HFTokenizer:
    """A Hugging Face tokenizer directory (tokenizer.json and friends)."""

    def __init__(self, path: Path) -> None:
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise MissingDependency("transformers", "hf") from None
        self._tok: Any = AutoTokenizer.from_pretrained(str(path), local_files_only=True)

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False))

    def truncate(self, text: str, n_tokens: int) -> str:
        ids = self._tok.encode(text, add_special_tokens=False)[:n_tokens]
        decoded: str = self._tok.decode(ids)
        return decoded.strip()


def load_fallback_tokenizer(source: str) -> FallbackTokenizer:
    """``source``: a GGUF path, ``package:file.gguf`` (a GGUF shipped in a package) or an HF directory."""
    if ":" in source and not Path(source).exists():
        package, _, filename = source.partition(":")
        return _GGUFTokenizer(resolve_model_file(package, filename))
    path = Path(source).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _GGUFTokenizer(path)
    if path.is_dir():
        return _HFTokenizer(path)
    raise BackendUnavailable(f"tokenizer '{source}' not found: give a .gguf file, 'package:file.gguf' or a directory")
