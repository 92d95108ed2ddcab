"""Text generation shared by eval-time samples, `toolkit generate` and the saved generation config."""

from __future__ import annotations

import torch
from transformers import GenerationConfig

from .recipe import GenerationSection
from .tokenization import unused_token_ids


def generation_config(tokenizer, settings: GenerationSection) -> GenerationConfig:
    """Saved next to the weights so plain `pipeline("text-generation")` samples the same way and
    never emits padding-only tokens ([PAD], [unused N])."""
    never = sorted({*unused_token_ids(tokenizer), tokenizer.pad_token_id} - {None})
    return GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        suppress_tokens=never or None,
        do_sample=settings.do_sample,
        top_k=settings.top_k,
        top_p=settings.top_p,
        temperature=settings.temperature,
        repetition_penalty=settings.repetition_penalty,
        max_new_tokens=settings.max_new_tokens,
    )


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
        encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        if encoded["input_ids"].shape[1] == 0:  # an empty prompt starts from the start token
            encoded = {"input_ids": torch.tensor([[tokenizer.bos_token_id]]), "attention_mask": torch.ones(1, 1, dtype=torch.long)}
        encoded = {k: v.to(model.device) for k, v in encoded.items()}
        generated = model.generate(**encoded, generation_config=config)
        outputs.append(tokenizer.decode(generated[0], skip_special_tokens=True))
    model.train(was_training)
    return outputs
