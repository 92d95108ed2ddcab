"""What every task declares.

A ``TorchTask`` is declared once, as data and small functions: the corpus view it reads, the
transformers Auto class of its model, how rows become examples (``encode``), how examples become
batches (``collate``) and how batches become metrics (``score``). The one runner
(``toolkit.tasks.runner``) uses the same declaration to train a run and to re-evaluate a saved
one, so the two paths cannot drift apart. A ``Task`` runs itself (word2vec trains with gensim).

This module imports no torch: the registry reads declarations lazily, and a task's functions
import what they need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IGNORE = -100  # the label PyTorch's cross-entropy skips: padding, special tokens, unmasked positions

ViewFn = Callable[[Any, Any], str]  # (recipe, data card) -> the view the task reads


def fixed_view(name: str) -> ViewFn:
    """A view that does not depend on the recipe or the card."""
    return lambda recipe, card: name


@dataclass(frozen=True)
class Task:
    """A training objective that runs and re-evaluates itself (no shared torch runner)."""

    name: str
    description: str
    view: ViewFn  # the corpus view its run and its re-evaluation read
    run: Callable  # (recipe, run_dir, resume, callbacks) -> RunOutcome
    evaluate: Callable  # (run_dir, recipe, split, card, max_batches) -> dict of metrics
    # (recipe) -> the metric names of metrics.json's "final" that are the run's result, first the main one
    headline: Callable[[Any], tuple[str, ...]] | None = None


def real_tokens(batch) -> int:
    """The real tokens of a batch: the attention mask's ones when it is padded, else every position."""
    mask = batch.get("attention_mask")
    return int(mask.sum() if mask is not None else batch["input_ids"].numel())


def token_loss(model, batch) -> tuple[Any, int]:
    """The model's own mean loss of a batch (its labels are in the batch), and the real tokens it covered."""
    return model(**batch).loss, real_tokens(batch)


@dataclass(frozen=True)
class TorchTask:
    """A torch objective, declared once for training and for ``toolkit eval``.

    ``labels(recipe, card, train_rows)`` names the classes of a task with a head (None: no head);
    on re-evaluation they come from the saved config's id2label instead. ``encode(rows, tokenizer,
    recipe, labels)`` turns a split in the task's view into examples; ``collate(tokenizer,
    recipe, for_eval)`` batches them; ``score(accelerator, model, batches, recipe, labels, tokenizer)``
    returns the metrics of some batches (of the examples ``toolkit.tasks.eval_rows`` picks under eval.max_batches).
    """

    name: str
    description: str
    view: ViewFn
    auto_class: str  # the transformers Auto class that builds and loads the model (a name in transformers)
    peft_task_type: str  # peft's TaskType for LoRA adapters
    pipeline_tag: str
    usage: str  # Python for the model card; {model} is the run folder
    encode: Callable[..., Any]
    collate: Callable[..., Callable[[list[dict]], dict]]
    score: Callable[..., dict[str, Any]]
    headline: Callable[[Any], tuple[str, ...]]  # (recipe) -> metric names reported as the run's result
    labels: Callable[[Any, Any, Any], list[str]] | None = None
    extra_metrics: Callable[[Any, list[str] | None], dict[str, Any]] = lambda recipe, labels: (
        {"labels": labels} if labels else {})  # task facts for metrics.json
    loss: Callable = token_loss
    # Training from a stream (toolkit.tasks.streaming): (IterableDataset of rows in the task's view,
    # tokenizer, recipe) -> an iterable of (example, position) with the state methods of
    # toolkit.tasks.stream_blocks.PackedBlocks; None: the task trains on a built corpus only.
    stream_encode: Callable | None = None
    # Builds the training loss from the recipe when it has settings (seq2seq's label smoothing): (recipe) -> loss.
    make_loss: Callable[[Any], Callable] | None = None
    # The rows a new tokenizer is trained on: a Dataset with a "text" column, made from the train split.
    tokenizer_texts: Callable[[Any], Any] = lambda rows: rows
    # The rows one side's tokenizer is trained on (tokenizer.per_side): (train rows, "source" or "target")
    # -> a Dataset with a "text" column; None for a task whose rows have no sides.
    side_texts: Callable[[Any, str], Any] | None = None
    # Adjusts the built model with the recipe and tokenizer (generation settings ...).
    finish_model: Callable[[Any, Any, Any], None] = lambda model, tokenizer, recipe: None
    # Adds files to a saved model folder (main process, after the weights): (run_dir) -> None.
    finish_folder: Callable[[Path], None] | None = None
    # Extra things of an evaluation during training only (generated samples): (accelerator, model, tokenizer, recipe).
    samples: Callable[..., list[dict]] | None = None
    # "module:function" that draws figures of the model into its run folder at every evaluation during
    # training (main process): (model, tokenizer, recipe, run_dir, step) -> [{"file": path in the run
    # folder, "caption": ...}], kept with that evaluation in metrics.json; the last evaluation's are
    # metrics.json's "figures", which the model card shows. Named rather than imported, so the
    # drawing module may build on the task's own module.
    figures: str | None = None
    # "module:function" that draws figures of a re-evaluation (`toolkit eval`) next to a run folder's
    # metrics.json: (scores as task.score returns them, run_dir, card name, split) -> [{"file",
    # "caption"}], kept with that evaluation in metrics.json and shown by the model card.
    eval_figures: str | None = None

    def run(self, recipe, run_dir: Path, resume: bool = False, callbacks=()):
        from .runner import run_task

        return run_task(self, recipe, Path(run_dir), resume=resume, callbacks=callbacks)

    def evaluate(self, run_dir: Path, recipe, split: str, card: str | None = None, max_batches: int | None = None):
        from .runner import evaluate_run

        return evaluate_run(self, Path(run_dir), recipe, split, card, max_batches)

    def auto_model_class(self):
        import transformers

        return getattr(transformers, self.auto_class)
