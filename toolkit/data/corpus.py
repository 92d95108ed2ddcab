"""A data card -> a cached ``datasets.DatasetDict`` with train/validation/test in a view's columns.

The rows are produced once by a generator (read, preprocess, dedupe) through
``Dataset.from_generator``, which caches the result in the datasets cache keyed on the card, the
source files' sizes and modification times, and the code; a second run reads the Arrow cache.
A card derived from another card (``source.derived_from``) is its parent's corpus put through a
named transform (toolkit.data.transforms), split by split, and cached the same way.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError
from .card import DATASETS_FORMATS, DataCard, load_card, mix_parts, parent_card
from .documents import with_documents
from .mix import load_mix_corpus
from .sources import iter_source_rows, load_with_datasets, local_files, nested_field
from .text import apply_steps, build_pipeline
from .transforms import TRANSFORMS
from .views import HOW_TO_GET, VIEWS

# Rows depend on the code that reads, preprocesses and transforms them: any change there re-keys the cache.
_CODE_FILES = ("card.py", "corpus.py", "documents.py", "sources.py", "text.py", "transforms.py", "pinyin.py", "mix.py")
_CODE_VERSION = hashlib.sha256(b"".join((Path(__file__).parent / name).read_bytes() for name in _CODE_FILES)).hexdigest()[:12]


def _uses_datasets(card: DataCard) -> bool:
    return bool(card.source.hub) or card.source.format in DATASETS_FORMATS


def source_signature(card: DataCard, files: dict[str, list[Path]] | None) -> str:
    """Changes whenever the card or a source file changes, so the cache never goes stale."""
    parts = [_CODE_VERSION, card.model_dump_json()]
    if card.source.derived_from:  # the parent card and its files, down the chain
        parent = parent_card(card)
        parts.append(source_signature(parent, local_files(parent)))
    for part in mix_parts(card) if card.source.mix else ():  # each part, its files and its chain
        parts.append(source_signature(part, local_files(part)))
    for group, paths in sorted((files or {}).items()):
        for path in paths:
            stat = path.stat()
            parts.append(f"{group}:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _generate_rows(card_json: str, split: str, max_rows: int | None, signature: str):
    """Generator for Dataset.from_generator: every argument is part of the cache key."""
    del signature  # only there to key the cache
    card = DataCard.model_validate_json(card_json)
    files = local_files(card)
    split_data = load_with_datasets(card, files) if _uses_datasets(card) else None
    def first_rows():
        for number, row in enumerate(iter_source_rows(card, split_data, split, files)):
            if max_rows is not None and number >= max_rows:
                break
            yield row

    split_on = card.documents.split_on if card.documents else None
    yield from preprocessed(card, with_documents(first_rows(), split_on, card.document_rows))


# What makes two rows the same for dedupe: the text, or both sides of a pair.
_DEDUPE_KEYS = (("text",), ("source", "target"))


def _check_text_columns(card: DataCard, row: dict) -> None:
    for column in ("text", "source", "target"):
        if column in row and not isinstance(row[column], str):
            raise DataError(f"Data card '{card.name}': column '{column}' holds {type(row[column]).__name__}, not text.")


def preprocessed(card: DataCard, rows):
    """The card's preprocess steps over rows (text steps on rows with text), then dedupe."""
    fns, dedupe = build_pipeline(card.preprocess)
    seen: set[bytes] = set()
    for row in rows:
        if "source" in row and not all(isinstance(row.get(c), str) and row[c].strip() for c in ("source", "target")):
            continue  # a pair with a missing or empty side teaches nothing (rows with empty text are dropped too)
        _check_text_columns(card, row)
        for out in apply_steps(row, fns) if "text" in row else [row]:
            if dedupe:
                key = next(k for k in (*_DEDUPE_KEYS, tuple(sorted(out))) if all(c in out for c in k))
                digest = hashlib.blake2b("\0".join(str(out[c]) for c in key).encode(), digest_size=16).digest()
                if digest in seen:
                    continue
                seen.add(digest)
            yield out


