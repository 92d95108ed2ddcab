"""Macro-averaged F1 over classes (an offline `evaluate` module): every class counts equally,
so a classifier cannot score well by predicting only the majority class."""

import datasets
import evaluate

_DESCRIPTION = "Unweighted mean of per-class F1 over the classes present in references or predictions."
_INPUTS = """
Args:
    predictions: predicted label ids.
    references: gold label ids.
Returns:
    macro_f1: between 0 and 1.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class MacroF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        scores = []
        for label in sorted(set(references) | set(predictions)):
            tp = sum(p == label and r == label for p, r in zip(predictions, references))
            fp = sum(p == label and r != label for p, r in zip(predictions, references))
            fn = sum(p != label and r == label for p, r in zip(predictions, references))
            scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        return {"macro_f1": sum(scores) / len(scores) if scores else 0.0}
