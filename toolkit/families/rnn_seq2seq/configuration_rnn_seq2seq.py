"""Configuration of the recurrent encoder-decoder (``toolkit_rnn_seq2seq``).

Self-contained (transformers only): ``save_pretrained`` copies this file next to
``modeling_rnn_seq2seq.py`` into every saved folder, so the folder loads without toolkit.
"""

from __future__ import annotations

from transformers import PreTrainedConfig

CELLS = ("gru", "lstm")
ATTENTIONS = ("none", "bahdanau", "luong_dot", "luong_general", "luong_concat")


class RnnSeq2SeqConfig(PreTrainedConfig):
    """A GRU or LSTM encoder-decoder, with or without attention.

    - ``vocab_size``: the source vocabulary (and the target one too unless ``decoder_vocab_size`` is
      set: one tokenizer for both sides); ``decoder_vocab_size``: the target vocabulary of a second
      tokenizer. Both tokenizers must give the special tokens the same ids (the ids below are shared).
    - ``cell``: gru or lstm, in the encoder and the decoder; both have ``num_layers`` layers of
      ``hidden_size``. A ``bidirectional`` encoder gives each direction hidden_size / 2 units and
      concatenates them (as OpenNMT does), so every encoder output and final state is hidden_size
      wide and the decoder starts from the encoder's final state layer by layer, with no bridge.
    - ``attention``: none (the plain encoder-decoder: the context is the encoder's last state, fed to
      every decoder step), bahdanau (additive, queried with the previous decoder state, context fed
      into the RNN), luong_dot / luong_general / luong_concat (queried with the current decoder state,
      context combined after the RNN). ``attention_size`` is the width of the additive scores
      (bahdanau, luong_concat); null: hidden_size.
    - ``input_feeding`` (Luong et al. 2015, section 3.3): feed the previous attentional vector into
      the decoder RNN. null: on for the luong_* attentions; it only exists for them.
    - ``tie_word_embeddings``: the output layer shares the decoder's token embeddings.
    - ``decoder_start_token_id``: the first decoder input (labels are shifted right behind it); null:
      ``bos_token_id``.

    Initialisation: token embeddings ~ N(0, embedding_init_std), linear layers ~ U(+-initializer_range),
    recurrent weights ~ U(+-1/sqrt(hidden)) (PyTorch's own default), LSTM forget-gate bias 1.
    """

    model_type = "toolkit_rnn_seq2seq"

    vocab_size: int = 1024
    decoder_vocab_size: int | None = None
    cell: str = "gru"
    num_layers: int = 1
    hidden_size: int = 256
    embedding_size: int = 128
    bidirectional: bool = True
    attention: str = "luong_general"
    attention_size: int | None = None
    input_feeding: bool | None = None
    dropout: float = 0.1
    initializer_range: float = 0.1
    embedding_init_std: float = 0.5
    tie_word_embeddings: bool = True
    use_cache: bool = True
    is_encoder_decoder: bool = True
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    pad_token_id: int | None = None
    decoder_start_token_id: int | None = None

    def __post_init__(self, **kwargs):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got '{self.cell}'")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got '{self.attention}'")
        if self.bidirectional and self.hidden_size % 2:
            raise ValueError(
                f"a bidirectional encoder splits hidden_size between its two directions: hidden_size must be even, "
                f"got {self.hidden_size}"
            )
        luong = self.attention.startswith("luong")
        if self.input_feeding is None:
            self.input_feeding = luong
        elif self.input_feeding and not luong:
            raise ValueError(
                f"input_feeding is part of Luong attention (luong_dot, luong_general, luong_concat); attention "
                f"'{self.attention}' already feeds its context into the decoder RNN: set input_feeding to false or null"
            )
        if self.decoder_vocab_size is None:
            self.decoder_vocab_size = self.vocab_size
        if self.attention_size is None:
            self.attention_size = self.hidden_size
        if self.decoder_start_token_id is None:
            self.decoder_start_token_id = self.bos_token_id
        super().__post_init__(**kwargs)
