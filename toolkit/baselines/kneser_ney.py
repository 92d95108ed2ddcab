"""An interpolated modified Kneser-Ney n-gram language model over token ids (Chen & Goodman 1998).

Pure Python: n-grams are kept as integers (the ids written in base ``vocab_size``), so a
context is ``key // V``, the lower-order suffix is ``key % V**(n-1)`` and dicts of ints stay far
smaller than dicts of tuples. The highest order counts n-grams; every lower order counts how many
distinct tokens precede an n-gram (continuation counts), which is what makes it Kneser-Ney. Each
order has three discounts (for counts 1, 2 and 3+) estimated from its counts of counts, and the
lowest order is interpolated with the uniform distribution over the whole vocabulary, so every
token of the vocabulary, seen or not, gets probability and the probabilities sum to 1.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

# Discounts for an order whose counts of counts are too thin to estimate them (tiny corpora).
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)


def _discounts(counts: dict[int, int]) -> tuple[float, float, float]:
    """D1, D2, D3+ from the counts of counts n1..n4 (Chen & Goodman's estimates)."""
    of = Counter(c for c in counts.values() if c <= 4)
    n1, n2, n3, n4 = (of[k] for k in (1, 2, 3, 4))
    if not (n1 and n2 and n3 and n4):
        return FALLBACK_DISCOUNTS
    y = n1 / (n1 + 2 * n2)
    found = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    # Each discount must stay within (0, k] for a count k, or the mass left over could go negative.
    if not all(0 < d <= k for d, k in zip(found, (1, 2, 3))):
        return FALLBACK_DISCOUNTS
    return found


class KneserNeyLM:
    """``KneserNeyLM(order, vocab_size).fit(token_ids)``; then ``prob(history, token)`` and
    ``log_prob``. Histories longer than ``order - 1`` tokens are cut to their last ``order - 1``."""

    def __init__(self, order: int, vocab_size: int):
        if order < 1:
            raise ValueError(f"order {order}: an n-gram model needs order >= 1")
        self.order = order
        self.vocab_size = vocab_size
        self.counts: list[dict[int, int]] = []  # per order n (index n - 1): n-gram key -> (continuation) count
        self.contexts: list[dict[int, tuple[int, float]]] = []  # context key -> (total, discounted mass)
        self.discounts: list[tuple[float, float, float]] = []  # per order: D1, D2, D3+
        self._powers = [vocab_size**k for k in range(order)]

    def fit(self, tokens: Sequence[int]) -> KneserNeyLM:
        V, N = self.vocab_size, self.order
        if any(not 0 <= t < V for t in tokens):
            raise ValueError(f"token ids must lie in [0, {V})")
        # Raw counts of the highest order: a rolling key over the token stream.
        span = V ** (N - 1)
        top: Counter[int] = Counter()
        key = 0
        for index, token in enumerate(tokens):
            key = (key % span) * V + token
            if index >= N - 1:
                top[key] += 1
        counts = [dict(top)]
        # Lower orders: how many distinct tokens precede each (n-1)-gram, i.e. the number of
        # distinct n-grams it ends.
        for n in range(N - 1, 0, -1):
            suffix = V ** n
            continuation: Counter[int] = Counter()
            for gram in counts[0]:
                continuation[gram % suffix] += 1
            counts.insert(0, dict(continuation))
        self.counts = counts
        self.discounts = [_discounts(order_counts) for order_counts in counts]
        self.contexts = [self._context_stats(c, d) for c, d in zip(counts, self.discounts)]
        return self

    def _context_stats(self, counts: dict[int, int], d: tuple[float, float, float]) -> dict[int, tuple[int, float]]:
        """Per context: the total count after it, and the discount mass D1*N1 + D2*N2 + D3*N3+ that
        interpolation hands to the lower order."""
        totals: Counter[int] = Counter()
        mass: dict[int, float] = {}
        V = self.vocab_size
        for gram, count in counts.items():
            context = gram // V
            totals[context] += count
            mass[context] = mass.get(context, 0.0) + d[min(count, 3) - 1]
        return {context: (total, mass[context]) for context, total in totals.items()}

    def discount(self, n: int, count: int) -> float:
        return self.discounts[n - 1][min(count, 3) - 1] if count else 0.0

    def prob(self, history: Sequence[int], token: int) -> float:
        """P(token | last order-1 tokens of history): built up from the uniform distribution, one
        order at a time, stopping at the first context never seen in training (every longer
        context ending in it is unseen too)."""
        V = self.vocab_size
        p = 1.0 / V
        context = 0
        for n in range(1, self.order + 1):
            if n > 1:
                if len(history) < n - 1:
                    break
                context += history[-(n - 1)] * self._powers[n - 2]
            stats = self.contexts[n - 1].get(context)
            if stats is None:
                break
            total, mass = stats
            count = self.counts[n - 1].get(context * V + token, 0)
            p = (max(count - self.discount(n, count), 0.0) + mass * p) / total
        return p

    def log_prob(self, history: Sequence[int], token: int) -> float:
        return math.log(self.prob(history, token))
