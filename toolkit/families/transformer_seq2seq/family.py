"""The Transformer encoder-decoder (Vaswani et al. 2017), trained from scratch.

The model is transformers' own MarianMTModel built from a MarianConfig, chosen over BART because
it is the original Transformer: sinusoidal (not learned) positions, post-layer-norm blocks, no
extra embedding layer norm, and embeddings scaled by sqrt(d_model). It also allows a decoder
vocabulary of its own (``decoder_vocab_size``), which a recipe with ``tokenizer.per_side`` uses:
the encoder then embeds source-tokenizer ids and the decoder target-tokenizer ids, in separate
matrices. SDPA attention trains; eager attention is loaded when attention weights are asked for
(SDPA does not return them).
"""

from __future__ import annotations

from ...tasks.seq2seq_section import SPECIAL_TOKENS
from ..base import DROPOUT, NON_NEGATIVE, SIZE, ModelFamily

# Fields every size shares: Vaswani's sqrt(d_model) embedding scale, one embedding matrix for both
# sides (one tokenizer; per_side_config below separates them), and no forced end token
# (MarianConfig's default forces id 0, its own eos).
_TRANSFORMER = dict(scale_embedding=True, share_encoder_decoder_embeddings=True, forced_eos_token_id=None)

# tiny trains on a laptop CPU in minutes; base is the "base" Transformer of the paper (65M with
# its 37K shared vocabulary).
SIZES = {
    "tiny": dict(d_model=256, encoder_layers=3, decoder_layers=3, encoder_attention_heads=4,
                 decoder_attention_heads=4, encoder_ffn_dim=1024, decoder_ffn_dim=1024,
                 max_position_embeddings=256, **_TRANSFORMER),
    "base": dict(d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                 decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
                 max_position_embeddings=512, **_TRANSFORMER),
}


def build(config):
    """A randomly initialised Transformer (MarianMTModel) with SDPA attention."""
    from transformers import AutoModelForSeq2SeqLM

    return AutoModelForSeq2SeqLM.from_config(config, attn_implementation="sdpa")


FAMILY = ModelFamily(
    name="transformer_seq2seq",
    tasks=("seq2seq",),
    config_class_path="transformers.models.marian.configuration_marian:MarianConfig",
    sizes=SIZES,
    default_size="tiny",
    special_tokens=SPECIAL_TOKENS,
    build=build,
    positions_key="max_position_embeddings",
    # Decoding starts from the begin-of-sequence token (Marian's own checkpoints start from pad).
    token_id_fields={"decoder_start_token_id": "bos_token"},
    # tokenizer.per_side: the decoder embeds and predicts the target vocabulary, and the two sides
    # have no tokens in common, so their embeddings are separate matrices.
    target_vocab_key="decoder_vocab_size",
    per_side_config={"share_encoder_decoder_embeddings": False},
    fixed_config_keys=("vocab_size", "decoder_vocab_size", "bos_token_id", "eos_token_id", "pad_token_id",
                       "decoder_start_token_id"),
    model_types=("marian",),
    config_ranges={
        **dict.fromkeys(("d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads",
                         "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim",
                         "max_position_embeddings"), SIZE),
        **dict.fromkeys(("dropout", "attention_dropout", "activation_dropout", "encoder_layerdrop",
                         "decoder_layerdrop"), DROPOUT),
        "init_std": NON_NEGATIVE,
    },
    divisible=(("d_model", "encoder_attention_heads"), ("d_model", "decoder_attention_heads")),
    activation_keys=("activation_function",),
    lora_targets=("q_proj", "v_proj"),
    freeze_groups={  # regular expressions searched in parameter names
        "embeddings": r"^model\.(shared|encoder\.embed_tokens|decoder\.embed_tokens)\.",
        "encoder": r"^model\.encoder\.",
        "decoder": r"^model\.decoder\.",
        "attention": r"\.(self_attn|encoder_attn)\.",
    },
)
