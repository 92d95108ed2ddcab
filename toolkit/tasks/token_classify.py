"""Token classification on characters: named entities, part of speech or word segmentation.

Reads the ``pos_tags`` view (words and their PKU tags), derives character tags for
``data.tags`` (toolkit.data.char_tags), cuts long rows into pieces of ``data.block_size - 2``
characters, aligns the tags to tokens (special tokens and extra sub-tokens are ignored) and
fine-tunes an encoder with a token-classification head. Metrics: entity-level precision, recall
and F1 for NER; token accuracy for POS and segmentation.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification

from .. import registry
from ..data.char_tags import FIXED_LABELS, TAGGERS
from ..data.ner import chunks
from ..metrics import load_metric
from ..recipe import Recipe
from ..training import make_accelerator
from .base import IGNORE, Task
from .common import RunOutcome, load_task_corpus, prepare_model, run_tokenizer
from .runner import Training, evaluate_saved, train_and_save

PIPELINE_TAG = "token-classification"
USAGE = """
from transformers import pipeline

tagger = pipeline("token-classification", model="{model}")
print(tagger("江泽民在北京会见了联合国秘书长"))
"""


def tag_rows(dataset, scheme: str, max_chars: int):
    """(chars, tags) rows, long rows cut into pieces that never split an entity where avoidable."""
    tagger = TAGGERS[scheme]

    def derive(batch):
        out = {"chars": [], "tags": []}
        for words, pos in zip(batch["words"], batch["pos"]):
            for chars, tags in chunks(*tagger(words, pos), max_chars):
                out["chars"].append(chars)
                out["tags"].append(tags)
        return out

    return dataset.map(derive, batched=True, remove_columns=dataset.column_names, desc=f"{scheme} tags")


def label_list(scheme: str, train_rows) -> list[str]:
    return FIXED_LABELS.get(scheme) or sorted({tag for tags in train_rows["tags"] for tag in tags})


def encode(rows, tokenizer, labels: list[str], max_length: int):
    """Token ids with each character's label on its first token (-100 on the rest)."""
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

    return rows.map(align, batched=True, remove_columns=rows.column_names, desc="align tags")


def tokens_loss(model, batch) -> tuple[torch.Tensor, int]:
    return model(**batch).loss, int(batch["attention_mask"].sum())


@torch.no_grad()
def evaluate_tagger(accelerator, model, dataloader, labels: list[str], scheme: str, max_batches: int | None) -> dict:
    model.eval()
    gold, predicted, losses = [], [], []
    for index, batch in enumerate(dataloader):
        if max_batches is not None and index >= max_batches:
            break
        out = model(**batch)
        losses.append(accelerator.gather_for_metrics(out.loss.float().reshape(1)))
        guesses = accelerator.gather_for_metrics(accelerator.pad_across_processes(out.logits.argmax(-1), dim=1, pad_index=IGNORE))
        answers = accelerator.gather_for_metrics(accelerator.pad_across_processes(batch["labels"], dim=1, pad_index=IGNORE))
        for guess, answer in zip(guesses.tolist(), answers.tolist()):
            kept = [(g, a) for g, a in zip(guess, answer) if a != IGNORE]
            gold.append([labels[a] for _, a in kept])
            predicted.append([labels[g] for g, _ in kept])
    result = {"loss": torch.cat(losses).mean().item()}
    if scheme == "ner":
        result.update(load_metric("entity_f1").compute(predictions=predicted, references=gold))
    ids = {label: i for i, label in enumerate(labels)}
    flat_gold = [ids[t] for row in gold for t in row]
    flat_predicted = [ids[t] for row in predicted for t in row]
    result.update(load_metric("accuracy").compute(predictions=flat_predicted, references=flat_gold))
    return result


HEADLINES = {"ner": ("f1", "precision", "recall", "accuracy"), "pos": ("accuracy",), "cws": ("accuracy",)}


def run(recipe: Recipe, run_dir: Path, resume: bool = False, callbacks=()) -> RunOutcome:
    family = registry.family(recipe.model.family)
    scheme = recipe.data.tags
    accelerator = make_accelerator(recipe.train, recipe.seed, run_dir)
    with accelerator.main_process_first():
        corpus = load_task_corpus(recipe, "pos_tags")
        tagged = {split: tag_rows(corpus[split], scheme, recipe.data.block_size - 2)
                  for split in dict.fromkeys(["train", recipe.eval.split])}
        texts = tagged["train"].map(lambda row: {"text": "".join(row["chars"])}, remove_columns=["chars", "tags"])
        tokenizer = run_tokenizer(recipe, family, texts, run_dir, accelerator)
        labels = label_list(scheme, tagged["train"])
        encoded = {split: encode(rows, tokenizer, labels, recipe.data.block_size) for split, rows in tagged.items()}
    model = prepare_model(recipe, family, tokenizer, AutoModelForTokenClassification, peft_task_type="TOKEN_CLS",
                          num_labels=len(labels), id2label=dict(enumerate(labels)),
                          label2id={label: i for i, label in enumerate(labels)})
    parts = Training(
        model=model, tokenizer=tokenizer, train_dataset=encoded["train"], eval_dataset=encoded[recipe.eval.split],
        collate=DataCollatorForTokenClassification(tokenizer),
        evaluate=lambda acc, m, dl: evaluate_tagger(acc, m, dl, labels, scheme, recipe.eval.max_batches),
        headline=HEADLINES[scheme], pipeline_tag=PIPELINE_TAG, usage=USAGE, loss_fn=tokens_loss,
        extra_metrics={"labels": labels, "tags": scheme},
    )
    return train_and_save(recipe, run_dir, accelerator, parts, resume, callbacks)


def evaluate_run(run_dir: Path, recipe: Recipe, split: str, card: str | None = None,
                 max_batches: int | None = None) -> dict[str, float]:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(run_dir), trust_remote_code=False)  # the run's own folder
    labels = [config.id2label[i] for i in range(len(config.id2label))]
    scheme = recipe.data.tags
    return evaluate_saved(
        run_dir, recipe, split, card, AutoModelForTokenClassification, view="pos_tags",
        examples=lambda rows, tokenizer: encode(tag_rows(rows.select_columns(["words", "pos"]), scheme, recipe.data.block_size - 2),
                                                tokenizer, labels, recipe.data.block_size),
        collate=DataCollatorForTokenClassification,
        evaluate=lambda accelerator, model, loader: evaluate_tagger(accelerator, model, loader, labels, scheme, max_batches),
        pipeline_tag=PIPELINE_TAG, usage=USAGE,
    )


TASK = Task(
    name="token_classification",
    description="Character tagging: NER (entity F1), POS or word segmentation (token accuracy).",
    view="pos_tags",
    pipeline_tag=PIPELINE_TAG,
    run=run,
    evaluate=evaluate_run,
)