def _source_splits(card: DataCard, files: dict[str, list[Path]] | None) -> list[str]:
    if card.source.hub:
        return list(load_with_datasets(card))
    if card.source.format == "labelled_lines":
        return ["train"]
    return list(files)


def _build_split(card: DataCard, split: str, max_rows: int | None, signature: str) -> datasets.Dataset:
    gen_kwargs = {"card_json": card.model_dump_json(), "split": split, "max_rows": max_rows, "signature": signature}
    return build_cached_split(card, split, _generate_rows, gen_kwargs)


def build_cached_split(card: DataCard, split: str, generator, gen_kwargs: dict) -> datasets.Dataset:
    """One split made by ``generator`` through Dataset.from_generator, which caches it keyed on the
    generator's code and ``gen_kwargs``; the data layer's own errors come out as they were raised."""
    try:
        dataset = datasets.Dataset.from_generator(generator, gen_kwargs=gen_kwargs)
    except datasets.exceptions.DatasetGenerationError as exc:
        chain, cause = [], exc.__cause__ or exc.__context__
        while cause is not None:
            chain.append(cause)
            cause = cause.__cause__ or cause.__context__
        own = next((c for c in chain if isinstance(c, DataError)), None)
        if own is not None:
            raise own from None
        if not any(type(c).__name__ == "SchemaInferenceError" for c in chain):
            raise
        dataset = []  # the generator yielded no row at all
    if len(dataset) == 0:
        made_by = f"transform {card.source.transform} {card.source.options or ''}, " if card.source.derived_from else ""
        raise DataError(
            f"Data card '{card.name}': the {split} split is empty after reading, {made_by}and preprocessing "
            f"({card.preprocess or 'no steps'}); check the source files and the filters."
        )
    return dataset


def _count(fraction: float, total: int) -> int:
    if fraction <= 0:
        return 0
    return int(fraction) if fraction >= 1 else max(1, round(fraction * total))


def carve_splits(train: datasets.Dataset, card: DataCard) -> datasets.DatasetDict:
    """Seeded validation/test carved out of a single train split (whole documents when rows
    belong to documents, so held-out text never shares a document with training text)."""
    if "document" in train.column_names:
        return _carve_documents(train, card)
    n_val, n_test = _count(card.splits.validation, len(train)), _count(card.splits.test, len(train))
    if n_val + n_test == 0:
        return datasets.DatasetDict(train=train)
    if n_val + n_test >= len(train):
        raise DataError(
            f"Data card '{card.name}': {len(train)} rows are too few to hold out {n_val} validation "
            f"and {n_test} test rows; lower splits.validation/splits.test or use more data."
        )
    parts = train.train_test_split(test_size=n_val + n_test, seed=card.splits.seed)
    out = datasets.DatasetDict(train=parts["train"])
    if n_val and n_test:
        held = parts["test"].train_test_split(test_size=n_test, shuffle=False)
        out["validation"], out["test"] = held["train"], held["test"]
    else:
        out["validation" if n_val else "test"] = parts["test"]
    return out


def _carve_documents(train: datasets.Dataset, card: DataCard) -> datasets.DatasetDict:
    documents = _sorted_documents(train)
    n_val, n_test = _count(card.splits.validation, len(documents)), _count(card.splits.test, len(documents))
    if n_val + n_test >= len(documents):
        raise DataError(
            f"Data card '{card.name}': {len(documents)} documents are too few to hold out {n_val} validation "
            f"and {n_test} test documents; lower splits.validation/splits.test or use more data."
        )
    # random.shuffle draws the same swaps for any sequence of this length, so shuffling the array
    # holds out the documents that shuffling a list of them would.
    random.Random(card.splits.seed).shuffle(documents)
    out = datasets.DatasetDict(train=_filter_documents(train, documents[: n_val + n_test], keep=False))
    for split, chosen in {"validation": documents[:n_val], "test": documents[n_val : n_val + n_test]}.items():
        if len(chosen):
            out[split] = _filter_documents(train, chosen, keep=True)
    return out


