"""What a roofline needs to know about a model's weights, whoever read them (a GGUF file in
``harness.projection``, a transformers directory in ``harness.hf_facts``): a leaf both import."""

from __future__ import annotations

from dataclasses import dataclass

# llama.cpp processes a prompt in micro-batches of this many tokens; the weights are read once per batch.
PREFILL_BATCH = 512


@dataclass(frozen=True)
class ModelFacts:
    """What a roofline needs to know about one GGUF file."""

    file_bytes: int
    params: int
    embedding_params: int
    output_params: int
    n_layer: int
    attention_width: int
    kv_bytes_per_token: float

    @property
    def tied(self) -> bool:
        """Output projection shares the token embedding (read in full for every token's logits)."""
        return self.output_params == 0

    def weights_read_per_token(self) -> float:
        """Bytes of weights read per decoded token: all but an untied embedding (one row is gathered)."""
        if self.tied or self.params == 0:
            return float(self.file_bytes)
        return self.file_bytes * (1 - self.embedding_params / self.params)

    def decode_bytes(self, context: float) -> float:
        return self.weights_read_per_token() + self.kv_bytes_per_token * context

    def decode_flops(self, context: float) -> float:
        matmul = self.params - (0 if self.tied else self.embedding_params)
        return 2.0 * matmul + 4.0 * self.n_layer * self.attention_width * context

    def prefill_bytes(self, prompt_tokens: float) -> float:
        return self.file_bytes / max(min(prompt_tokens, PREFILL_BATCH), 1.0)

    def prefill_flops(self, prompt_tokens: float) -> float:
        """Per prompt token: logits are computed for the last token only, so the output layer drops out."""
        matmul = self.params - self.embedding_params - self.output_params
        return 2.0 * matmul + 4.0 * self.n_layer * self.attention_width * prompt_tokens / 2
