"""API cost from list prices: dollars per request from token counts.

Prices live in the model catalog (``ModelSpec.prices``, $ per 1M tokens) so that a user can
override the presets; local models have no prices and are costed by hardware elsewhere.
"""

from __future__ import annotations

from harness.config.models import Prices


def request_cost_usd(prices: Prices | None, prompt_tokens: int | None, output_tokens: int | None) -> float | None:
    """Dollars for one request, or None when the model has no prices or a count is unknown."""
    if prices is None or prompt_tokens is None or output_tokens is None:
        return None
    return (prompt_tokens * prices.input_per_mtok + output_tokens * prices.output_per_mtok) / 1_000_000
