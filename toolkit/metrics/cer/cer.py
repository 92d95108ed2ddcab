"""Character error rate (an offline `evaluate` module): the Levenshtein distance (insertions,
deletions, substitutions of one character each) summed over the corpus, divided by the number of
reference characters. Strings are compared as given, character by character (Unicode code points),
so spaces count too: pass detokenized text. Distances come from rapidfuzz (C++)."""

import datasets
import evaluate
from rapidfuzz.distance import Levenshtein

_DESCRIPTION = "Corpus character error rate: total edit distance / total reference characters (0 is perfect; may exceed 1)."
_INPUTS = """
Args:
    predictions: system outputs, one string each.
    references: one reference string per prediction.
Returns:
    cer: total edits / total reference characters.
    edits: total edit distance.
    reference_chars: total reference characters.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class Cer(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        if not references:
            raise ValueError("cer needs at least one prediction and reference; got none")
        chars = sum(len(r) for r in references)
        if chars == 0:
            raise ValueError("cer is undefined when every reference is empty (0 reference characters)")
        edits = sum(Levenshtein.distance(p, r) for p, r in zip(predictions, references))
        return {"cer": edits / chars, "edits": edits, "reference_chars": chars}
