"""RNN, LSTM and GRU language models: the family the causal_lm task trains like GPT-2.

The model itself lives in ``modeling_rnn_lm.py`` and its config in ``configuration_rnn_lm.py``
(self-contained, copied into every saved folder so it loads with ``trust_remote_code=True``); the
config's fields as plain data, which the recipe checker reads without torch, in
``config_fields_rnn_lm.py``. This file holds the named sizes, the builder and the registration with
transformers' Auto classes.
"""

from __future__ import annotations

from ..base import DROPOUT, NON_NEGATIVE, SIZE, Allowed, DeclaredConfig, ModelFamily, register_model_type
from . import config_fields_rnn_lm

# Named sizes. tiny matches the GPT-2 tiny recipe's training budget on a laptop CPU.
SIZES = {
    "tiny": dict(cell="lstm", num_layers=2, hidden_size=256),
    "small": dict(cell="lstm", num_layers=2, hidden_size=650),  # the "medium" LSTM of Zaremba et al.
}

SPECIAL_TOKENS = {
    "bos_token": "<|endoftext|>",
    "eos_token": "<|endoftext|>",
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
}


def register_auto_classes() -> None:
    """Let AutoConfig / AutoModelForCausalLM (and pipelines) load folders of this model type (see
    register_model_type)."""
    from .configuration_rnn_lm import RnnLMConfig
    from .modeling_rnn_lm import RnnLMForCausalLM

    register_model_type(RnnLMConfig, {"AutoModelForCausalLM": RnnLMForCausalLM})


def build(config):
    """A randomly initialised recurrent language model (RnnLMForCausalLM)."""
    from .modeling_rnn_lm import RnnLMForCausalLM

    return RnnLMForCausalLM(config)


FAMILY = ModelFamily(
    name="rnn_lm",
    tasks=("causal_lm",),
    config_class_path="toolkit.families.rnn_lm.configuration_rnn_lm:RnnLMConfig",
    declared_config=DeclaredConfig.of(config_fields_rnn_lm),
    sizes=SIZES,
    default_size="tiny",
    special_tokens=SPECIAL_TOKENS,
    build=build,
    register_auto_classes=register_auto_classes,
    fixed_config_keys=("vocab_size", "bos_token_id", "eos_token_id", "pad_token_id"),
    model_types=("toolkit_rnn_lm",),
    config_ranges={
        **dict.fromkeys(("num_layers", "hidden_size"), SIZE),
        "embedding_size": Allowed(1, integer=True, optional=True),  # null: hidden_size
        "dropout": DROPOUT,
        **dict.fromkeys(("initializer_range", "embedding_init_std"), NON_NEGATIVE),
    },
)
