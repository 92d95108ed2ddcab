"""Gathering evaluation results from every process, one row per example.

``accelerator.gather_for_metrics`` drops the examples accelerate repeats to give every process an
equal last batch, by cutting the last gathered batch to the number of real examples. That cut counts
along the first dimension, so it is right only for tensors with one row per example: a per-token
tensor (masked positions) would be cut at the wrong place, even in a single process, and a batch's
mean loss copied onto its rows still holds the repeated examples' share. The scoring loops
therefore gather per example, through here, with losses computed per example.
"""

from __future__ import annotations

import torch

from .base import IGNORE


def gather_rows(accelerator, rows: torch.Tensor, pad: int | None = None) -> torch.Tensor:
    """``rows`` (one per example in this batch) from every process, with the repeated examples of
    the last batch dropped. With ``pad``, rows of a sequence (batch, length, ...) are first padded
    with it to the longest length across processes, since each process pads its batches on its own."""
    if pad is not None:
        rows = accelerator.pad_across_processes(rows, dim=1, pad_index=pad)
    return accelerator.gather_for_metrics(rows)


def gather_objects(accelerator, rows: list) -> list:
    """Python objects (decoded texts, say), one per example, from every process in process order,
    with the repeated examples of the last batch dropped."""
    return accelerator.gather_for_metrics(rows, use_gather_object=True)


def row_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each example's summed cross-entropy and how many of its labels were scored, (batch,) each:
    ``logits`` (batch, [length,] classes) against ``labels`` (batch, [length]), IGNORE skipped. Only
    the labelled positions go through the softmax, so memory follows the scored tokens."""
    if labels.dim() == 1:  # one label per example
        logits, labels = logits[:, None], labels[:, None]
    scored = labels != IGNORE
    # Per position, then summed per row: a fixed order of addition (no atomic adds on a GPU).
    if scored.all():  # causal LM blocks: no copy of the logits to pick the scored positions
        per_token = torch.nn.functional.cross_entropy(logits.flatten(0, -2).float(), labels.flatten(),
                                                      reduction="none").view(labels.shape)
    else:
        per_token = torch.zeros(labels.shape, device=logits.device)
        per_token[scored] = torch.nn.functional.cross_entropy(logits[scored].float(), labels[scored], reduction="none")
    return per_token.sum(dim=1), scored.sum(dim=1).float()
