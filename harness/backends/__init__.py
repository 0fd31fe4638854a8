"""Model runtimes behind one contract; see ``base.Backend``, ``plugin.BackendPlugin`` and ``registry``."""

from harness.backends.base import Backend, Capabilities, Chunk, GenerationRequest, StreamUsage
from harness.backends.plugin import BackendPlugin

__all__ = ["Backend", "BackendPlugin", "Capabilities", "Chunk", "GenerationRequest", "StreamUsage"]
