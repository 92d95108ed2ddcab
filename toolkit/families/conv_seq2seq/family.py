"""ConvS2S (Gehring et al. 2017): the convolutional encoder-decoder the seq2seq task trains.

The model lives in ``modeling_conv_seq2seq.py`` and its configuration in
``configuration_conv_seq2seq.py`` (both self-contained, copied into every saved folder so it loads
with ``trust_remote_code=True``); this file holds the named sizes, the builder and the registration
with transformers' Auto classes.
"""

from __future__ import annotations

from ...tasks.seq2seq_section import SPECIAL_TOKENS
from ..base import DROPOUT, NON_NEGATIVE, SIZE, Allowed, ModelFamily, register_model_type

# Named sizes. small is fairseq's fconv_iwslt_de_en (256-wide embeddings and convolutions, 4 encoder
# and 3 decoder layers of width 3); tiny halves the widths so a few hundred steps fit in minutes on a laptop CPU.
SIZES = {
    "tiny": dict(embedding_size=128, hidden_size=128, encoder_layers=4, decoder_layers=3,
                 encoder_kernel_size=3, decoder_kernel_size=3, max_position_embeddings=128),
    "small": dict(embedding_size=256, hidden_size=256, encoder_layers=4, decoder_layers=3,
                  encoder_kernel_size=3, decoder_kernel_size=3, max_position_embeddings=256),
}


def register_auto_classes() -> None:
    """Let AutoConfig / AutoModelForSeq2SeqLM load folders of this model type (see register_model_type)."""
    from .modeling_conv_seq2seq import ConvSeq2SeqConfig, ConvSeq2SeqForConditionalGeneration

    register_model_type(ConvSeq2SeqConfig, {"AutoModelForSeq2SeqLM": ConvSeq2SeqForConditionalGeneration})


def build(config):
    """A randomly initialised ConvS2S model (ConvSeq2SeqForConditionalGeneration)."""
    from .modeling_conv_seq2seq import ConvSeq2SeqForConditionalGeneration

    return ConvSeq2SeqForConditionalGeneration(config)


FAMILY = ModelFamily(
    name="conv_seq2seq",
    tasks=("seq2seq",),
    config_class_path="toolkit.families.conv_seq2seq.configuration_conv_seq2seq:ConvSeq2SeqConfig",
    sizes=SIZES,
    default_size="tiny",
    special_tokens=SPECIAL_TOKENS,
    build=build,
    register_auto_classes=register_auto_classes,
    positions_key="max_position_embeddings",
    target_vocab_key="decoder_vocab_size",  # tokenizer.per_side: the decoder's embeddings and output layer
    fixed_config_keys=("vocab_size", "decoder_vocab_size", "bos_token_id", "eos_token_id", "pad_token_id",
                       "decoder_start_token_id"),
    model_types=("toolkit_conv_seq2seq",),
    config_ranges={
        **dict.fromkeys(("embedding_size", "hidden_size", "encoder_layers", "decoder_layers", "encoder_kernel_size",
                         "decoder_kernel_size", "max_position_embeddings"), SIZE),
        "decoder_output_size": Allowed(1, integer=True, optional=True),  # null: embedding_size
        "dropout": DROPOUT,
        "embedding_init_std": NON_NEGATIVE,
    },
    # The attention projections and the projections into and out of the convolution width (the
    # convolutions themselves sit in ModuleLists, whose numbered names a module-name list cannot pick
    # out as a group; give peft.target_modules to adapt them).
    lora_targets=("in_projection", "out_projection", "input_projection", "output_projection"),
    freeze_groups={  # regular expressions searched in parameter names
        # The target embeddings are tied to lm_head by default: freezing embeddings freezes the softmax too.
        "embeddings": r"\.embed_(tokens|positions)\.",
        "encoder": r"^encoder\.",
        "decoder": r"^decoder\.",
        "attention": r"^decoder\.attentions\.",
    },
)
