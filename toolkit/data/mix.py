"""Mixed cards (``source.mix``): several corpora joined split by split into one text corpus.

Each part is loaded as its own card (cached, preprocessed and split its own way), so a row held
out by its card stays held out in the mix: pretraining on a mix that holds review texts never
sees the reviews a fine-tuned classifier is tested on. Rows keep their documents (a part without
documents gives one document per row), numbered apart so no two parts share a document. The
parts' train splits are read ``repeat`` times each (upsampling a small corpus); held-out splits
once. Joining cached Arrow tables costs no copy of the text.
"""

from __future__ import annotations

import datasets

from .card import DataCard, mix_parts

SPLITS = ("train", "validation", "test")
# Document numbers of part i start at i * DOCUMENT_STRIDE, so parts never share a document.
DOCUMENT_STRIDE = 10**12


def load_mix_corpus(card: DataCard, max_rows: int | None, load_corpus) -> datasets.DatasetDict:
    """The mixed card's splits, columns ``text`` and ``document``; ``max_rows`` goes to each part,
    which ``load_corpus`` (the corpus module's, passed in to keep the modules' imports one-way) loads."""
    joined: dict[str, list[datasets.Dataset]] = {}
    for index, (part, spec) in enumerate(zip(mix_parts(card), card.source.mix)):
        has_documents = "documents" in part.views
        corpus = load_corpus(part, view="documents" if has_documents else "text", max_rows=max_rows)
        for split, rows in corpus.items():
            rows = _numbered_documents(rows, index, has_documents)
            joined.setdefault(split, []).extend([rows] * (spec.repeat if split == "train" else 1))
    return datasets.DatasetDict({split: datasets.concatenate_datasets(joined[split])
                                 for split in SPLITS if split in joined})


def _numbered_documents(rows: datasets.Dataset, index: int, has_documents: bool) -> datasets.Dataset:
    offset = index * DOCUMENT_STRIDE
    if has_documents:
        rows = rows.map(lambda document: {"document": [int(d) + offset for d in document]},
                        input_columns="document", batched=True, desc="numbering documents")
        return rows.cast_column("document", datasets.Value("int64")).select_columns(["document", "text"])
    return rows.map(lambda _, ids: {"document": [offset + i for i in ids]}, input_columns="text",
                    with_indices=True, batched=True, desc="one document per row",
                    features=datasets.Features(text=datasets.Value("string"), document=datasets.Value("int64")))
