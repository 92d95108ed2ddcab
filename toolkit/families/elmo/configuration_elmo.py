"""The configuration of the ELMo biLM and its downstream heads.

In its own file, as transformers does (``configuration_<model>.py`` next to ``modeling_<model>.py``):
``save_pretrained`` copies it, and ``config_fields_elmo.py`` it imports, into the model folder, so
``AutoConfig.from_pretrained(folder, trust_remote_code=True)`` works without toolkit.
"""

from __future__ import annotations

from transformers import PreTrainedConfig

from .config_fields_elmo import check


class ElmoConfig(PreTrainedConfig):
    """embedding_size is the width of the token layer and of each direction's LSTM output;
    hidden_size the LSTM cell, projected down to embedding_size when larger (as in ELMo).

    Downstream fields: ``mix`` picks the layers the scalar mix combines (scalar: all of them,
    embedding: layer 0 only, top: the last LSTM layer only); ``bilm_from`` records the biLM folder a
    downstream model started from; ``head_hidden`` 0 means a linear head.
    """

    model_type = "toolkit_elmo"

    vocab_size: int = 1024
    embedding_size: int = 128
    hidden_size: int = 512
    num_layers: int = 2
    dropout: float = 0.1
    embedding_init_std: float = 0.5
    tie_word_embeddings: bool = True
    mix: str = "scalar"
    freeze_bilm: bool = True
    head_hidden: int = 128
    head_dropout: float = 0.2
    bilm_from: str | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    pad_token_id: int | None = None

    def __post_init__(self, **kwargs):
        check(vars(self))
        super().__post_init__(**kwargs)

    @property
    def mixed_layers(self) -> list[int]:
        """Indices of the layers (0 = embeddings) the downstream mix combines."""
        return {"scalar": list(range(self.num_layers + 1)), "embedding": [0], "top": [self.num_layers]}[self.mix]
