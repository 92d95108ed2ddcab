"""A torch task's data when it trains from a stream (``data.streaming: true``, or a card with
``source.streaming: true``): the run's tokenizer, the held-out examples (built whole, evaluated
as any run's) and an endless loader of this process's shard of the training stream."""

from __future__ import annotations

import hashlib
import json
from itertools import islice
from pathlib import Path

from ..errors import ToolkitError

# Blocks of the (unsharded) train stream hashed into the run's data fingerprint: a resume on a
# changed corpus is refused, as for a built one, by reading only the start of the stream.
FINGERPRINT_BLOCKS = 64


def is_streaming(recipe, card) -> bool:
    """The recipe decides when it says; else the card."""
    return card.source.streaming if recipe.data.streaming is None else recipe.data.streaming


def check_stream_run(task, recipe, card) -> None:
    """What makes a streaming run impossible, said before any data is read."""
    from ..data.stream import check_streamable
    from ..registry import task_entries

    if task.stream_encode is None:
        able = sorted(name for name, entry in task_entries().items() if entry.streams)
        said = ("data.streaming: true" if recipe.data.streaming else
                f"data card {card.label} (source.streaming: true)")
        raise ToolkitError(
            f"Task {task.name} does not train from a stream, but {said} asks for one. Tasks that do: "
            f"{', '.join(able)}. Set data.streaming: false to build the corpus whole instead.")
    if recipe.train.num_workers:
        raise ToolkitError(
            f"train.num_workers is {recipe.train.num_workers}, but a streaming run reads its stream in the training "
            f"process (so that its position is saved exactly with each checkpoint): set train.num_workers: 0.")
    if recipe.train.group_by_length:
        raise ToolkitError(
            "train.group_by_length is true, but a streaming run reads its examples in stream order and cannot "
            "group them by length: set train.group_by_length: false, or data.streaming: false.")
    check_streamable(card)


def _needs_texts(recipe, run_dir: Path) -> bool:
    """Whether run_tokenizer will train a tokenizer (and so needs the first texts of the stream)."""
    return not ((Path(run_dir) / "tokenizer.json").is_file() or recipe.model.init_from or recipe.tokenizer.from_
                or recipe.tokenizer.per_side)


def open_task_stream(task, recipe, card, split: str):
    """(train stream in the task's view, the rows of held-out ``split``). A streamed row is one
    document: a view's document column is the row's number, not read."""
    from ..data.stream import open_stream
    from ..data.views import VIEWS

    view = VIEWS[task.view(recipe, card)]
    train, held = open_stream(card, [column for column in view if column != "document"], recipe.data.max_rows)
    if split not in held:
        raise ToolkitError(f"Split '{split}' is not held out of the stream of {card.label}; it has "
                           f"{', '.join(held) or 'none'} (set splits.validation to a row count in the card).")
    rows = held[split]
    return train, [{**row, "document": n} for n, row in enumerate(rows)] if "document" in view else rows


def stream_data(task, recipe, card, family, run_dir: Path, accelerator):
    """(tokenizer, held-out examples of eval.split, train StreamLoader, data fingerprint)."""
    import datasets

    from ..data.stream import shard
    from .common import run_tokenizer
    from .stream_blocks import StreamLoader
    from .tokenizer_threads import allow_tokenizer_threads

    allow_tokenizer_threads()
    train, held = open_task_stream(task, recipe, card, recipe.eval.split)
    texts = ([row["text"] for row in islice(iter(train), recipe.data.tokenizer_rows)]
             if _needs_texts(recipe, run_dir) else [])
    texts = datasets.Dataset.from_dict({"text": texts})
    tokenizer = run_tokenizer(recipe, family, task.tokenizer_texts(texts), run_dir, accelerator)
    rows = datasets.Dataset.from_list(held)
    evaluation = task.encode(rows, tokenizer, recipe, None)
    fingerprint = _fingerprint(task.stream_encode(train, tokenizer, recipe), recipe)
    mine = shard(train, accelerator.process_index, accelerator.num_processes)
    loader = StreamLoader(task.stream_encode(mine, tokenizer, recipe), recipe.train.batch_size,
                          task.collate(tokenizer, recipe, for_eval=False), accelerator.device)
    return tokenizer, evaluation, loader, fingerprint


def _fingerprint(blocks, recipe) -> str:
    digest = hashlib.sha256(f"stream:{recipe.data.block_size}".encode())
    for example, _ in islice(iter(blocks), FINGERPRINT_BLOCKS):
        digest.update(json.dumps(example, sort_keys=True, default=lambda value: value.tolist()).encode())
    return digest.hexdigest()
