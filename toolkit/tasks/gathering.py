"""Gathering evaluation results from every process, one row per example.

``accelerator.gather_for_metrics`` drops the examples accelerate repeats to give every process an
equal last batch, by cutting the last gathered batch to the number of real examples. That cut counts
along the first dimension, so it is right only for tensors with one row per example: a per-token
tensor (masked positions) or a per-batch scalar (a batch's mean loss) would be cut at the wrong
place, even in a single process. The scoring loops therefore gather per example, through here.
"""

from __future__ import annotations

import torch

from .base import IGNORE


def gather_rows(accelerator, rows: torch.Tensor, pad: int = IGNORE) -> torch.Tensor:
    """``rows`` (one per example in this batch) from every process, with the repeated examples of
    the last batch dropped. Rows of a sequence (batch, length, ...) are padded with ``pad`` to the
    longest length across processes first, since each process pads its batches on its own."""
    if rows.dim() > 1:
        rows = accelerator.pad_across_processes(rows, dim=1, pad_index=pad)
    return accelerator.gather_for_metrics(rows)


def gather_objects(accelerator, rows: list) -> list:
    """Python objects (decoded texts, say), one per example, from every process in process order,
    with the repeated examples of the last batch dropped."""
    return accelerator.gather_for_metrics(rows, use_gather_object=True)
