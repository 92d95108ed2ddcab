"""Train classic neural language models on Chinese text from one YAML recipe.

    import toolkit
    result = toolkit.run("recipes/gpt2/tiny_pretrain.yaml", overrides=["train.max_steps=200"])
    print(result.run_dir, result.metrics["final"])

The names below load on first use (PEP 562), so ``import toolkit`` (and the ``toolkit`` command's
start) imports no torch, transformers, accelerate or datasets until a name needs them.
"""

from __future__ import annotations

import importlib

from .families import register_when_transformers_loads

# public name -> the module that defines it
_EXPORTS = {
    "run": "toolkit.api", "evaluate": "toolkit.api", "generate": "toolkit.api", "RunResult": "toolkit.api",
    "DataCard": "toolkit.data.card", "list_cards": "toolkit.data.card", "load_card": "toolkit.data.card",
    "load_corpus": "toolkit.data.corpus", "load_streaming_corpus": "toolkit.data.corpus",
    "DataError": "toolkit.errors", "RecipeError": "toolkit.errors", "ToolkitError": "toolkit.errors",
    "Recipe": "toolkit.recipe", "load_recipe": "toolkit.registry",
}
__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"

# The toolkit's own model types (rnn_lm, elmo) become known to transformers' Auto classes and
# pipelines as soon as those load, so after `import toolkit`, pipeline(model=RUN_DIR) works.
register_when_transformers_loads()


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'toolkit' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
