"""Registry of model families, filled by explicit imports (one family per module)."""

from . import bert, elmo, gpt2, rnn_lm, word2vec
from .base import ModelFamily

FAMILIES: dict[str, ModelFamily] = {family.name: family for family in (gpt2.FAMILY, bert.FAMILY, rnn_lm.FAMILY, word2vec.FAMILY, elmo.FAMILY)}

# Our own model types, made known to transformers' Auto classes and pipelines.
rnn_lm.register_auto_classes()
elmo.register_auto_classes()

__all__ = ["FAMILIES", "ModelFamily"]
