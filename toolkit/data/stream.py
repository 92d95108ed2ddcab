"""A card's source read lazily, for training from a stream: the train rows as a ``datasets``
IterableDataset (one process's shard of it), and the held-out rows, which are few and read whole.

Local files (text, jsonl, csv, parquet; files or globs) and Hub datasets stream, whether the card
says ``source.streaming: true`` or the recipe says ``data.streaming: true``. A card without its own
validation split holds out its *first* ``splits.validation`` (and ``splits.test``) rows: counts,
since the size of a stream is unknown, and read without touching the rest. Those rows are dropped
from training by content (a hash of the text), not with ``IterableDataset.skip``: under
``split_dataset_by_node`` a skip is spread over the shards, so a process would train on held-out
rows. Dropping by content also keeps a repeat of a held-out row elsewhere in the stream out of
training.
"""

from __future__ import annotations

import hashlib
from itertools import islice

from ..errors import DataError
from .card import DATASETS_FORMATS, DataCard
from .sources import _load_hub, _text_column, local_files
from .text import apply_steps, build_pipeline

# Formats `datasets` streams itself ("text": one row per line, as our own text reader).
STREAM_FORMATS = ("text", *DATASETS_FORMATS)
HELD_OUT = ("validation", "test")


def check_streamable(card: DataCard) -> None:
    """Refuse, before any reading, a card whose rows cannot be streamed."""
    source = card.source
    if source.derived_from or source.mix or source.package:
        kind = ("is derived from another card" if source.derived_from else "mixes other cards" if source.mix
                else "ships inside a Python package")
        raise DataError(
            f"Data card {card.label} {kind}, so it is built whole and cached, not streamed: set data.streaming: "
            f"false (or leave it out) for it. Streaming reads local files (source.files, format "
            f"{', '.join(STREAM_FORMATS)}) or a Hub dataset (source.hub).")
    if source.files and source.format not in STREAM_FORMATS:
        raise DataError(f"Data card {card.label}: format {source.format} is not streamed; streaming reads "
                        f"{', '.join(STREAM_FORMATS)} files.")
    _, dedupe = build_pipeline(card.preprocess)
    if dedupe:
        raise DataError(f"Data card {card.label}: the preprocess step dedupe remembers every row it has seen, which "
                        f"a stream cannot do in bounded memory; remove it from the card to stream it, or do not stream.")
    if not isinstance(source.files, dict):  # one split: held-out rows are carved (a Hub dataset's: once opened)
        check_held_out_counts(card)


def check_held_out_counts(card: DataCard) -> None:
    """Held-out rows carved from a stream are its first rows: counts, never shares."""
    for split in HELD_OUT:
        value = getattr(card.splits, split)
        if 0 < value < 1:
            raise DataError(f"Data card {card.label}: splits.{split} is {value}, a share of the rows, but a streamed "
                            f"corpus has no known size: give a number of rows (e.g. {split}: 1000), the first rows "
                            f"of the stream.")


def _open(card: DataCard) -> dict:
    """The card's splits as IterableDatasets, in its own column names."""
    import datasets

    if card.source.hub:
        return dict(_load_hub(card.model_copy(update={"source": card.source.model_copy(update={"streaming": True})})))
    files = local_files(card)
    builder = {"jsonl": "json", "text": "text", "csv": "csv", "parquet": "parquet"}[card.source.format]
    data_files = {split: [str(p) for p in paths] for split, paths in files.items()}
    try:
        return dict(datasets.load_dataset(builder, data_files=data_files, streaming=True))
    except Exception as exc:  # datasets raises many kinds; the user needs the card and the reason
        raise DataError(f"Data card {card.label}: could not stream its {card.source.format} files: {exc}") from None


def _prepared(card: DataCard, dataset, view_columns: list[str]):
    """Our columns, the card's preprocess steps (lazily, batched so a row may become several or
    none) and only ``view_columns``."""
    fns, _ = build_pipeline(card.preprocess)
    rename = {theirs: ours for theirs, ours in card.source.columns.items() if theirs != ours}
    text = _text_column(card) or "text"

    def expand(batch: dict[str, list]) -> dict[str, list]:
        rows = [{rename.get(k, k): v for k, v in zip(batch, values)} for values in zip(*batch.values())]
        out = []
        for row in rows:
            if not isinstance(row.get("text"), str):
                raise DataError(f"Data card {card.label}: a row has no text in column '{text}' "
                                f"(it has {', '.join(map(str, row))}); map it with source.columns.")
            row["text"] = row["text"].strip()
            if row["text"]:  # blank lines and empty texts teach nothing, as in the built corpus
                out.extend(apply_steps(row, fns))
        return {column: [row[column] for row in out] for column in view_columns}

    # A Hub stream may not know its columns before the first row: look at it (the map replaces them all).
    columns = dataset.column_names or list(next(iter(dataset.take(1)), {}))
    return dataset.map(expand, batched=True, batch_size=64, remove_columns=columns)


def row_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def open_stream(card: DataCard, view_columns: list[str], max_rows: int | None = None):
    """(train IterableDataset, {split: list of rows} held out): the train rows exclude the held-out
    ones; ``max_rows`` keeps the first rows of each source split (quick experiments)."""
    check_streamable(card)
    splits = {split: _prepared(card, data, view_columns) for split, data in _open(card).items()}
    if "train" not in splits:
        raise DataError(f"Data card {card.label}: the source has no train split (it has {', '.join(splits)}).")
    if max_rows is not None:
        splits = {split: data.take(max_rows) for split, data in splits.items()}
    train = splits["train"]
    held = {split: list(data) for split, data in splits.items() if split != "train"}
    if not held:  # the first rows of the train stream
        check_held_out_counts(card)
        counts = [int(card.splits.validation), int(card.splits.test)]
        first = list(islice(iter(train), sum(counts)))
        held = {"validation": first[: counts[0]], "test": first[counts[0]:]}
        held = {split: rows for split, rows in held.items() if rows}
        if sum(len(rows) for rows in held.values()) < sum(counts):
            raise DataError(f"Data card {card.label}: the stream has only {len(first)} rows, too few to hold out "
                            f"{counts[0]} validation and {counts[1]} test rows and still train.")
        out = {row_key(row["text"]) for rows in held.values() for row in rows}
        train = train.filter(lambda text: row_key(text) not in out, input_columns="text")
    return train, held


def shard(train, rank: int, world_size: int):
    """This process's part of the train stream: whole files (shards) when their number divides
    among the processes, else every world_size-th row (see datasets.distributed.split_dataset_by_node)."""
    from datasets.distributed import split_dataset_by_node

    return train if world_size == 1 else split_dataset_by_node(train, rank=rank, world_size=world_size)
