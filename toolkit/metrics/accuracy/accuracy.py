"""Accuracy: the share of predictions equal to their references (an offline `evaluate` module)."""

import datasets
import evaluate

_DESCRIPTION = "Share of predictions that equal their reference label."
_INPUTS = """
Args:
    predictions: predicted label ids.
    references: gold label ids.
Returns:
    accuracy: between 0 and 1.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        if not references:
            raise ValueError("accuracy needs at least one example")
        return {"accuracy": sum(p == r for p, r in zip(predictions, references)) / len(references)}
