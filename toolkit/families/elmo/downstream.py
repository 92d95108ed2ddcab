"""ELMo downstream: a small head over a learned scalar mix of a frozen biLM's layers.

Two tasks share this script: ``elmo_classify`` (sentence classification, the ``text_label`` view)
and ``elmo_ner`` (character-level BIO tags derived from People's Daily nr/ns/nt POS tags). The
recipe names the pretrained biLM run in ``model.init_from``; its tokenizer and weights are loaded,
the biLM is frozen, and only the scalar mix and the head train (with the shared loop). The recipe's
``model.config`` may set the head options only (the family's ``finetune_config_keys``).
Metrics: accuracy, or entity precision/recall/F1, plus the learned layer weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ...data import load_card, load_corpus
from ...data.ner import NER_LABELS, char_bio, chunks, entity_f1
from ...errors import ToolkitError
from .family import FAMILY
from ...pretrained import load_pretrained, resolve_source
from ...recipe import Recipe
from ...tokenization import load_tokenizer
from ...training import make_accelerator
from ...tasks.base import Task
from ...tasks.common import RunOutcome
from ...tasks.runner import Training, evaluate_saved, train_and_save

USAGE = """
import toolkit  # registers the toolkit's model types; or trust_remote_code=True without toolkit
from transformers import pipeline

