"""Exact match (an offline `evaluate` module): the share of predictions identical to their
reference, character for character (no normalisation: pass detokenized text)."""

import datasets
import evaluate

_DESCRIPTION = "Share of predictions that equal their reference string exactly."
_INPUTS = """
Args:
    predictions: system outputs, one string each.
    references: one reference string per prediction.
Returns:
    exact_match: between 0 and 1.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class ExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        if not references:
            raise ValueError("exact_match needs at least one prediction and reference; got none")
        return {"exact_match": sum(p == r for p, r in zip(predictions, references)) / len(references)}
