"""A live cascade: several catalog models behind one backend, "cheapest first, escalate when unsure".

Each item stays at the first tier whose confidence signal clears its threshold; the last tier always
answers, and a missing signal escalates (no evidence of confidence is no confidence). A multiple-choice
item is judged whole (``ItemScoringBackend``); a generated answer on the cheaper tier's full answer, so
the latency measured is what a user of the cascade waits. The catalog embeds the tiers' specs in the
params (``harness.catalog.resolve_cascades``): a cell's worker needs nothing but its own spec.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from harness.backends.base import Backend, Capabilities, Chunk, GenerationRequest, ItemRequest, ItemScores, StreamUsage
from harness.backends.confidence import (
    SELF_CHECK_NO,
    SELF_CHECK_YES,
    gen_confidence,
    mc_confidence,
    self_check_prompt,
    yes_probability,
)
from harness.backends.plugin import BackendPlugin
from harness.backends.registry import check_model, create_backend, get_plugin
from harness.cascade.rules import CascadeParams, Rule
from harness.config.models import ModelSpec
from harness.errors import BackendUnavailable

TRACE_TIER = "cascade_tier"
TRACE_CONFIDENCE = "cascade_confidence"


class CascadeBackend:
    """Several tier backends served as one model; every item answered by one tier of the chain."""

    def __init__(self, spec: ModelSpec, params: CascadeParams) -> None:
        self.spec = spec
        self.name = spec.name
        self.params = params
        self.rules = params.rules()
        if len(params.tiers) != len(params.chain):
            raise BackendUnavailable(_UNRESOLVED.format(name=spec.name))
        self.tiers: list[tuple[str, Backend]] = [(tier.name, create_backend(tier)) for tier in params.tiers]
        # streams, one request at a time, chat: Capabilities' defaults
        self.capabilities = Capabilities(loglikelihood=all(b.capabilities.loglikelihood for _, b in self.tiers))

    # -- lifecycle ----------------------------------------------------------------------------
    def load(self) -> None:
        # built tiers know their capabilities even where their plugin did not say (a bare factory)
        if reason := _signal_problem(self.rules, [(name, backend.capabilities) for name, backend in self.tiers]):
            raise BackendUnavailable(reason)
        for _, backend in self.tiers:
            backend.load()

    def close(self) -> None:
        for _, backend in self.tiers:
            backend.close()

    # -- tokens -------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return self.tiers[0][1].count_tokens(text)

    def make_prompt(self, n_tokens: int, seed: int) -> str:
        return self.tiers[0][1].make_prompt(n_tokens, seed)

    # -- deciding -----------------------------------------------------------------------------
    def _stays(self, kind: str, step: int, confidence: dict[str, float | None]) -> bool:
        rule = self.rules.get(kind)
        return rule is not None and rule.stays(step, confidence.get(rule.signal))

    def _wants_self_check(self, kind: str) -> bool:
        rule = self.rules.get(kind)
        return rule is not None and rule.signal == "self_check"

    @staticmethod
    def _self_check(backend: Backend, question: str, answer: str) -> float | None:
        if not backend.capabilities.loglikelihood:
            return None
        prompt = self_check_prompt(question, answer)
        (yes, _), (no, _) = backend.loglikelihood([(prompt, SELF_CHECK_YES), (prompt, SELF_CHECK_NO)])
        return yes_probability(yes, no)

    # -- generation ---------------------------------------------------------------------------
    def stream(self, request: GenerationRequest, usage: StreamUsage) -> Iterator[Chunk]:
        tried: dict[str, dict[str, float | None]] = {}
        costs: list[float] = []  # of every tier that answered with a price, escalated or not
        last = len(self.tiers) - 1
        for step, (name, backend) in enumerate(self.tiers):
            inner = StreamUsage()
            if step == last:  # the last tier answers whatever it says: stream it live
                usage.first_token_after_other_work = step > 0  # after the cheaper tiers' answers and checks
                yield from backend.stream(request, inner)
            else:
                try:
                    chunks = list(backend.stream(replace(request, logprobs=True), inner))
                except Exception as exc:  # a failed cheaper tier escalates; the chain still answers
                    tried[name] = gen_confidence(None)
                    usage.extra.setdefault("cascade_errors", []).append(f"{name}: {type(exc).__name__}: {exc}"[:300])
                    continue
            confidence = gen_confidence(inner.token_logprobs)
            if step < last and self._wants_self_check("generate"):
                text = "".join(c.text for c in chunks)
                confidence["self_check"] = self._self_check(backend, request.prompt, text)
            tried[name] = confidence
            if isinstance(inner.extra.get("cost_usd"), float):
                costs.append(inner.extra["cost_usd"])
            if step < last:
                if not self._stays("generate", step, confidence):
                    continue
                usage.buffered = True
                yield from chunks
            usage.prompt_tokens = inner.prompt_tokens
            usage.output_tokens = inner.output_tokens
            usage.source = inner.source
            usage.finish_reason = inner.finish_reason
            usage.token_logprobs = inner.token_logprobs if request.logprobs else None
            usage.extra["trace"] = {TRACE_TIER: name, TRACE_CONFIDENCE: tried}
            if usage.extra.get("cascade_errors"):
                usage.extra["trace"]["cascade_errors"] = usage.extra["cascade_errors"]
            if costs:
                usage.extra["cost_usd"] = sum(costs)
            return

    # -- scoring ------------------------------------------------------------------------------
    def loglikelihood_items(self, items: Sequence[ItemRequest]) -> list[ItemScores]:
        """Each item's choices scored by the first tier confident in its pick (the last tier always)."""
        return [self._score_item(item.pairs, item.choice_lengths) for item in items]

    def _score_item(self, pairs: list[tuple[str, str]], choice_lengths: Sequence[int] | None) -> ItemScores:
        lengths = list(choice_lengths) if choice_lengths is not None else [len(c.removeprefix(" ")) for _, c in pairs]
        tried: dict[str, dict[str, float | None]] = {}
        last = len(self.tiers) - 1
        for step, (name, backend) in enumerate(self.tiers):
            results = backend.loglikelihood(pairs)
            logliks = [float(r[0]) for r in results]
            confidence = mc_confidence(logliks[: len(lengths)], lengths[: len(logliks)])
            if self._wants_self_check("multiple_choice") and step < last:
                chosen = max(range(len(logliks)), key=logliks.__getitem__)
                confidence["self_check"] = self._self_check(backend, pairs[0][0], pairs[chosen][1])
            tried[name] = confidence
            if step == last or self._stays("multiple_choice", step, confidence):
                return ItemScores(results=results, trace={TRACE_TIER: name, TRACE_CONFIDENCE: tried})
        raise AssertionError("unreachable: the last tier always answers")

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[tuple[float, bool]]:
        """Requests not grouped into items are one item (the adapter always groups them)."""
        return self._score_item(list(requests), None).results

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        """Perplexity has no per-item confidence here: the last tier scores it."""
        return self.tiers[-1][1].loglikelihood_rolling(texts)

    def describe(self) -> dict[str, Any]:
        tiers = {name: backend.describe() for name, backend in self.tiers}
        sizes = [info.get("model_file_mb") for info in tiers.values()]
        return {
            "backend": "cascade",
            "model": self.spec.name,
            "chain": list(self.params.chain),
            "rules": {kind: {"signal": r.signal, "thresholds": list(r.thresholds)} for kind, r in self.rules.items()},
            "tiers": tiers,
            # every tier's weights live in the cascade's process; unknown if any tier's size is
            "model_file_mb": sum(sizes) if all(isinstance(v, int | float) for v in sizes) else None,
        }


