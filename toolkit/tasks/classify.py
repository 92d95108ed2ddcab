"""Sequence classification (sentiment, topic ...): a pretrained encoder with a classification head.

Reads the ``text_label`` view, takes the label names from the data card, truncates texts to
``data.block_size`` tokens and fine-tunes (fully, or with LoRA through the ``peft`` section).
Metrics: accuracy and macro-F1 through the package's offline `evaluate` modules.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

from .. import registry
from ..data import load_card
from ..errors import ToolkitError
from ..metrics import load_metric
from ..recipe import Recipe
from ..training import make_accelerator
from .base import Task
from .common import RunOutcome, load_task_corpus, prepare_model, run_tokenizer
from .runner import Training, evaluate_saved, train_and_save

PIPELINE_TAG = "text-classification"
USAGE = """
from transformers import pipeline

classify = pipeline("text-classification", model="{model}")
print(classify("这本书写得真好"))
"""


def card_labels(card_name: str) -> list[str]:
    labels = load_card(card_name).labels
    if not labels:
        raise ToolkitError(f"Data card '{card_name}' names no labels (a 'labels:' list), which classification needs.")
    return labels


def encode(dataset, tokenizer, max_length: int):
    """Token ids (truncated to max_length) and the label of each row."""
    return dataset.map(
        lambda batch: {**tokenizer(batch["text"], truncation=True, max_length=max_length), "labels": batch["label"]},
        batched=True, remove_columns=dataset.column_names, desc="encode",
    )


def labels_loss(model, batch) -> tuple[torch.Tensor, int]:
    return model(**batch).loss, int(batch["attention_mask"].sum())


@torch.no_grad()
def evaluate_classifier(accelerator, model, dataloader, max_batches: int | None) -> dict[str, float]:
    model.eval()
    predictions, references, losses = [], [], []
    for index, batch in enumerate(dataloader):
        if max_batches is not None and index >= max_batches:
            break
        out = model(**batch)
        losses.append(accelerator.gather_for_metrics(out.loss.float().repeat(len(batch["labels"]))))
        predictions.append(accelerator.gather_for_metrics(out.logits.argmax(-1)))
        references.append(accelerator.gather_for_metrics(batch["labels"]))
    predicted, gold = torch.cat(predictions).tolist(), torch.cat(references).tolist()
    return {
        **load_metric("accuracy").compute(predictions=predicted, references=gold),
        **load_metric("macro_f1").compute(predictions=predicted, references=gold),
        "loss": torch.cat(losses).mean().item(),
    }


def run(recipe: Recipe, run_dir: Path, resume: bool = False, callbacks=()) -> RunOutcome:
    family = registry.family(recipe.model.family)
    labels = card_labels(recipe.data.card)
    accelerator = make_accelerator(recipe.train, recipe.seed, run_dir)
    with accelerator.main_process_first():
        corpus = load_task_corpus(recipe, "text_label")
        tokenizer = run_tokenizer(recipe, family, corpus["train"], run_dir, accelerator)
        encoded = {split: encode(corpus[split], tokenizer, recipe.data.block_size)
                   for split in dict.fromkeys(["train", recipe.eval.split])}
    model = prepare_model(recipe, family, tokenizer, AutoModelForSequenceClassification, peft_task_type="SEQ_CLS",
                          num_labels=len(labels), id2label=dict(enumerate(labels)),
                          label2id={label: i for i, label in enumerate(labels)})
    parts = Training(
        model=model, tokenizer=tokenizer, train_dataset=encoded["train"], eval_dataset=encoded[recipe.eval.split],
        collate=DataCollatorWithPadding(tokenizer),
        evaluate=lambda acc, m, dl: evaluate_classifier(acc, m, dl, recipe.eval.max_batches),
        headline=("accuracy", "macro_f1"), pipeline_tag=PIPELINE_TAG, usage=USAGE, loss_fn=labels_loss,
        extra_metrics={"labels": labels},
    )
    return train_and_save(recipe, run_dir, accelerator, parts, resume, callbacks)


def evaluate_run(run_dir: Path, recipe: Recipe, split: str, card: str | None = None,
                 max_batches: int | None = None) -> dict[str, float]:
    return evaluate_saved(
        run_dir, recipe, split, card, AutoModelForSequenceClassification, view="text_label",
        examples=lambda rows, tokenizer: encode(rows, tokenizer, recipe.data.block_size),
        collate=DataCollatorWithPadding,
        evaluate=lambda accelerator, model, loader: evaluate_classifier(accelerator, model, loader, max_batches),
        pipeline_tag=PIPELINE_TAG, usage=USAGE,
    )


TASK = Task(
    name="sequence_classification",
    description="Text classification (sentiment, topic): accuracy and macro-F1.",
    view="text_label",
    pipeline_tag=PIPELINE_TAG,
    run=run,
    evaluate=evaluate_run,
)
