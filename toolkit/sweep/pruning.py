"""Pruning inside the torch training loop: each evaluation is reported to the Optuna trial, and
the loop is asked to stop when the pruner gives up on the trial (a fit() callback returning True).

Tasks that do not train with the shared loop (word2vec trains in one gensim call) report only
their final metric, so their trials are never pruned.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import SweepError


def metric_of(numbers: dict[str, Any], metric: str, where: str, space_file: str) -> float:
    """The metric among a run's numbers, or a SweepError listing the numbers there are."""
    value = numbers.get(metric)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    available = sorted(k for k, v in numbers.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step")
    raise SweepError(f"Metric '{metric}' is not among the numbers {where} reports ({', '.join(available) or 'none'}); "
                     f"set 'metric:' in the search space {space_file} to one of them.")


# Keys that set the length of a trial's learning-rate schedule. When a space varies one, a given
# step falls at a different point of each trial's schedule (step 250 is half of a 500-step decay,
# a quarter of a 1,000-step one, where the rate is still high), so comparing trials there would
# prune the longer ones for being mid-schedule. Such a sweep compares trials at their end only.
SCHEDULE_LENGTH_KEYS = ("train.max_steps",)


def schedule_length_keys(space_keys) -> list[str]:
    """The keys among a space's that set the schedule's length (none: trials may be pruned)."""
    return [key for key in space_keys if key in SCHEDULE_LENGTH_KEYS]


def make_pruner(optuna, trials: int, prune: bool = True):
    """Optuna's MedianPruner: a trial worse than the median of earlier trials at an evaluation's
    step stops there, once a few trials have finished to compare with (fewer for short sweeps, or
    nothing is ever pruned). Without ``prune`` (a space that varies the schedule's length), none."""
    if not prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=min(5, max(1, trials // 4)), n_warmup_steps=0)


class EvaluationReporter:
    """A fit() callback: reports each new evaluation's metric to ``trial`` at its step and returns
    True (stop training) when ``trial.should_prune()``, except at the last step, where the run is
    finished anyway and counts as a complete trial."""

    def __init__(self, trial, metric: str, max_steps: int, space_file: str):
        self.trial = trial
        self.metric = metric
        self.max_steps = max_steps
        self.space_file = space_file
        self.pruned_at: int | None = None  # the step at which the trial was stopped
        self._reported: int | None = None

    def __call__(self, state) -> bool:
        latest = state.evals[-1] if state.evals else None
        if latest is None or latest["step"] != state.step or state.step == self._reported:
            return False  # no new evaluation at this step
        self._reported = state.step
        value = metric_of(latest, self.metric, "an evaluation during training", self.space_file)
        if not math.isfinite(value):
            return False  # Optuna's report refuses nan; the final value decides the trial
        self.trial.report(value, state.step)
        if state.step < self.max_steps and self.trial.should_prune():
            self.pruned_at = state.step
            return True
        return False
