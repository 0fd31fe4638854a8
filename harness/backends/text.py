"""Text helpers every backend shares: the synthetic prompts of perf scenarios, and stop sequences
held back from a stream until they can no longer begin one."""

from __future__ import annotations

import random

_COMMON_WORDS = (
    "time river model answer light small city number green window paper system music table garden simple "
    "energy market water morning story engine family question planet signal bridge winter voice method "
    "animal letter island forest machine doctor memory"
)


def random_words(n_tokens: int, seed: int) -> str:
    """Random common words, deterministic in ``seed``: a few more than ``n_tokens`` for a backend to trim."""
    rng, words = random.Random(seed), _COMMON_WORDS.split()
    return " ".join(rng.choice(words) for _ in range(n_tokens + 8))


def split_like_lm_eval(context: str, continuation: str) -> tuple[str, str]:
    """A context's trailing whitespace moved to the continuation, whose first token it belongs to (lm-eval's rule)."""
    spaces = len(context) - len(context.rstrip())
    return (context[:-spaces], context[-spaces:] + continuation) if spaces else (context, continuation)


class StopText:
    """Generated text, released as soon as it cannot be the start of a stop sequence."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = [stop for stop in stops if stop]
        self.text = ""
        self.emitted = 0
        self._hold = max((len(s) for s in stops), default=0)

    def advance(self, text: str) -> tuple[str, bool]:
        """The text newly released now that the output reads ``text``, and whether a stop sequence ended it."""
        self.text = text
        # the earliest stop sequence that ends after what was already released
        found = [i for stop in self.stops if (i := text.find(stop, max(self.emitted - len(stop) + 1, 0))) != -1]
        if found:
            released, self.emitted = text[self.emitted : max(min(found), self.emitted)], len(text)
            return released, True
        # hold back text that might be the start of a stop sequence
        safe = max(len(text) - self._hold + 1 if self._hold else len(text), self.emitted)
        released, self.emitted = text[self.emitted : safe], safe
        return released, False

    def rest(self) -> str:
        """What is still held back when generation ends without a stop sequence."""
        return self.text[self.emitted :]
