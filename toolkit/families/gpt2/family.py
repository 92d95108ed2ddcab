"""GPT-2, trained from scratch (transformers' GPT2LMHeadModel with SDPA attention)."""

from __future__ import annotations

from ..base import DROPOUT, NON_NEGATIVE, POSITIVE, SIZE, Allowed, ModelFamily

# Named sizes. tiny trains on a laptop CPU in minutes; small is the 124M model of the GPT-2 paper.
SIZES = {
    "tiny": dict(n_layer=4, n_head=4, n_embd=256, n_positions=512),
    "small": dict(n_layer=12, n_head=12, n_embd=768, n_positions=1024),
}

SPECIAL_TOKENS = {
    "bos_token": "<|endoftext|>",
    "eos_token": "<|endoftext|>",
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
}


def build(config):
    """A randomly initialised GPT-2 language model using PyTorch's fused SDPA attention."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")


def prepare(model):
    """transformers infers the loss from the class name, which "GPT2LMHeadModel" does not match,
    and warns on the first batch; it is the ordinary causal-LM loss."""
    model.loss_type = "ForCausalLM"
    return model


FAMILY = ModelFamily(
    name="gpt2",
    tasks=("causal_lm",),
    config_class_path="transformers.models.gpt2.configuration_gpt2:GPT2Config",
    sizes=SIZES,
    default_size="tiny",
    special_tokens=SPECIAL_TOKENS,
    build=build,
    prepare=prepare,
    positions_key="n_positions",
    fixed_config_keys=("vocab_size", "bos_token_id", "eos_token_id", "pad_token_id"),
    model_types=("gpt2",),
    config_ranges={
        **dict.fromkeys(("n_layer", "n_head", "n_embd", "n_positions"), SIZE),
        "n_inner": Allowed(1, integer=True, optional=True),  # null: 4 * n_embd
        **dict.fromkeys(("resid_pdrop", "embd_pdrop", "attn_pdrop", "summary_first_dropout"), DROPOUT),
        "layer_norm_epsilon": POSITIVE,
        "initializer_range": NON_NEGATIVE,
    },
    divisible=(("n_embd", "n_head"),),
    activation_keys=("activation_function",),
    lora_targets=("c_attn", "c_proj", "c_fc"),
    lora_options={"fan_in_fan_out": True},  # GPT-2 stores its projections as Conv1D (in, out)
    freeze_groups={  # regular expressions searched in parameter names
        # wte is tied to lm_head: freezing embeddings freezes the output layer too.
        "embeddings": r"^transformer\.(wte|wpe)\.",
        "attention": r"\.attn\.",
        "mlp": r"\.mlp\.",
        "layer_norms": r"(^transformer\.ln_f\.|\.ln_\d\.)",
    },
)
