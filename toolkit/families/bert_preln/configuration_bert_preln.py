"""The configuration of the pre-LayerNorm BERT (``toolkit_bert_preln``).

In its own file, as transformers does: ``save_pretrained`` copies it, and ``config_fields_bert_preln.py``
it imports, into the model folder, so the folder loads with ``trust_remote_code=True`` without toolkit.
"""

from __future__ import annotations

from transformers import PreTrainedConfig

from .config_fields_bert_preln import check


class BertPreLNConfig(PreTrainedConfig):
    """BertConfig's fields for an encoder whose sublayers normalise their input (pre-LN) instead of
    their output. The masked-LM output is one linear layer over the residual stream (untied by
    default); the pooled first token and the token-classification states pass a final LayerNorm.
    ``classifier_pooling``: the sequence classifier reads the pooled [CLS] ("cls"), or the mean
    ("mean") or element-wise maximum ("max") of the token states."""

    model_type = "toolkit_bert_preln"

    vocab_size: int = 1024
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-5
    classifier_dropout: float | None = None
    classifier_pooling: str = "cls"
    tie_word_embeddings: bool = False
    pad_token_id: int | None = None

    def __post_init__(self, **kwargs):
        check(vars(self))
        super().__post_init__(**kwargs)
