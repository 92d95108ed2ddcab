"""Causal LM baseline: a Kneser-Ney token n-gram model, scored on exactly the tokens the neural
evaluation scores.

Same tokens and vocabulary: the recipe's own tokenizer (see ``recipe_tokenizer``). Same text and
positions: the train and held-out splits go through the causal_lm task's own ``pack_blocks``
(each row tokenized and ended with the end-of-text token, the stream cut into blocks of
data.block_size), and of the held-out blocks those the runner's evaluation scores (all, or
eval.max_batches batches' worth spread over the split: toolkit.tasks.eval_rows). In each block
the neural model (GPT-2, rnn_lm) predicts tokens 1..L-1 from the tokens before them *in the same
block*: the first token is never scored, and no state is carried from one block to the next
(GPT-2 attends within a block; rnn_lm starts every batch from a zero state). So the n-gram's
history is cut at the block start as well, although its counts come from the whole train stream.
"""

from __future__ import annotations

import math
import time

from .common import BaselineResult, limit_note, recipe_tokenizer, scored_positions
from .kneser_ney import KneserNeyLM

DEFAULT_ORDER = 5


def block_tokens(blocks) -> list[list[int]]:
    return [list(block) for block in blocks.with_format(None)["input_ids"]]


def score_blocks(lm: KneserNeyLM, blocks: list[list[int]]) -> tuple[list[float], list[float]]:
    """Per block: mean negative log-likelihood of tokens 1..L-1, each given the block's tokens
    before it, and the number of tokens scored (L-1), as the task's score_lm weighs them."""
    losses, weights = [], []
    history_size = lm.order - 1
    for block in blocks:
        total = 0.0
        for position in range(1, len(block)):
            total -= math.log(lm.prob(block[max(0, position - history_size):position], block[position]))
        losses.append(total / (len(block) - 1))
        weights.append(len(block) - 1.0)
    return losses, weights


def fit(recipe, corpus, split: str, order: int = DEFAULT_ORDER) -> BaselineResult:
    from .. import registry
    from ..metrics import load_metric
    from ..tasks.causal_lm import pack_blocks

    task = registry.task(recipe.task)
    tokenizer, source = recipe_tokenizer(recipe, corpus["train"], task)
    train = [token for block in block_tokens(pack_blocks(corpus["train"], tokenizer, recipe)) for token in block]
    held_out = block_tokens(pack_blocks(corpus[split], tokenizer, recipe))
    scored = [held_out[i] for i in scored_positions(recipe, len(held_out))]
    used = len(scored)
    start = time.perf_counter()
    lm = KneserNeyLM(order, len(tokenizer)).fit(train)
    losses, weights = score_blocks(lm, scored)
    seconds = time.perf_counter() - start
    result = load_metric("lm_perplexity").compute(losses=losses, weights=weights)
    notes = [f"tokenizer: {source}, vocabulary {len(tokenizer):,}; {len(train):,} train tokens; "
             f"{int(sum(weights)):,} {split} tokens scored", *limit_note(recipe, used, len(held_out), "blocks")]
    return BaselineResult(f"Kneser-Ney {order}-gram", result, seconds, notes)
