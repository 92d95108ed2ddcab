"""Registry of model families, filled by explicit imports (one family per module)."""

from . import gpt2, word2vec
from .base import ModelFamily

FAMILIES: dict[str, ModelFamily] = {family.name: family for family in (gpt2.FAMILY, word2vec.FAMILY)}

__all__ = ["FAMILIES", "ModelFamily"]
