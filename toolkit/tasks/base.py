"""What every task declares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

IGNORE = -100  # the label PyTorch's cross-entropy skips: padding, special tokens, unmasked positions


@dataclass(frozen=True)
class Task:
    """A training objective: the corpus view it reads, how it runs and how it re-evaluates."""

    name: str
    description: str
    view: str
    pipeline_tag: str
    run: Callable  # (recipe, run_dir, resume, callbacks) -> RunOutcome
    evaluate: Callable  # (run_dir, recipe, split, card) -> dict of metrics
