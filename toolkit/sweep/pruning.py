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


# Keys whose value sets where a step falls in the learning-rate schedule. When a space varies one,
# step 250 is near the end of one trial's decay and early in another's, so evaluations at the same
# step do not compare like with like (a longer trial would look worse there and be pruned).
SCHEDULE_LENGTH_KEYS = ("train.max_steps",)


def schedule_length_keys(space_keys) -> list[str]:
    """The keys among a space's that set the schedule's length: trials of such a space are
    compared at their end only, never pruned at an intermediate evaluation."""
    return [key for key in space_keys if key in SCHEDULE_LENGTH_KEYS]


class EvaluationReporter:
    """A fit() callback: reports each new evaluation's metric to ``trial`` at its step and returns
    True (stop training) when ``trial.should_prune()``, except at the last step, where the run is
    finished anyway and counts as a complete trial. With ``prune`` false it only reports (the
    trials are compared at their end)."""

    def __init__(self, trial, metric: str, max_steps: int, space_file: str, prune: bool = True):
        self.trial = trial
        self.metric = metric
        self.max_steps = max_steps
        self.space_file = space_file
        self.prune = prune
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
        if self.prune and state.step < self.max_steps and self.trial.should_prune():
            self.pruned_at = state.step
            return True
        return False
