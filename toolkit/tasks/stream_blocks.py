"""Training batches cut from a stream of texts, with a state that resumes them exactly.

``PackedBlocks`` (causal LM, biLM) tokenizes texts as they come, ends each with the end-of-text token and cuts the
running token stream into blocks of ``block_size`` (across document boundaries, as
``causal_lm.pack_blocks`` does for a built corpus). ``StreamLoader`` batches the examples of such
a source (PackedBlocks, or BERT's toolkit.families.bert.nsp_stream.NspPairs: the same few methods)
with the task's collate, and goes round the stream again when it ends (training is counted in
steps; each round is a "pass", which a shuffled Hub stream reshuffles by its epoch).

Exact resume: the state after a batch is the ``datasets`` stream's own ``state_dict()`` (where the
next text starts) plus the tokens already read but not yet in a block. The loop asks for the
state after the batches it has consumed, which the loader keeps for its last batches: it is
iterated directly, never prefetched, so what it has handed out is what was trained on.
"""

from __future__ import annotations

import copy
from collections import deque
from itertools import islice

import torch
from accelerate.utils import send_to_device

from ..errors import ToolkitError

# Texts tokenized in one call, spread over the fast tokenizer's threads: on 12 threads 512 gave
# 969k tokens/s against 876k with 64 (GPT-2 small's 32K BPE, benchmarks/data_throughput.py).
TEXTS_PER_CALL = 512
# Batches whose states are kept, for a stop in the middle of an optimizer step (the micro-batches
# of that step are redone on resume); more than any sensible train.grad_accum.
KEPT_STATES = 1024


class PackedBlocks:
    """Blocks of token ids from an IterableDataset of rows with a ``text`` column."""

    def __init__(self, rows, tokenizer, block_size: int):
        self.rows = rows
        self.tokenizer = tokenizer
        self.block_size = block_size
        self.eos = tokenizer.eos_token_id
        self._fresh = copy.deepcopy(rows.state_dict())  # the start of a pass
        self._carry: list[int] = []  # tokens read before the state this iteration starts from

    def restart(self, pass_number: int) -> None:
        """From the beginning of the stream again (a shuffled stream reshuffles by the pass)."""
        self.rows.load_state_dict(copy.deepcopy(self._fresh))
        self.rows.set_epoch(pass_number)
        self._carry = []

    def start_state(self) -> dict:
        return {"source": copy.deepcopy(self._fresh), "tokens": []}

    def load_state_dict(self, state: dict) -> None:
        self.rows.load_state_dict(state["source"])
        self._carry = list(state["tokens"])

    def __iter__(self):
        """(block, where): ``where`` makes the state after this block on demand (see state_of)."""
        buffer, start = self._carry, 0
        source = self.rows.state_dict()
        texts = iter(self.rows)
        while True:
            while len(buffer) - start >= self.block_size:  # first the carried tokens of a resumed state
                start += self.block_size
                yield {"input_ids": torch.tensor(buffer[start - self.block_size : start])}, (source, buffer, start)
            chunk = [row["text"] for row in islice(texts, TEXTS_PER_CALL)]
            if not chunk:
                return  # the last tokens, short of a block, end the pass
            buffer = buffer[start:]  # a new list: states already handed out keep the old one
            for ids in self.tokenizer(chunk, add_special_tokens=False)["input_ids"]:
                buffer.extend(ids)
                buffer.append(self.eos)
            source, start = self.rows.state_dict(), 0

    @staticmethod
    def state_of(where) -> dict:
        source, buffer, start = where
        return {"source": source, "tokens": buffer[start:]}


class StreamLoader:
    """Endless batches of ``batch_size`` examples, made by the task's ``collate`` and put on
    ``device``; ``state_dict(batches)`` is the state after that many batches."""

    resumes_itself = True  # the training loop restores its state_dict instead of skipping batches

    def __init__(self, blocks: PackedBlocks, batch_size: int, collate, device=None):
        self.blocks = blocks
        self.collate = collate
        self.batch_size = batch_size
        self.device = device
        self.passes = 0  # completed rounds of the stream
        self.batches = 0  # batches handed out since the run started
        self._resumed = False  # the current pass started from a saved state, not from the beginning
        # (batches handed out, passes, the state after them): the start, then one per batch.
        self._states: deque = deque(maxlen=KEPT_STATES)
        self._states.append((0, 0, blocks.start_state()))

    def set_epoch(self, epoch: int) -> None:
        """The loop's epochs never end for an endless loader: passes are counted here instead."""

    def __iter__(self):
        while True:
            handed, batch = 0, []
            for example, where in self.blocks:
                batch.append(example)
                if len(batch) < self.batch_size:
                    continue
                made = self.collate(batch)
                made = send_to_device(made, self.device) if self.device is not None else made
                self.batches += 1
                handed += 1
                self._states.append((self.batches, self.passes, where))
                batch = []
                yield made
            if handed == 0 and not self._resumed:
                raise ToolkitError(
                    f"A whole pass over the training stream gives fewer than train.batch_size={self.batch_size} "
                    f"blocks of data.block_size={self.blocks.block_size} tokens for this process; use more data, "
                    f"fewer processes, or a smaller batch or block size.")
            self._resumed = False
            self.passes += 1
            self.blocks.restart(self.passes)

    def state_dict(self, batches: int) -> dict:
        """The state after ``batches`` batches (one of the last KEPT_STATES handed out)."""
        for count, passes, where in reversed(self._states):
            if count == batches:
                blocks = where if isinstance(where, dict) else self.blocks.state_of(where)
                return {"batches": batches, "passes": passes, **copy.deepcopy(blocks)}
        raise ToolkitError(f"Internal: the stream's state after batch {batches} is no longer kept "
                           f"(train.grad_accum above {KEPT_STATES}?).")

    def load_state_dict(self, state: dict) -> None:
        self.batches, self.passes = state["batches"], state["passes"]
        self.blocks.load_state_dict(state)
        self.blocks.rows.set_epoch(self.passes)
        self._resumed = True
        self._states.clear()
        self._states.append((self.batches, self.passes, {k: v for k, v in state.items() if k not in ("batches", "passes")}))
