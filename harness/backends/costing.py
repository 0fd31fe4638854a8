"""API cost from the catalog's list prices (``ModelSpec.prices``, $ per 1M tokens, so a user can override
the presets); local models have no prices and are costed by hardware elsewhere."""

from __future__ import annotations

from harness.config.models import Prices


def request_cost_usd(
    prices: Prices | None,
    prompt_tokens: int | None,
    output_tokens: int | None,
    reasoning_tokens: int | None = None,
    cached_tokens: int | None = None,
) -> float | None:
    """Dollars for one request, or None when the model has no prices or a count is unknown. Reasoning
    tokens (a part of the output) are billed as output; cached prompt tokens at the cached price."""
    if prices is None or prompt_tokens is None or output_tokens is None:
        return None
    return prices.split(prompt_tokens, output_tokens, reasoning_tokens or 0, cached_tokens or 0).total_usd
