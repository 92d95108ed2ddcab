"""Configuration of the convolutional sequence-to-sequence model (ConvS2S, Gehring et al. 2017).

Self-contained (transformers only): ``save_pretrained`` copies it next to the modeling file into
every model folder, so the folder loads without toolkit.
"""

from __future__ import annotations

from transformers import PreTrainedConfig


class ConvSeq2SeqConfig(PreTrainedConfig):
    """ConvS2S: ``encoder_layers`` / ``decoder_layers`` gated convolutions of ``hidden_size`` channels
    and kernel widths ``encoder_kernel_size`` / ``decoder_kernel_size`` over ``embedding_size``-wide
    token + learned position embeddings; one attention per decoder layer.

    Vocabularies follow Marian: ``vocab_size`` is the source side (and the target side too when one
    tokenizer serves both), ``decoder_vocab_size`` the target side when it has its own tokenizer.
    ``decoder_output_size`` is the width the decoder projects to before the softmax (defaults to
    ``embedding_size``; with ``tie_word_embeddings`` it must equal it, as the softmax then reuses the
    target embeddings). ``decoder_start_token_id`` defaults to ``bos_token_id``.

    Initialisation (fairseq's, without its weight normalisation): embeddings ~ N(0, embedding_init_std),
    linear layers ~ N(0, sqrt(1/fan_in)), convolutions ~ N(0, sqrt(4 (1 - dropout) / (kernel * fan_in)))
    (the 4 makes up for GLU halving the variance), biases zero.
    """

    model_type = "toolkit_conv_seq2seq"
    attribute_map = {"num_hidden_layers": "decoder_layers"}

    vocab_size: int = 1024
    decoder_vocab_size: int | None = None
    embedding_size: int = 256
    hidden_size: int = 256
    encoder_layers: int = 4
    decoder_layers: int = 3
    encoder_kernel_size: int = 3
    decoder_kernel_size: int = 3
    decoder_output_size: int | None = None
    max_position_embeddings: int = 256
    dropout: float = 0.1
    embedding_init_std: float = 0.1
    tie_word_embeddings: bool = True
    use_cache: bool = True
    is_encoder_decoder: bool = True
    decoder_start_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    pad_token_id: int | None = None

    def __post_init__(self, **kwargs):
        if self.decoder_vocab_size is None:
            self.decoder_vocab_size = self.vocab_size
        if self.decoder_output_size is None:
            self.decoder_output_size = self.embedding_size
        if self.decoder_start_token_id is None:
            self.decoder_start_token_id = self.bos_token_id
        for name in ("encoder_layers", "decoder_layers", "encoder_kernel_size", "decoder_kernel_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.tie_word_embeddings and self.decoder_output_size != self.embedding_size:
            raise ValueError(
                f"tie_word_embeddings reuses the target embeddings as the softmax weights, so decoder_output_size "
                f"({self.decoder_output_size}) must equal embedding_size ({self.embedding_size}); set one to the "
                "other or set tie_word_embeddings to false"
            )
        super().__post_init__(**kwargs)
