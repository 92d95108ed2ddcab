"""The ``mlm:`` recipe section of BERT pretraining (task bert_pretrain), declared by the task in
``family.py`` and validated by ``toolkit.registry.check_recipe``; light (pydantic only), as the
recipe checker imports it."""

from __future__ import annotations

from pydantic import Field

from ...recipe import Section


class MlmSection(Section):
    """Masked-language-model settings of BERT pretraining (bert_pretrain)."""

    probability: float = Field(0.15, gt=0, lt=1, description="Share of tokens to predict (80/10/10 rule).")
    whole_word_mask: bool = Field(False, description="Mask whole words (jieba or the corpus's segmentation).")
    nsp_weight: float = Field(1.0, ge=0, description=(
        "Weight of the next-sentence loss in MLM + weight * NSP (1: BERT's plain sum; 0: MLM only)."))
