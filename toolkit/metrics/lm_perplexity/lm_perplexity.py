"""Perplexity of a language model from its per-example mean token losses (an `evaluate` module).

The Hub's `perplexity` metric loads a model by id and scores texts itself; a training loop already
has the losses, so this module takes them directly and works offline.
"""

import math

import datasets
import evaluate

_DESCRIPTION = "exp of the token-weighted mean cross-entropy (nats per token) of a language model."
_INPUTS = """
Args:
    losses: mean token cross-entropy of each example (block).
    weights: tokens scored in each example (the mean is weighted by them).
Returns:
    loss: weighted mean cross-entropy; perplexity: exp(loss).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class LmPerplexity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features({"losses": datasets.Value("float64"), "weights": datasets.Value("float64")}),
        )

    def _compute(self, losses, weights):
        total = sum(weights)
        if total <= 0:
            raise ValueError("lm_perplexity needs at least one scored token")
        mean = sum(loss * weight for loss, weight in zip(losses, weights)) / total
        return {"loss": mean, "perplexity": math.exp(min(mean, 50.0))}
