"""Sequence classification (sentiment, topic ...): a pretrained encoder with a classification head.

Reads the ``text_label`` view, takes the label names from the data card, truncates texts to
``data.block_size`` tokens and fine-tunes (fully, with LoRA through the ``peft`` section, or - ELMo -
a head over a frozen biLM). Metrics: accuracy and macro-F1 through the package's offline
`evaluate` modules.
"""

from __future__ import annotations

import torch

from ..errors import ToolkitError
from .base import TorchTask, fixed_view
from .gathering import gather_rows, row_losses

USAGE = """
from transformers import pipeline

classify = pipeline("text-classification", model="{model}")
print(classify("这本书写得真好"))
"""


def card_labels(recipe, card, train_rows) -> list[str]:
    if not card.labels:
        raise ToolkitError(f"Data card '{card.name}' names no labels (a 'labels:' list), which classification needs.")
    return card.labels


def encode(rows, tokenizer, recipe, labels):
    """Token ids (truncated to data.block_size) and the label of each row."""
    max_length = recipe.data.block_size
    return rows.map(
        lambda batch: {**tokenizer(batch["text"], truncation=True, max_length=max_length), "labels": batch["label"]},
        batched=True, remove_columns=rows.column_names, desc="encode",
    )


def collate(tokenizer, recipe, for_eval: bool):
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer)


def score_classifier(accelerator, model, batches, recipe, labels, tokenizer) -> dict[str, float]:
    from ..metrics import load_metric

    predictions, references, losses = [], [], []
    for batch in batches:  # one row per example, so accelerate's repeated ones drop out (gathering.py)
        out = model(**batch)
        losses.append(gather_rows(accelerator, row_losses(out.logits, batch["labels"])[0]))
        predictions.append(gather_rows(accelerator, out.logits.argmax(-1)))
        references.append(gather_rows(accelerator, batch["labels"]))
    predicted, gold = torch.cat(predictions).tolist(), torch.cat(references).tolist()
    return {
        **load_metric("accuracy").compute(predictions=predicted, references=gold),
        **load_metric("macro_f1").compute(predictions=predicted, references=gold),
        "loss": torch.cat(losses).mean().item(),
    }


TASK = TorchTask(
    name="sequence_classification",
    description="Text classification (sentiment, topic): accuracy and macro-F1.",
    view=fixed_view("text_label"),
    auto_class="AutoModelForSequenceClassification",
    peft_task_type="SEQ_CLS",
    pipeline_tag="text-classification",
    usage=USAGE,
    encode=encode,
    collate=collate,
    score=score_classifier,
    headline=lambda recipe: ("accuracy", "macro_f1"),
    labels=card_labels,
)
