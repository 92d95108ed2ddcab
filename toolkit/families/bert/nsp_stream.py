"""Next-sentence-prediction pairs from a stream of documents (BERT pretraining, ``data.streaming``).

A streamed row is one document (a jsonl record, a Hub row such as a Wikipedia article, a line of a
text file). Documents are read a buffer of BUFFER_DOCUMENTS at a time, and the buffer is turned into
pairs by the same code as a built corpus (toolkit.families.bert.nsp: sentences, chunks, "is next" or
a B segment from another document of the buffer), so memory stays bounded by the buffer.

Its state for an exact resume is small: where the buffer started in the stream, the buffer's number
(its pairs are a function of the buffer, the seed and that number) and how many of its pairs were
handed out; a resume reads the buffer again and skips those.
"""

from __future__ import annotations

import copy
from itertools import islice

from .nsp import _pairs, _sentence_rows

BUFFER_DOCUMENTS = 1000  # documents a random B segment may come from; about 2,000 pairs of Wikipedia


class NspPairs:
    """(pair, where) from an IterableDataset of rows with ``text`` (one document each)."""

    def __init__(self, rows, tokenizer, max_length: int, whole_word: bool, seed: int,
                 buffer_documents: int = BUFFER_DOCUMENTS):
        self.rows = rows
        self.tokenizer = tokenizer
        self.block_size = max_length  # named as PackedBlocks' for StreamLoader's messages
        self.whole_word = whole_word
        self.seed = seed
        self.buffer_documents = buffer_documents
        self._fresh = copy.deepcopy(rows.state_dict())
        self._pass, self._buffer, self._skip = 0, 0, 0

    def restart(self, pass_number: int) -> None:
        """From the beginning of the stream again; the pass number gives its buffers new pairs."""
        self.rows.load_state_dict(copy.deepcopy(self._fresh))
        self.rows.set_epoch(pass_number)
        self._pass, self._buffer, self._skip = pass_number, 0, 0

    def start_state(self) -> dict:
        return {"source": copy.deepcopy(self._fresh), "buffer": 0, "pairs_done": 0}

    def load_state_dict(self, state: dict) -> None:
        self.rows.load_state_dict(state["source"])
        self._pass, self._buffer, self._skip = state.get("passes", 0), state["buffer"], state["pairs_done"]

    def _pairs_of(self, documents: list[str], number: int) -> list[dict]:
        sentences = _sentence_rows({"document": list(range(len(documents))), "text": documents},
                                   self.tokenizer, self.whole_word)
        made = _pairs(sentences, [self._pass * 1_000_003 + number], self.block_size, self.seed,
                      self.tokenizer.cls_token_id, self.tokenizer.sep_token_id)
        return [dict(zip(made, values)) for values in zip(*made.values())]

    def __iter__(self):
        number, skip = self._buffer, self._skip
        texts = iter(self.rows)
        while True:
            source = self.rows.state_dict()  # where this buffer starts
            documents = [row["text"] for row in islice(texts, self.buffer_documents)]
            if not documents:
                return
            pairs = self._pairs_of(documents, number)
            for done in range(skip + 1, len(pairs) + 1):
                yield pairs[done - 1], (source, number, done)
            number, skip = number + 1, 0

    @staticmethod
    def state_of(where) -> dict:
        source, number, done = where
        return {"source": source, "buffer": number, "pairs_done": done}


def stream_pairs(rows, tokenizer, recipe) -> NspPairs:
    return NspPairs(rows, tokenizer, recipe.data.block_size, recipe.mlm.whole_word_mask, recipe.seed)
