"""The configuration of the recurrent (RNN / LSTM / GRU) causal language model.

In its own file, as transformers does (``configuration_<model>.py`` next to ``modeling_<model>.py``):
``save_pretrained`` copies it, and ``config_fields_rnn_lm.py`` it imports, into the model folder,
so ``AutoConfig.from_pretrained(folder, trust_remote_code=True)`` works without toolkit.
"""

from __future__ import annotations

from transformers import PreTrainedConfig

from .config_fields_rnn_lm import check


class RnnLMConfig(PreTrainedConfig):
    """cell: rnn (tanh Elman), lstm or gru; embedding_size defaults to hidden_size. With tied
    embeddings and embedding_size != hidden_size the top layer is projected to embedding_size.

    Initialisation: token embeddings ~ N(0, embedding_init_std), linear layers ~ U(+-initializer_range),
    recurrent weights ~ U(+-1/sqrt(hidden_size)) (PyTorch's own default)."""

    model_type = "toolkit_rnn_lm"

    vocab_size: int = 1024
    cell: str = "lstm"
    num_layers: int = 2
    hidden_size: int = 256
    embedding_size: int | None = None
    dropout: float = 0.1
    initializer_range: float = 0.1
    embedding_init_std: float = 0.5
    tie_word_embeddings: bool = True
    use_cache: bool = True
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    pad_token_id: int | None = None

    def __post_init__(self, **kwargs):
        check(vars(self))
        if self.embedding_size is None:
            self.embedding_size = self.hidden_size
        super().__post_init__(**kwargs)
