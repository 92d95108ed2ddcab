"""Masked-language-model batches: dynamic masking with the BERT 80/10/10 rule, optionally over
whole Chinese words.

transformers' DataCollatorForLanguageModeling(whole_word_mask=True) finds words from offsets, so
for Chinese (no spaces) it treats a whole run of characters as one word. Here every example
carries ``word_ids`` (the word each token belongs to, from jieba or a segmented corpus; -1 for
special tokens), and whole-word masking picks words, never parts of words, until about
``probability`` of the tokens are chosen.
"""

from __future__ import annotations

import torch

from ...tasks.base import IGNORE


class MaskingCollator:
    """Pads a batch to its longest example and masks it afresh each time it is called (so every
    epoch sees new masks). ``seed`` makes the masks a function of the batch (for evaluation)."""

    def __init__(self, tokenizer, probability: float = 0.15, whole_word: bool = False, seed: int | None = None):
        self.pad_id = tokenizer.pad_token_id
        self.mask_id = tokenizer.mask_token_id
        self.probability = probability
        self.whole_word = whole_word
        self.seed = seed
        never = set(tokenizer.all_special_ids) | {i for t, i in tokenizer.get_vocab().items() if t.startswith("[unused")}
        self.random_ids = torch.tensor(sorted(set(range(len(tokenizer))) - never))

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(row["input_ids"]) for row in rows)

        def pad(key, value):
            return torch.tensor([list(row[key]) + [value] * (width - len(row[key])) for row in rows])

        batch = {"input_ids": pad("input_ids", self.pad_id), "attention_mask": pad("attention_mask", 0)}
        if "token_type_ids" in rows[0]:
            batch["token_type_ids"] = pad("token_type_ids", 0)
        if "next_sentence_label" in rows[0]:
            batch["next_sentence_label"] = torch.tensor([row["next_sentence_label"] for row in rows])
        word_ids = pad("word_ids", -1)
        generator = None
        if self.seed is not None:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + int(batch["input_ids"].sum()))
        batch["input_ids"], batch["labels"] = self.mask(batch["input_ids"], word_ids, generator)
        return batch

    def choose(self, word_ids: torch.Tensor, generator=None) -> torch.Tensor:
        """Boolean mask of the positions to predict in one example."""
        positions = (word_ids >= 0).nonzero().flatten().tolist()
        chosen = torch.zeros_like(word_ids, dtype=torch.bool)
        if not positions:
            return chosen
        budget = max(1, round(len(positions) * self.probability))
        if self.whole_word:
            units: dict[int, list[int]] = {}
            for position in positions:
                units.setdefault(int(word_ids[position]), []).append(position)
            candidates = list(units.values())
        else:
            candidates = [[position] for position in positions]
        picked = 0
        for index in torch.randperm(len(candidates), generator=generator).tolist():
            unit = candidates[index]
            if picked >= budget:
                break
            if picked + len(unit) > budget and picked > 0:
                continue  # a whole word would overshoot the budget: try a shorter one
            chosen[unit] = True
            picked += len(unit)
        return chosen

    def mask(self, input_ids: torch.Tensor, word_ids: torch.Tensor, generator=None):
        """(masked inputs, labels): of the chosen tokens 80% become [MASK], 10% a random token and
        10% stay; labels are the original ids there and -100 elsewhere."""
        chosen = torch.stack([self.choose(row, generator) for row in word_ids])
        labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE))
        draw = torch.rand(input_ids.shape, generator=generator)
        masked = input_ids.clone()
        masked[chosen & (draw < 0.8)] = self.mask_id
        swap = chosen & (draw >= 0.8) & (draw < 0.9)
        picks = torch.randint(len(self.random_ids), (int(swap.sum()),), generator=generator)
        masked[swap] = self.random_ids[picks]
        return masked, labels
