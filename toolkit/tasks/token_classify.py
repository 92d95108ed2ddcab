"""Token classification on characters: named entities, part of speech or word segmentation.

Reads the ``pos_tags`` view (words and their PKU tags), derives character tags for
``data.tags`` (toolkit.data.char_tags), cuts long rows into pieces that fit ``data.block_size``
with the tokenizer's special tokens ([CLS] and [SEP] for BERT, none for ELMo's characters), aligns
the tags to tokens (special tokens and extra sub-tokens are ignored) and fine-tunes an encoder
with a token-classification head. Metrics: entity-level precision, recall and F1 for NER; token
accuracy for all schemes.
"""

from __future__ import annotations

import torch

from ..data.char_tags import FIXED_LABELS, TAGGERS
from ..data.ner import chunks
from .base import IGNORE, TorchTask, fixed_view
from .gathering import gather_rows, row_losses

USAGE = """
from transformers import pipeline

tagger = pipeline("token-classification", model="{model}")
print(tagger("江泽民在北京会见了联合国秘书长"))
"""
HEADLINES = {"ner": ("f1", "precision", "recall", "accuracy"), "pos": ("accuracy",), "cws": ("accuracy",)}


def tag_rows(rows, scheme: str, max_chars: int):
    """(chars, tags) rows, long rows cut into pieces that never split an entity where avoidable."""
    tagger = TAGGERS[scheme]

    def derive(batch):
        out = {"chars": [], "tags": []}
        for words, pos in zip(batch["words"], batch["pos"]):
            for chars, tags in chunks(*tagger(words, pos), max_chars):
                out["chars"].append(chars)
                out["tags"].append(tags)
        return out

    return rows.map(derive, batched=True, remove_columns=rows.column_names, desc=f"{scheme} tags")


def label_list(recipe, card, train_rows) -> list[str]:
    """The scheme's fixed labels (NER, segmentation), else every tag of the training split (POS)."""
    scheme = recipe.data.tags
    if scheme in FIXED_LABELS:
        return FIXED_LABELS[scheme]
    tagger = TAGGERS[scheme]
    return sorted({tag for words, pos in zip(train_rows["words"], train_rows["pos"]) for tag in tagger(words, pos)[1]})


def encode(rows, tokenizer, recipe, labels: list[str]):
    """Token ids with each character's label on its first token (-100 on the rest)."""
    max_length = recipe.data.block_size
    tagged = tag_rows(rows, recipe.data.tags, max_length - tokenizer.num_special_tokens_to_add(pair=False))
    index = {label: i for i, label in enumerate(labels)}

    def align(batch):
        encoded = tokenizer(batch["chars"], is_split_into_words=True, truncation=True, max_length=max_length)
        encoded["labels"] = []
        for row, tags in enumerate(batch["tags"]):
            previous, aligned = None, []
            for char in encoded.word_ids(row):
                first = char is not None and char != previous
                aligned.append(index.get(tags[char], index.get("O", 0)) if first else IGNORE)
                previous = char
            encoded["labels"].append(aligned)
        return encoded

    return tagged.map(align, batched=True, remove_columns=tagged.column_names, desc="align tags")


def joined_words(rows):
    """The text of each row, for training a tokenizer."""
    return rows.map(lambda row: {"text": "".join(row["words"])}, remove_columns=rows.column_names)


def collate(tokenizer, recipe, for_eval: bool):
    from transformers import DataCollatorForTokenClassification

    return DataCollatorForTokenClassification(tokenizer)


def score_tagger(accelerator, model, batches, recipe, labels: list[str], tokenizer) -> dict:
    from ..metrics import load_metric

    gold, predicted, losses, counts = [], [], [], []
    for batch in batches:
        out = model(**batch)
        loss_sums, scored = row_losses(out.logits, batch["labels"])
        losses.append(gather_rows(accelerator, loss_sums))
        counts.append(gather_rows(accelerator, scored))
        guesses = gather_rows(accelerator, out.logits.argmax(-1), pad=IGNORE)
        answers = gather_rows(accelerator, batch["labels"], pad=IGNORE)
        for guess, answer in zip(guesses.tolist(), answers.tolist()):
            kept = [(g, a) for g, a in zip(guess, answer) if a != IGNORE]
            gold.append([labels[a] for _, a in kept])
            predicted.append([labels[g] for g, _ in kept])
    result = {"loss": (torch.cat(losses).sum() / torch.cat(counts).sum().clamp(min=1)).item()}  # per tagged character
    if recipe.data.tags == "ner":
        result.update(load_metric("entity_f1").compute(predictions=predicted, references=gold))
    ids = {label: i for i, label in enumerate(labels)}
    flat_gold = [ids[t] for row in gold for t in row]
    flat_predicted = [ids[t] for row in predicted for t in row]
    result.update(load_metric("accuracy").compute(predictions=flat_predicted, references=flat_gold))
    return result


TASK = TorchTask(
    name="token_classification",
    description="Character tagging: NER (entity F1), POS or word segmentation (token accuracy).",
    view=fixed_view("pos_tags"),
    auto_class="AutoModelForTokenClassification",
    peft_task_type="TOKEN_CLS",
    pipeline_tag="token-classification",
    usage=USAGE,
    encode=encode,
    collate=collate,
    score=score_tagger,
    headline=lambda recipe: HEADLINES[recipe.data.tags],
    labels=label_list,
    extra_metrics=lambda recipe, labels: {"labels": labels, "tags": recipe.data.tags},
    tokenizer_texts=joined_words,
)
