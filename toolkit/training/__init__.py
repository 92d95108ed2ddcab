"""Shared training mechanics for every torch model family."""

from .checkpoints import LoopState, checkpoint_dirs, latest_checkpoint
from .loop import TrainingInterrupted, causal_lm_loss, fit, perplexity
from .optim import build_optimizer, build_scheduler
from .precision import resolve_mixed_precision
from .setup import make_accelerator

__all__ = [
    "LoopState", "TrainingInterrupted", "build_optimizer", "build_scheduler", "causal_lm_loss",
    "checkpoint_dirs", "fit", "latest_checkpoint", "make_accelerator", "perplexity",
    "resolve_mixed_precision",
]
