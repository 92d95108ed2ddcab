"""Corpus BLEU with sacrebleu (an offline `evaluate` module): Chinese text is scored with
sacrebleu's "zh" tokenizer (each Chinese character a token; other text tokenized as 13a), one
reference per prediction. The result carries sacrebleu's signature, which says how it was computed."""

import datasets
import evaluate
from sacrebleu.metrics import BLEU

_DESCRIPTION = "Corpus BLEU (0-100) computed by sacrebleu, tokenize='zh' unless asked otherwise, with its signature."
_INPUTS = """
Args:
    predictions: system outputs, one string each (detokenized text).
    references: one reference string per prediction.
    tokenize: sacrebleu tokenizer name (default "zh").
Returns:
    bleu: corpus BLEU, 0-100.
    precisions: the 1- to 4-gram precisions (0-100).
    brevity_penalty, length_ratio, prediction_length, reference_length.
    signature: sacrebleu's signature string (e.g. nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:2.6.0).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class Bleu(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, tokenize="zh"):
        if not references:
            raise ValueError("bleu needs at least one prediction and reference; got none")
        bleu = BLEU(tokenize=tokenize)
        score = bleu.corpus_score(list(predictions), [list(references)])
        return {
            "bleu": score.score,
            "precisions": list(score.precisions),
            "brevity_penalty": score.bp,
            "length_ratio": score.ratio,
            "prediction_length": score.sys_len,
            "reference_length": score.ref_len,
            "signature": str(bleu.get_signature()),
        }
