"""What every baseline shares: its result, the recipe's tokenizer and the examples the recipe scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..recipe import Recipe
from ..tasks.eval_rows import eval_batch_size, scored_indices


@dataclass
class BaselineResult:
    """A fitted baseline's held-out figures and its fit + predict wall time."""

    name: str  # what was fitted, in words
    metrics: dict[str, float]
    seconds: float
    notes: list[str] = field(default_factory=list)


def require(module: str, package: str):
    """Import a baseline's library, or say how to install it (the baselines' libraries are extras)."""
    import importlib

    from ..errors import ToolkitError

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ToolkitError(f"This baseline needs {package}: pip install {package} (or pip install -e \".[bench]\").") from None


def recipe_tokenizer(recipe: Recipe, train_rows, task) -> tuple[object, str]:
    """The tokenizer a run of ``recipe`` uses, and where it came from: the run folder's own
    (output.dir/tokenizer.json), else the pretrained model's (model.init_from), else the one named by
    tokenizer.from, else one trained on the train split the way the task trains it
    (toolkit.tasks.common.run_tokenizer, without saving it anywhere)."""
    from .. import registry
    from ..errors import ToolkitError
    from ..pretrained import checked_init_from
    from ..recipe import TokenizerSection
    from ..tokenization import load_tokenizer, train_tokenizer

    run_dir = Path(recipe.output.dir)
    if (run_dir / "tokenizer.json").is_file():
        return load_tokenizer(run_dir), f"the run folder's ({run_dir})"
    family = registry.family(recipe.model.family)
    if recipe.model.init_from:
        try:
            source = checked_init_from(recipe.model.init_from, family)
            return load_tokenizer(source, family.special_tokens), f"model.init_from's ({recipe.model.init_from})"
        except ToolkitError:
            pass  # a pretraining run not made yet: its tokenizer would be trained as below
    # A fine-tuning recipe has no tokenizer section: its pretraining recipe's default (char) stands in.
    spec = recipe.tokenizer or TokenizerSection()
    if spec.from_:
        return load_tokenizer(spec.from_, family.special_tokens), f"tokenizer.from ({spec.from_})"
    return (train_tokenizer(spec, task.tokenizer_texts(train_rows), family.special_tokens),
            f"{spec.kind}, trained on the train split (no run folder yet)")


def scored_positions(recipe: Recipe, total: int) -> list[int]:
    """Which of a split's examples (rows, chunks, blocks) the recipe's evaluation scores: all of
    them, or eval.max_batches batches' worth spread over the split, the same ones as training's
    evaluation (toolkit.tasks.eval_rows)."""
    return scored_indices(total, recipe.eval.max_batches, eval_batch_size(recipe))


def limit_note(recipe: Recipe, used: int, total: int, what: str) -> list[str]:
    return [] if used == total else [f"{used:,} of {total:,} {what}, spread evenly over the split "
                                     f"(eval.max_batches={recipe.eval.max_batches})"]
