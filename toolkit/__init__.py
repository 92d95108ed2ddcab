"""Train classic neural language models on Chinese text from one YAML recipe.

    import toolkit
    result = toolkit.run("recipes/gpt2/tiny_pretrain.yaml", overrides=["train.max_steps=200"])
    print(result.run_dir, result.metrics["final"])
"""

from . import models  # noqa: F401  (makes the toolkit's own model types known to transformers' Auto classes)
from .api import RunResult, evaluate, generate, run
from .data import DataCard, list_cards, load_card, load_corpus, load_streaming_corpus
from .errors import DataError, RecipeError, ToolkitError
from .recipe import Recipe, load_recipe

__all__ = [
    "DataCard", "DataError", "Recipe", "RecipeError", "RunResult", "ToolkitError", "evaluate",
    "generate", "list_cards", "load_card", "load_corpus", "load_recipe", "load_streaming_corpus", "run",
]
__version__ = "0.1.0"
