"""Shared training mechanics for every torch model family."""

from .checkpoints import LoopState, checkpoint_dirs, latest_checkpoint
from .loop import TrainingInterrupted, fit, perplexity
from .optim import build_optimizer, build_scheduler
from .precision import resolve_mixed_precision
from .setup import make_accelerator

__all__ = [
    "LoopState", "TrainingInterrupted", "build_optimizer", "build_scheduler",
    "checkpoint_dirs", "fit", "latest_checkpoint", "make_accelerator", "perplexity",
    "resolve_mixed_precision",
]