print(pipeline("{tag}", model="{model}")("{example}"))
"""


@dataclass(frozen=True)
class Downstream:
    view: str
    pipeline_tag: str
    auto_class: str
    example: str


KINDS = {
    "elmo_classify": Downstream("text_label", "text-classification", "AutoModelForSequenceClassification", "这本书写得很好"),
    "elmo_ner": Downstream("pos_tags", "token-classification", "AutoModelForTokenClassification", "江泽民在北京会见了新华社记者"),
}


def _labels(task: str, card) -> list[str]:
    if task == "elmo_ner":
        return NER_LABELS
    if not card.labels:
        raise ToolkitError(f"Data card '{card.name}' has no label names (labels:), which classification needs.")
    return card.labels


def encode(task: str, dataset, tokenizer, max_chars: int):
    """Rows -> input_ids (one id per character) and labels (one per row, or one per character)."""
    if task == "elmo_classify":
        def classify_rows(batch):
            ids = [tokenizer.convert_tokens_to_ids(list(text[:max_chars])) for text in batch["text"]]
            return {"input_ids": ids, "labels": batch["label"]}

        return dataset.map(classify_rows, batched=True, remove_columns=dataset.column_names)

    tag_id = {tag: index for index, tag in enumerate(NER_LABELS)}

    def ner_rows(batch):
        out = {"input_ids": [], "labels": []}
        for words, pos in zip(batch["words"], batch["pos"]):
            for chars, tags in chunks(*char_bio(words, pos), max_chars):
                out["input_ids"].append(tokenizer.convert_tokens_to_ids(chars))
                out["labels"].append([tag_id[t] for t in tags])
        return out

    return dataset.map(ner_rows, batched=True, remove_columns=dataset.column_names)


def make_collate(pad_id: int, per_token: bool):
    def collate(rows):
        longest = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        labels = torch.full((len(rows), longest), -100, dtype=torch.long) if per_token else torch.tensor([r["labels"] for r in rows])
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.tensor(row["input_ids"])
            mask[i, :n] = 1
            if per_token:
                labels[i, :n] = torch.tensor(row["labels"])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    return collate


def tokens_loss(model, batch) -> tuple[torch.Tensor, int]:
    """Loss of a padded batch and the real (unpadded) tokens it covered."""
    return model(**batch).loss, int(batch["attention_mask"].sum())


@torch.no_grad()
def evaluate_head(accelerator, model, dataloader, task: str, max_batches: int | None) -> dict:
    """Accuracy (classification) or entity P/R/F1 (NER), mean loss, and the learned layer mix."""
    model.eval()
    losses, correct, total, gold, predicted = [], 0, 0, [], []
    for index, batch in enumerate(dataloader):
        if max_batches is not None and index >= max_batches:
            break
        out = model(**batch)
        losses.append(out.loss.float().item())
        guess = out.logits.argmax(-1)
        guess, labels, mask = accelerator.gather_for_metrics((guess, batch["labels"], batch["attention_mask"]))
        if task == "elmo_classify":
            correct += int((guess == labels).sum())
            total += labels.numel()
        else:
            for g, p, m in zip(labels, guess, mask):
                n = int(m.sum())
                gold.append([NER_LABELS[i] for i in g[:n].tolist()])
                predicted.append([NER_LABELS[i] for i in p[:n].tolist()])
    result = {"loss": sum(losses) / max(len(losses), 1)}
    if task == "elmo_classify":
        result["accuracy"] = correct / max(total, 1)
    else:
        result.update(entity_f1(gold, predicted))
    result["layer_weights"] = accelerator.unwrap_model(model).layer_weights()
    return result


def run(recipe: Recipe, run_dir: Path, resume: bool = False, callbacks=()) -> RunOutcome:
    import transformers

    kind = KINDS[recipe.task]
    if not recipe.model.init_from:
        raise ToolkitError(f"Task {recipe.task} trains a head over a pretrained biLM: set model.init_from to a "
                           f"bilm run folder (train one with recipes/elmo/tiny_bilm.yaml).")
    card = load_card(recipe.data.card)
    labels = _labels(recipe.task, card)
    accelerator = make_accelerator(recipe.train, recipe.seed, run_dir)
    bilm_source = resolve_source(recipe.model.init_from)
    model = load_pretrained(
        recipe.model.init_from, getattr(transformers, kind.auto_class), FAMILY, recipe.model.trust_remote_code,
        num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
        bilm_from=recipe.model.init_from, **recipe.model.config,
    )
    model.apply_freeze()
    tokenizer = load_tokenizer(bilm_source)
    with accelerator.main_process_first():
        corpus = load_corpus(card, view=kind.view, max_rows=recipe.data.max_rows)
        if recipe.eval.split not in corpus:
            raise ToolkitError(f"eval.split '{recipe.eval.split}' is not a split of {card.name}; it has {list(corpus)}.")
        data = {s: encode(recipe.task, corpus[s], tokenizer, recipe.data.block_size) for s in dict.fromkeys(["train", recipe.eval.split])}
    if accelerator.is_main_process and not resume:
        accelerator.print(f"Mixing layers {model.config.mixed_layers} of the frozen biLM {recipe.model.init_from}.")
    parts = Training(
        model=model, tokenizer=tokenizer, train_dataset=data["train"], eval_dataset=data[recipe.eval.split],
        collate=make_collate(tokenizer.pad_token_id, per_token=recipe.task == "elmo_ner"),
        evaluate=lambda acc, m, dl: evaluate_head(acc, m, dl, recipe.task, recipe.eval.max_batches),
        headline=HEADLINES[recipe.task], pipeline_tag=kind.pipeline_tag, loss_fn=tokens_loss, carry=("layer_weights",),
        usage=USAGE.format(tag=kind.pipeline_tag, example=kind.example, model="{model}"),
    )
    return train_and_save(recipe, run_dir, accelerator, parts, resume, callbacks)


def evaluate_run(run_dir: Path, recipe: Recipe, split: str, card: str | None = None,
                 max_batches: int | None = None) -> dict:
    """Re-evaluate a saved downstream folder on a card's split; appends to its metrics.json and card."""
    import transformers

    kind = KINDS[recipe.task]
    return evaluate_saved(
        run_dir, recipe, split, card, getattr(transformers, kind.auto_class), view=kind.view,
        examples=lambda rows, tokenizer: encode(recipe.task, rows, tokenizer, recipe.data.block_size),
        collate=lambda tokenizer: make_collate(tokenizer.pad_token_id, per_token=recipe.task == "elmo_ner"),
        evaluate=lambda accelerator, model, loader: evaluate_head(accelerator, model, loader, recipe.task, max_batches),
        pipeline_tag=kind.pipeline_tag, usage=USAGE.format(tag=kind.pipeline_tag, example=kind.example, model="{model}"),
    )


HEADLINES = {"elmo_classify": ("accuracy",), "elmo_ner": ("f1", "precision", "recall")}


CLASSIFY = Task(
    name="elmo_classify",
    description="Sentence classification with a head over the scalar mix of a frozen ELMo biLM; accuracy.",
    view="text_label",
    pipeline_tag="text-classification",
    run=run,
    evaluate=evaluate_run,
)
NER = Task(
    name="elmo_ner",
    description="Char-level NER (PER/LOC/ORG from PKU nr/ns/nt) with a head over a frozen ELMo biLM's mix; entity F1.",
    view="pos_tags",
    pipeline_tag="token-classification",
    run=run,
    evaluate=evaluate_run,
)
