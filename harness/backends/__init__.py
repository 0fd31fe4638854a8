"""Model runtimes behind one contract; see ``base.Backend`` and ``registry``."""

from harness.backends.base import Backend, Capabilities, Chunk, GenerationRequest, StreamUsage

__all__ = ["Backend", "Capabilities", "Chunk", "GenerationRequest", "StreamUsage"]
