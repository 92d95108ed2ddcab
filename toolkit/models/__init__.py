"""Registry of model families, filled by explicit imports (one family per module)."""

from . import gpt2
from .base import ModelFamily

FAMILIES: dict[str, ModelFamily] = {family.name: family for family in (gpt2.FAMILY,)}

__all__ = ["FAMILIES", "ModelFamily"]
