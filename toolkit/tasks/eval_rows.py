"""Which held-out examples an evaluation capped by ``eval.max_batches`` scores.

Held-out splits keep corpus order: a mixed card's validation split is all news, then the novel,
then the reviews, and a packed LM split runs from the first article to the last. The first
``max_batches`` batches would describe only the start (news alone for ``zh_pretrain_mix``), so a
capped evaluation scores examples spread evenly over the whole split instead. Training, ``toolkit
eval`` and the baselines (``toolkit.baselines``) all pick them here, so their figures are on the
same examples. Several processes share these examples (before, each scored max_batches batches
of its own); where the batches do not divide evenly, accelerate repeats examples to even out the
last one, and the scoring loops drop them again by gathering one row per example (gathering.py).
"""

from __future__ import annotations


def scored_count(total: int, max_batches: int | None, batch_size: int) -> int:
    """How many of ``total`` examples a capped evaluation scores (all of them without a cap)."""
    return total if max_batches is None else min(total, max_batches * batch_size)


def scored_indices(total: int, max_batches: int | None, batch_size: int) -> list[int]:
    """The positions scored: every one without a cap, else ``scored_count`` of them evenly spaced
    from the first example on (integer steps of total/count, so no position repeats)."""
    used = scored_count(total, max_batches, batch_size)
    return [i * total // used for i in range(used)]


def eval_batch_size(recipe) -> int:
    """The evaluation's batch size: eval.batch_size, else train.batch_size."""
    return recipe.eval.batch_size or recipe.train.batch_size


def scored_examples(examples, max_batches: int | None, batch_size: int):
    """The examples (a ``datasets.Dataset``) a capped evaluation scores, in their own order."""
    indices = scored_indices(len(examples), max_batches, batch_size)
    return examples if len(indices) == len(examples) else examples.select(indices)
