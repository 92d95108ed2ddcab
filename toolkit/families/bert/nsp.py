"""Next-sentence-prediction pairs for BERT pretraining, built from document structure.

As in the BERT paper (create_instances_from_document): each document is cut into sentences, and
sentences are gathered into a chunk up to the target length; the chunk's first part is segment
A; half the time segment B is the rest of the chunk (label 0, "is next"), half the time it is
taken from another document (label 1) and the unused sentences go back for the next pair. As in the
paper's code, documents are shuffled (seeded) before pairing, so "another document" is any document
of the split, whatever corpus of a mix it comes from, not a neighbour of the same part (streamed
pairs, toolkit.families.bert.nsp_stream, draw from their bounded buffer of documents). Pairs
are framed ``[CLS] A [SEP] B [SEP]`` with token_type_ids 0/1. A chunk of a single long sentence
is split in two for an "is next" pair, so the labels stay balanced when sentences are long. Built with ``datasets.map`` under
fingerprints of the corpus, tokenizer and settings, so a second run reads them from the cache.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from ...errors import DataError
from ...data.text import segment, sentence_split

# Part of every cache key, so changing this file never serves pairs made by older code.
_CODE_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
SHORT_SEQUENCE_PROBABILITY = 0.1  # the paper's short_seq_prob: some pairs are shorter than the maximum
PAIRS_BATCH = 20_000  # sentences per map batch; random B segments come from the same batch


def _tokenizer_hash(tokenizer) -> str:
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()[:16]


def _character_units(text: str, words: list[str]) -> list[int]:
    """The masking unit of each character of ``text``: the index of the word covering it, found in
    order in the text. Word lists leave out whitespace (jieba's spaces are dropped by ``segment``)
    while the tokenizer's offsets index the text with it, so each whitespace character between
    words is a unit of its own. Units are numbered in text order."""
    owner: list[int] = []
    for word in filter(None, words):
        while not text.startswith(word, len(owner)) and len(owner) < len(text) and text[len(owner)].isspace():
            owner.append(_next_unit(owner))
        if not text.startswith(word, len(owner)):
            raise DataError(f"The words of a sentence do not spell its text: expected {word!r} at character "
                            f"{len(owner)} of {text!r}. A segmented corpus's words must join to its text.")
        owner.extend([_next_unit(owner)] * len(word))
    while len(owner) < len(text):
        owner.append(_next_unit(owner))
    return owner


def _next_unit(owner: list[int]) -> int:
    return owner[-1] + 1 if owner else 0


def _sentence_rows(batch: dict[str, list], tokenizer, whole_word: bool) -> dict[str, list]:
    """One row per sentence: its document, token ids and the word each token belongs to."""
    out = {"document": [], "input_ids": [], "word_ids": []}
    for document, text, words in zip(batch["document"], batch.get("text") or [None] * len(batch["document"]),
                                     batch.get("words") or [None] * len(batch["document"])):
        row = {"text": text if text is not None else "".join(words), "words": words}
        for sentence in sentence_split(row):
            if whole_word and sentence.get("words") is None:
                sentence = segment(sentence)[0]
            encoded = tokenizer(sentence["text"], add_special_tokens=False, return_offsets_mapping=True)
            if not encoded["input_ids"]:
                continue
            if sentence.get("words"):
                owner = _character_units(sentence["text"], sentence["words"])
                word_ids = [owner[start] for start, _ in encoded["offset_mapping"]]
            else:  # no word boundaries: every token is its own word (plain token masking)
                word_ids = list(range(len(encoded["input_ids"])))
            out["document"].append(document)
            out["input_ids"].append(encoded["input_ids"])
            out["word_ids"].append(word_ids)
    return out


def _join(sentences: list[tuple[list[int], list[int]]]) -> tuple[list[int], list[int]]:
    """Concatenate sentences, renumbering word ids so words of different sentences stay apart."""
    ids, words, offset = [], [], 0
    for sentence_ids, sentence_words in sentences:
        ids.extend(sentence_ids)
        words.extend(w - min(sentence_words) + offset for w in sentence_words)
        offset = words[-1] + 1 if words else offset
    return ids, words


def _truncate_pair(a: list, b: list, limit: int, rng: random.Random) -> None:
    """Trim the longer side, from the front or the back at random, until the pair fits."""
    while len(a[0]) + len(b[0]) > limit:
        longer = a if len(a[0]) > len(b[0]) else b
        cut = 0 if rng.random() < 0.5 else -1
        for part in longer:
            del part[cut]


def _pairs(batch: dict[str, list], indices: list[int], max_length: int, seed: int, cls_id: int, sep_id: int) -> dict[str, list]:
    rng = random.Random(seed * 7919 + indices[0])
    documents: list[list[tuple[list[int], list[int]]]] = []
    previous = object()
    for document, ids, words in zip(batch["document"], batch["input_ids"], batch["word_ids"]):
        if document != previous:
            documents.append([])
            previous = document
        documents[-1].append((ids, words))
    out = {"input_ids": [], "token_type_ids": [], "attention_mask": [], "word_ids": [], "next_sentence_label": []}
    limit = max_length - 3  # [CLS] A [SEP] B [SEP]
    for doc_index, sentences in enumerate(documents):
        target = rng.randint(2, limit) if rng.random() < SHORT_SEQUENCE_PROBABILITY else limit
        chunk, length, i = [], 0, 0
        while i < len(sentences):
            chunk.append(sentences[i])
            length += len(sentences[i][0])
            if i == len(sentences) - 1 or length >= target:
                random_next = len(documents) > 1 and rng.random() < 0.5
                if len(chunk) == 1 and not random_next:
                    # One long sentence: its two halves are a true "next" pair (keeps labels 50/50).
                    ids, words = chunk[0]
                    cut = rng.randint(1, len(ids) - 1) if len(ids) > 1 else 1
                    a, b = (ids[:cut], words[:cut]), (ids[cut:], words[cut:])
                    label = 0
                elif random_next:
                    a_end = 1 if len(chunk) < 2 else rng.randint(1, len(chunk) - 1)
                    a = _join(chunk[:a_end])
                    label = 1
                    other = rng.choice([d for d in range(len(documents)) if d != doc_index])
                    start = rng.randint(0, len(documents[other]) - 1)
                    taken = []
                    for sentence in documents[other][start:]:
                        taken.append(sentence)
                        if sum(len(t[0]) for t in taken) >= target - len(a[0]):
                            break
                    b = _join(taken)
                    i -= len(chunk) - a_end  # the unused sentences start the next pair
                else:
                    a_end = rng.randint(1, len(chunk) - 1)
                    a, b = _join(chunk[:a_end]), _join(chunk[a_end:])
                    label = 0
                _truncate_pair(a, b, limit, rng)
                if a[0] and b[0]:
                    # Word ids of B are shifted past A's so a word never spans both segments.
                    shift = max(a[1]) - min(b[1]) + 1
                    out["input_ids"].append([cls_id, *a[0], sep_id, *b[0], sep_id])
                    out["token_type_ids"].append([0] * (len(a[0]) + 2) + [1] * (len(b[0]) + 1))
                    out["attention_mask"].append([1] * (len(a[0]) + len(b[0]) + 3))
                    out["word_ids"].append([-1, *a[1], -1, *[w + shift for w in b[1]], -1])
                    out["next_sentence_label"].append(label)
                chunk, length = [], 0
            i += 1
    return out


def _shuffled_documents(sentences, seed: int):
    """The sentence rows with whole documents in a seeded random order, each document's sentences
    still consecutive and in order.

    A map batch draws its random B segments from its own documents; unshuffled, a batch of a mixed
    card holds one part's neighbouring documents (same-day news, the next chapter), which makes the
    training negatives harder than the held-out split's (one batch, every part) and than BERT's
    (create_pretraining_data.py shuffles all documents and picks any)."""
    import numpy as np

    documents = sentences.with_format("arrow")["document"].to_numpy()  # Arrow, not a Python list per row
    if len(documents) == 0:
        return sentences
    run = np.cumsum(np.r_[True, documents[1:] != documents[:-1]]) - 1  # each row's run of one document
    order = np.random.default_rng(seed).permutation(run[-1] + 1)  # the runs in their new order
    place = np.empty_like(order)
    place[order] = np.arange(len(order))  # each run's place in that order
    return sentences.select(np.argsort(place[run], kind="stable"))


def build_nsp_pairs(dataset, tokenizer, max_length: int, whole_word: bool, seed: int):
    """NSP pairs (with word ids for masking) from a split with document and text/words columns."""
    if "document" not in dataset.column_names:
        raise DataError("Next-sentence prediction needs documents: use a card with the documents or word_documents view.")
    key = f"{dataset._fingerprint}-{_tokenizer_hash(tokenizer)}-{whole_word}-{max_length}-{seed}-{_CODE_VERSION}"
    sentences = dataset.map(
        _sentence_rows, batched=True, remove_columns=dataset.column_names, desc="sentences",
        fn_kwargs={"tokenizer": tokenizer, "whole_word": whole_word},
        new_fingerprint=hashlib.sha256(f"sentences-{key}".encode()).hexdigest()[:32],
    )
    return _shuffled_documents(sentences, seed).map(
        _pairs, batched=True, batch_size=PAIRS_BATCH, with_indices=True, remove_columns=sentences.column_names,
        fn_kwargs={"max_length": max_length, "seed": seed, "cls_id": tokenizer.cls_token_id, "sep_id": tokenizer.sep_token_id},
        new_fingerprint=hashlib.sha256(f"pairs-{key}".encode()).hexdigest()[:32], desc="NSP pairs",
    )
