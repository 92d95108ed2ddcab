"""Cards derived from another card by a named transform (``source.derived_from``).

The parent corpus is loaded as any card is (cached, split into train/validation/test, by document
where it has documents), and the transform runs over each split on its own, so a derived row stays
in the split of the parent row it comes from: held-out pairs share no document with training pairs.
A derived card that sets other ``splits`` than its parent's (say larger held-out shares) has its
rows pooled and split again with them, by the parent's documents when the rows carry them.
Each split is cached by ``Dataset.from_generator``, keyed on the derived card (transform name and
options included), the parent's signature (its card, files and the code version) and max_rows.
"""

from __future__ import annotations

import datasets

from .card import DataCard, parent_card
from .transforms import TRANSFORMS


def _generate_derived(card_json: str, parent_json: str, split: str, max_rows: int | None, signature: str):
    """Generator for Dataset.from_generator: every argument is part of the cache key."""
    from .corpus import load_corpus, preprocessed

    del signature  # only there to key the cache
    card, parent = DataCard.model_validate_json(card_json), DataCard.model_validate_json(parent_json)
    rows = load_corpus(parent, max_rows=max_rows)[split]  # the parent's own cache
    transform = TRANSFORMS[card.source.transform]
    yield from preprocessed(card, transform.run(iter(rows), card.source.options))


def load_derived_corpus(card: DataCard, max_rows: int | None, signature: str) -> datasets.DatasetDict:
    """The derived card's splits: the parent's splits, transformed. ``max_rows`` is passed on to
    the parent (the first rows of its source)."""
    from .corpus import build_cached_split, carve_splits, load_corpus

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
