"""Length-grouped shuffling (``train.group_by_length``): batches of examples of similar length.

A padded batch costs as much as its longest example. Product reviews run from 5 to 500
characters, so almost every shuffled batch of 32 holds one long review and pads the others to it;
grouping similar lengths (HF Trainer's ``group_by_length``, whose grouping this reuses) cuts that
padding and the time of a step, while the order of the groups stays random.
"""

from __future__ import annotations

import torch
from torch.utils.data import Sampler


class LengthGroupedEpochSampler(Sampler[int]):
    """Indices in length-grouped random order, a new order each epoch and the same one for a given
    (seed, epoch): a resumed run (which sets the epoch, then skips the batches it had done) and
    every process of a multi-process run see the order the uninterrupted run saw."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:  # Accelerate's DataLoaderShard calls it through the batch sampler
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        from transformers.trainer_pt_utils import get_length_grouped_indices

        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))
