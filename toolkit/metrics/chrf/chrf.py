"""Corpus chrF with sacrebleu (an offline `evaluate` module): the F-score (beta 2) of character
n-grams up to 6, whitespace ignored, so it needs no word segmentation for Chinese."""

import datasets
import evaluate
from sacrebleu.metrics import CHRF

_DESCRIPTION = "Corpus chrF (0-100) computed by sacrebleu (char order 6, beta 2, no word n-grams), with its signature."
_INPUTS = """
Args:
    predictions: system outputs, one string each.
    references: one reference string per prediction.
Returns:
    chrf: corpus chrF, 0-100.
    signature: sacrebleu's signature string.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class Chrf(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        if not references:
            raise ValueError("chrf needs at least one prediction and reference; got none")
        chrf = CHRF()
        return {"chrf": chrf.corpus_score(list(predictions), [list(references)]).score, "signature": str(chrf.get_signature())}
