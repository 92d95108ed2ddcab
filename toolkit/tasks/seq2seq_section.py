"""The seq2seq task's light declarations (pydantic only, as the recipe checker and the families'
``family.py`` import them): its ``seq2seq:`` recipe section, the check of it against a family, and
the special tokens every seq2seq family's tokenizer holds."""

from __future__ import annotations

from pydantic import Field

from ..recipe import Section


# The seq2seq convention (fairseq, Marian, BART): the decoder starts from <s> and stops at </s>, two
# different tokens, and [PAD] differs from </s> so that padding the labels never hides the real end.
# One set for every seq2seq family, so one trained tokenizer serves them all; [UNK] is the unknown
# token the toolkit's tokenizers are built with.
SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
}


class Seq2SeqSection(Section):
    """Training settings of an encoder-decoder (task seq2seq)."""

    label_smoothing: float = Field(
        0.0, ge=0, lt=1, description="Share of each target's probability spread over the vocabulary in the "
        "training loss (0.1 in the Transformer paper); evaluation loss stays unsmoothed.")
    teacher_forcing_ratio: float = Field(
        1.0, ge=0, le=1, description="Chance that the decoder reads the true previous token rather than its own "
        "prediction at each training step (scheduled sampling); below 1 only for rnn_seq2seq, whose "
        "recurrent decoder reads its inputs one step at a time.")


# Families whose decoder reads one input token at a time in training, so it can read its own
# prediction instead (the Transformer and ConvS2S decoders read all target tokens at once).
SCHEDULED_SAMPLING_FAMILIES = ("rnn_seq2seq",)


def check_seq2seq(recipe, family) -> None:
    """The seq2seq section's settings that the recipe's family cannot train with, and model.config
    fields that a tokenizer per side rules out (Marian's embeddings shared between the sides)."""
    if recipe.tokenizer is not None and recipe.tokenizer.per_side:
        for key, value in family.per_side_config.items():
            given = recipe.model.config.get(key, value)
            if given != value:
                given, value = (str(v).lower() if isinstance(v, bool) else v for v in (given, value))
                raise ValueError(f"model.config.{key}: {given} does not fit tokenizer.per_side (the sides have "
                                 f"vocabularies of their own, so {key} must be {value}); remove it from the recipe")
    ratio = recipe.seq2seq.teacher_forcing_ratio
    if ratio < 1 and family.name not in SCHEDULED_SAMPLING_FAMILIES:
        raise ValueError(f"seq2seq.teacher_forcing_ratio {ratio:g} (scheduled sampling) needs a decoder that reads "
                         f"its inputs one step at a time: family {', '.join(SCHEDULED_SAMPLING_FAMILIES)}, not "
                         f"{family.name}; leave it at 1")
