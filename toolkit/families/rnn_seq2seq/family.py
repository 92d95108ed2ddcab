"""RNN encoder-decoder (seq2seq) with optional attention: GRU or LSTM, Bahdanau or Luong attention,
or none (the plain encoder-decoder, kept as the baseline).

The model lives in ``modeling_rnn_seq2seq.py`` with its configuration in
``configuration_rnn_seq2seq.py`` (both self-contained, copied into every saved folder so it loads
with ``trust_remote_code=True``); this file holds the named sizes, the builder and the registration
with transformers' Auto classes.
"""

from __future__ import annotations

from ...tasks.seq2seq_section import SPECIAL_TOKENS
from ..base import DROPOUT, NON_NEGATIVE, SIZE, Allowed, ModelFamily, register_model_type

# tiny trains in minutes on 2 CPU cores (1.4M parameters with a 2,000-token vocabulary per
# side); small is the GRU/LSTM size of Luong et al.'s smaller runs, for a GPU or a long CPU budget.
SIZES = {
    "tiny": dict(cell="gru", num_layers=1, hidden_size=256, embedding_size=128, bidirectional=True,
                 attention="luong_general"),
    "small": dict(cell="lstm", num_layers=2, hidden_size=512, embedding_size=256, bidirectional=True,
                  attention="luong_general"),
}


def register_auto_classes() -> None:
    """Let AutoConfig / AutoModelForSeq2SeqLM load folders of this model type (see register_model_type)."""
    from .configuration_rnn_seq2seq import RnnSeq2SeqConfig
    from .modeling_rnn_seq2seq import RnnSeq2SeqForConditionalGeneration

    register_model_type(RnnSeq2SeqConfig, {"AutoModelForSeq2SeqLM": RnnSeq2SeqForConditionalGeneration})


def build(config):
    """A randomly initialised encoder-decoder (RnnSeq2SeqForConditionalGeneration)."""
    from .modeling_rnn_seq2seq import RnnSeq2SeqForConditionalGeneration

    return RnnSeq2SeqForConditionalGeneration(config)


FAMILY = ModelFamily(
    name="rnn_seq2seq",
    tasks=("seq2seq",),
    config_class_path="toolkit.families.rnn_seq2seq.configuration_rnn_seq2seq:RnnSeq2SeqConfig",
    sizes=SIZES,
    default_size="tiny",
    special_tokens=SPECIAL_TOKENS,
    build=build,
    register_auto_classes=register_auto_classes,
    target_vocab_key="decoder_vocab_size",  # tokenizer.per_side: the decoder's embeddings and output layer
    fixed_config_keys=("vocab_size", "decoder_vocab_size", "bos_token_id", "eos_token_id", "pad_token_id",
                       "decoder_start_token_id"),
    model_types=("toolkit_rnn_seq2seq",),
    # The attention's and the output side's linear layers; the recurrent cells are not nn.Linear and
    # LoRA does not wrap them. luong_dot has no attention parameters, so only "combine" matches there.
    lora_targets=("query", "key", "energy", "combine"),
    freeze_groups={  # regular expressions searched in parameter names
        # decoder.embed_tokens is tied to lm_head (tie_word_embeddings): freezing embeddings freezes the output layer too.
        "embeddings": r"^(encoder|decoder)\.embed_tokens\.",
        "encoder": r"^encoder\.",
        "decoder": r"^(decoder\.(embed_tokens|cells|combine)\.|proj\.|lm_head\.)",
        "attention": r"^decoder\.attention\.",
    },
    config_ranges={
        **dict.fromkeys(("num_layers", "hidden_size", "embedding_size"), SIZE),
        "attention_size": Allowed(1, integer=True, optional=True),  # null: hidden_size
        "dropout": DROPOUT,
        **dict.fromkeys(("initializer_range", "embedding_init_std"), NON_NEGATIVE),
    },
)
