"""The dataset layer: data cards -> sources -> preprocessing -> cached DatasetDicts in views."""

from .card import DataCard, list_cards, load_card
from .corpus import load_corpus, load_streaming_corpus
from .views import VIEWS

__all__ = ["DataCard", "VIEWS", "list_cards", "load_card", "load_corpus", "load_streaming_corpus"]