_UNRESOLVED = "cascade '{name}': its chain was not resolved against a catalog"


def _signal_problem(rules: dict[str, Rule], tiers: Sequence[tuple[str, Capabilities | None]]) -> str | None:
    """A non-final tier that cannot give the log-likelihoods a rule needs, or None; a tier whose
    capabilities are known only once built (a bare-factory plugin) is not judged."""
    for kind, rule in rules.items():
        needs_scores = kind == "multiple_choice" or rule.signal == "self_check"
        for name, caps in tiers[:-1]:
            if needs_scores and caps is not None and not caps.loglikelihood:
                return f"chain tier '{name}' gives no log-likelihoods; signal '{rule.signal}' needs them"
    return None


def _check(spec: ModelSpec, params: CascadeParams) -> str | None:
    """Each tier's own cheap check, then whether the tiers can give the signals; builds nothing."""
    if len(params.tiers) != len(params.chain):
        return _UNRESOLVED.format(name=spec.name)
    capabilities: list[tuple[str, Capabilities | None]] = []
    for tier in params.tiers:
        if reason := check_model(tier):
            return f"chain tier '{tier.name}' cannot run: {reason}"
        capabilities.append((tier.name, get_plugin(tier.backend).capabilities))
    return _signal_problem(params.rules(), capabilities)


plugin = BackendPlugin(
    name="cascade",
    params_model=CascadeParams,
    check=_check,
    create=CascadeBackend,
    parts=lambda params: list(params.tiers),
)
