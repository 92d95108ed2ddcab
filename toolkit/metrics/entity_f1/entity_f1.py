"""Entity-level precision, recall and F1 for BIO or BIOES tag sequences (an offline `evaluate`
module): an entity counts only when its span and type match exactly, as in conlleval; spans are
read as seqeval's default mode reads them (toolkit.data.ner.entity_spans)."""

import datasets
import evaluate

from toolkit.data.ner import entity_f1

_DESCRIPTION = "Micro precision/recall/F1 over exact (start, end, type) entity spans of BIO or BIOES sequences."
_INPUTS = """
Args:
    predictions: predicted tag sequences (lists of strings such as B-PER, I-PER, E-PER, S-LOC, O).
    references: gold tag sequences, in the same scheme.
Returns:
    precision, recall, f1.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class EntityF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_INPUTS,
            features=datasets.Features({
                "predictions": datasets.Sequence(datasets.Value("string")),
                "references": datasets.Sequence(datasets.Value("string")),
            }),
        )

    def _compute(self, predictions, references):
        return entity_f1(references, predictions)
