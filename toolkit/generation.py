"""Text generation shared by eval-time samples, `toolkit generate` and the saved generation config."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import torch
from pydantic import ValidationError
from transformers import GenerationConfig

from .errors import ToolkitError
from .recipe import GenerationSection
from .tokenization import unused_token_ids

# Settings that only shape sampling: greedy decoding ignores them.
SAMPLING_SETTINGS = ("top_k", "top_p", "temperature")


def checked_settings(values: dict, name: Callable[[str], str] = str) -> GenerationSection:
    """Generation settings as a GenerationSection, or one paragraph naming the first bad setting
    (``name`` turns a field into what the user typed, e.g. ``--top-p``) and what it allows.
    NaN and infinity are refused too: a NaN temperature would sample garbage without a word.
    Greedy decoding (do_sample false) drops the sampling settings, which do not apply to it."""
    if values.get("do_sample") is False:
        values = {key: value for key, value in values.items() if key not in SAMPLING_SETTINGS}
    for key, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ToolkitError(f"{name(key)} {value} is not allowed: it must be {_allowed(key)}.")
    try:
        return GenerationSection(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0])
        if key not in GenerationSection.model_fields:  # a misspelt keyword of the Python API
            raise ToolkitError(f"{name(key)} is not a generation setting; the settings are "
                               f"{', '.join(GenerationSection.model_fields)}.") from None
        raise ToolkitError(f"{name(key)} {error.get('input')} is not allowed: it must be {_allowed(key)}.") from None


def _allowed(key: str) -> str:
    """What a generation setting allows, from GenerationSection's own constraints:
    'a finite number > 0 and <= 1 (default 0.95)'."""
    field = GenerationSection.model_fields[key]
    kind = {int: "a whole number", float: "a finite number", bool: "true or false"}.get(field.annotation, "a value")
    bounds = [f"{word} {getattr(rule, attr)}" for rule in field.metadata
              for attr, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
              if getattr(rule, attr, None) is not None]
    return " ".join([kind, " and ".join(bounds)]).strip() + f" (default {field.default})"


def generation_config(tokenizer, settings: GenerationSection, **fields) -> GenerationConfig:
    """Saved next to the weights so plain `pipeline("text-generation")` (or text2text-generation)
    decodes the same way and never emits padding-only tokens ([PAD], [unused N]). ``fields`` are
    more GenerationConfig fields (an encoder-decoder's decoder_start_token_id)."""
    never = sorted({*unused_token_ids(tokenizer), tokenizer.pad_token_id} - {None})
    # Sampling knobs only when sampling, beam knobs only with beams: unused ones make transformers warn.
    sampling = {key: getattr(settings, key) for key in SAMPLING_SETTINGS} if settings.do_sample else {}
    if settings.num_beams > 1:
        fields.update(num_beams=settings.num_beams, length_penalty=settings.length_penalty)
    if settings.no_repeat_ngram_size:
        fields["no_repeat_ngram_size"] = settings.no_repeat_ngram_size
    return GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        suppress_tokens=never or None,
        do_sample=settings.do_sample,
        repetition_penalty=settings.repetition_penalty,
        max_new_tokens=settings.max_new_tokens,
        **sampling,
        **fields,
    )


def context_length(model) -> int | None:
    """The longest sequence the model takes (prompt plus new tokens); None for models without
    position embeddings (rnn_lm), which take any length."""
    return getattr(model.config, "max_position_embeddings", None)


def fit_to_context(prompt_tokens: int, new_tokens: int, context: int | None) -> tuple[int, int]:
    """(prompt tokens kept, new tokens) that fit the context together. The continuation gets what
    was asked when the prompt leaves room; otherwise the prompt keeps its last tokens, at most
    half the context when more new tokens were asked for, and the continuation the rest."""
    if context is None or prompt_tokens + new_tokens <= context:
        return prompt_tokens, new_tokens
    kept = min(prompt_tokens, max(context - new_tokens, context // 2))
    return kept, context - kept


def unknown_characters(tokenizer, text: str, split_special_tokens: bool = True) -> list[str]:
    """Characters of ``text`` that the tokenizer maps to its unknown token or drops, in order of
    first appearance (spaces aside): they cannot come back in the decoded output. With
    ``split_special_tokens`` (how prompts are encoded) a typed [PAD] or <|endoftext|> is plain text."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                        split_special_tokens=split_special_tokens)
    covered = [False] * len(text)
    lost = set()
    for token, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"]):
        for i in range(start, end):
            covered[i] = True
            if token == tokenizer.unk_token_id:
                lost.add(i)
    lost |= {i for i, seen in enumerate(covered) if not seen and not text[i].isspace()}
    return list(dict.fromkeys(text[i] for i in sorted(lost)))


def unknown_characters_note(tokenizer, text: str, consequence: str, split_special_tokens: bool = True) -> str | None:
    """'the tokenizer does not know '😀' (mapped to [UNK]), so CONSEQUENCE', or None when it knows
    every character (or, being a slow tokenizer, cannot say)."""
    unknown = unknown_characters(tokenizer, text, split_special_tokens) if tokenizer.is_fast else []
    if not unknown:
        return None
    return (f"the tokenizer does not know {', '.join(repr(c) for c in unknown)} (mapped to "
            f"{tokenizer.unk_token or 'nothing'}), so {consequence}.")


def _notice(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def _encode_prompt(model, tokenizer, prompt: str, max_new_tokens: int) -> tuple[dict, int]:
    """The prompt's token ids (cut from the left to fit the context, with a notice) and how
    many new tokens fit after it."""
    unknown = unknown_characters_note(tokenizer, prompt, "they are missing from the printed text")
    if unknown:
        _notice(unknown)
    # What the user typed is text: a typed [PAD] or <|endoftext|> is not the special token, which
    # decoding would drop from the printed text without a word.
    ids = tokenizer(prompt, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    if not ids:  # an empty prompt starts from the start token
        ids = [tokenizer.bos_token_id]
    context = context_length(model)
    kept, new_tokens = fit_to_context(len(ids), max_new_tokens, context)
    if kept < len(ids):
        _notice(f"the prompt has {len(ids)} tokens and the model takes {context} in all: generating "
                f"from its last {kept} tokens.")
    if new_tokens < max_new_tokens:
        _notice(f"max_new_tokens {max_new_tokens} does not fit the model's context of {context} tokens "
                f"after a {kept}-token prompt: generating {new_tokens}.")
    input_ids = torch.tensor([ids[len(ids) - kept:]], device=model.device)
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}, new_tokens


@torch.no_grad()
def generate_text(model, tokenizer, prompts: list[str], settings: GenerationSection, seed: int | None = None) -> list[str]:
    """Continue each prompt; returns prompt + continuation as text."""
    if seed is not None:
        torch.manual_seed(seed)
    was_training = model.training
    model.eval()
    config = generation_config(tokenizer, settings)
    outputs = []
    for prompt in prompts:
        encoded, config.max_new_tokens = _encode_prompt(model, tokenizer, prompt, settings.max_new_tokens)
        generated = model.generate(**encoded, generation_config=config)
        outputs.append(tokenizer.decode(generated[0], skip_special_tokens=True))
    model.train(was_training)
    return outputs