# Rows per batch when reading the document column: Arrow arrays of ids, never a Python object per row
# (100,000-row batches raised the peak memory of a 200 MB corpus's build by about 23 MB, for no speed).
_DOCUMENT_BATCH = 10_000


def _sorted_documents(rows: datasets.Dataset) -> np.ndarray:
    """The distinct document ids of ``rows``, sorted: one array of the documents, however many rows."""
    found = [pc.unique(batch["document"])
             for batch in rows.with_format("arrow").select_columns(["document"]).iter(batch_size=_DOCUMENT_BATCH)]
    return np.sort(pc.unique(pa.chunked_array(found)).to_numpy(zero_copy_only=False))


def _filter_documents(rows: datasets.Dataset, documents: np.ndarray, keep: bool) -> datasets.Dataset:
    """The rows whose document is among ``documents`` (keep) or not (not keep), in their order; a
    batched filter over the Arrow column, cached by `datasets` as any filter is."""
    value_set = pa.array(documents)

    def chosen(column: pa.ChunkedArray) -> np.ndarray:
        inside = pc.is_in(column, value_set=value_set)
        return (inside if keep else pc.invert(inside)).to_numpy()

    kept = rows.with_format("arrow").filter(
        chosen, input_columns="document", batched=True, batch_size=_DOCUMENT_BATCH,
        desc="held-out documents" if keep else "training documents",
    )
    form = rows.format
    return kept.with_format(form["type"], form["columns"], form["output_all_columns"], **form["format_kwargs"])


# --------------------------------------------------------------------------- derived cards
# The parent corpus is loaded as any card is (cached, split into train/validation/test, by document
# where it has documents), and the transform runs over each split on its own, so a derived row stays
# in the split of the parent row it comes from: held-out pairs share no document with training pairs.
# A derived card that sets other ``splits`` than its parent's (say larger held-out shares) has its
# rows pooled and split again with them, by the parent's documents when the rows carry them.


def _generate_derived(card_json: str, parent_json: str, split: str, max_rows: int | None, signature: str):
    """Generator for Dataset.from_generator: every argument is part of the cache key (the signature
    holds the parent's: its card, its files and the code version)."""
    del signature  # only there to key the cache
    card, parent = DataCard.model_validate_json(card_json), DataCard.model_validate_json(parent_json)
    rows = load_corpus(parent, max_rows=max_rows)[split]  # from the parent's own cache
    yield from preprocessed(card, TRANSFORMS[card.source.transform].run(iter(rows), card.source.options))


def load_derived_corpus(card: DataCard, max_rows: int | None, signature: str) -> datasets.DatasetDict:
    """A derived card's splits; ``max_rows`` is passed on to the parent (the first rows of its source)."""
    parent = parent_card(card)
    splits = list(load_corpus(parent, max_rows=max_rows))  # built (or read from the cache) once here
    common = {"card_json": card.model_dump_json(), "parent_json": parent.model_dump_json(),
              "max_rows": max_rows, "signature": signature}
    derived = datasets.DatasetDict(
        {split: build_cached_split(card, split, _generate_derived, {**common, "split": split}) for split in splits}
    )
    if card.splits == parent.splits:
        return derived
    return carve_splits(datasets.concatenate_datasets(list(derived.values())), card)


def check_view(card: DataCard, view: str) -> None:
    """Refuse a card that does not offer ``view`` (the columns a task needs), before any loading."""
    if view not in card.views:
        needs = [column for column in VIEWS[view] if column not in {c for v in card.views for c in VIEWS[v]}]
        how = f" ({'; '.join(HOW_TO_GET[c] for c in needs if c in HOW_TO_GET)})" if needs else ""
        raise DataError(
            f"Data card '{card.name}' does not provide the '{view}' view ({', '.join(VIEWS[view])}) that the task needs; "
            f"it provides: {', '.join(card.views)}{how}."
        )


