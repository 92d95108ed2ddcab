"""The dataset layer: data cards -> sources -> preprocessing -> cached DatasetDicts in views.

``load_corpus`` and ``load_streaming_corpus`` load on first use (PEP 562): they need the datasets
library, which reading a card does not.
"""

from __future__ import annotations

from .card import DataCard, list_cards, load_card
from .views import VIEWS

__all__ = ["DataCard", "VIEWS", "list_cards", "load_card", "load_corpus", "load_streaming_corpus"]


def __getattr__(name: str):
    if name in ("load_corpus", "load_streaming_corpus"):
        from . import corpus

        return getattr(corpus, name)
    raise AttributeError(f"module 'toolkit.data' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