def select_view(corpus: datasets.DatasetDict, card: DataCard, view: str) -> datasets.DatasetDict:
    """Keep the columns of ``view``; explain how to get a missing one."""
    check_view(card, view)
    columns = VIEWS[view]
    have = next(iter(corpus.values())).column_names
    for column in columns:
        if column not in have:
            raise DataError(
                f"Data card '{card.name}': view '{view}' needs column '{column}', but the corpus "
                f"has {have}; {HOW_TO_GET.get(column, 'map it with source.columns')}."
            )
    return corpus.select_columns(columns)


def load_corpus(
    card: str | Path | DataCard, view: str | None = None, max_rows: int | None = None
) -> datasets.DatasetDict:
    """Load a corpus described by a data card as a DatasetDict (train/validation/test).

    ``view`` narrows the columns to what a task needs (see ``toolkit.data.views.VIEWS``);
    ``max_rows`` reads only the first rows of each source split (quick experiments, tests).
    """
    card = card if isinstance(card, DataCard) else load_card(card)
    if card.source.streaming:
        raise DataError(
            f"Data card '{card.name}': streaming sources are read with load_streaming_corpus(), "
            f"not load_corpus()."
        )
    if card.source.derived_from:
        if view:
            check_view(card, view)  # before the parent corpus is read
        corpus = load_derived_corpus(card, max_rows, source_signature(card, None))
        return select_view(corpus, card, view) if view else corpus
    if card.source.mix:
        if view:
            check_view(card, view)  # before the parts are read
        corpus = load_mix_corpus(card, max_rows, load_corpus)
        return select_view(corpus, card, view) if view else corpus
    files = local_files(card)
    signature = source_signature(card, files)
    splits = _source_splits(card, files)
    built = datasets.DatasetDict({s: _build_split(card, s, max_rows, signature) for s in splits})
    corpus = carve_splits(built["train"], card) if list(built) == ["train"] else built
    return select_view(corpus, card, view) if view else corpus


def load_streaming_corpus(card: str | Path | DataCard, view: str | None = None) -> dict[str, Any]:
    """Hub datasets too large to download: an IterableDataset per split, preprocessed lazily.

    Validation/test are taken from the dataset's own splits, or, for a single split, as the first
    ``splits.validation``/``splits.test`` rows (counts, not fractions, since the size is unknown).
    """
    card = card if isinstance(card, DataCard) else load_card(card)
    if card.source.derived_from:
        raise DataError(f"Data card '{card.name}' is derived from '{card.source.derived_from}': derived cards are "
                        f"built whole and cached, read them with load_corpus(), not load_streaming_corpus().")
    split_data = load_with_datasets(card, local_files(card))
    fns, _ = build_pipeline(card.preprocess)

    def expand(batch: dict[str, list]) -> dict[str, list]:
        # Batched so one row may become several (sentence_split) or none (filters).
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        out = [done for row in rows for done in (apply_steps(row, fns) if "text" in row else [row])]
        return {key: [row[key] for row in out] for key in (out[0] if out else batch)}

    def prepared(dataset):
        nested = {k: v for k, v in card.source.columns.items() if "." in k}
        if nested:  # a field inside a column (translation.en): IterableDataset cannot flatten
            dataset = dataset.map(lambda row: {ours: nested_field(row, theirs) for theirs, ours in nested.items()})
        rename = {k: v for k, v in card.source.columns.items() if k != v and k not in nested}
        dataset = dataset.rename_columns(rename) if rename else dataset
        return dataset.map(expand, batched=True, batch_size=256)

    out = {split: prepared(d) for split, d in split_data.items()}
    if list(out) == ["train"]:
        n_val, n_test = int(card.splits.validation), int(card.splits.test)
        if card.splits.validation < 1 and card.splits.validation > 0:
            raise DataError(f"Data card '{card.name}' streams: splits.validation must be a row count (>= 1), not a fraction.")
        train = out["train"]
        out = {"validation": train.take(n_val), "test": train.skip(n_val).take(n_test), "train": train.skip(n_val + n_test)}
    if view:
        out = {k: d.select_columns(VIEWS[view]) for k, d in out.items()}
    return out
