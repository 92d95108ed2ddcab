"""BERT pretraining from scratch: masked language modelling and next-sentence prediction at once.

Reads documents from the dataset layer (with words when whole-word masking is on), builds
``[CLS] A [SEP] B [SEP]`` pairs (toolkit.families.bert.nsp), masks each batch afresh with the 80/10/10
rule (toolkit.families.bert.masking) and trains BertForPreTraining on MLM loss + NSP loss with the shared
runner. Evaluation on held-out documents reports MLM accuracy, MLM perplexity and NSP accuracy.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForPreTraining

from ... import registry
from ...data import VIEWS, load_card
from .masking import IGNORE, MaskingCollator
from .nsp import build_nsp_pairs
from ...metrics import load_metric
from ...recipe import Recipe
from ...training import make_accelerator
from ...tasks.base import Task
from ...tasks.common import RunOutcome, load_task_corpus, prepare_model, run_tokenizer
from ...tasks.runner import Training, evaluate_saved, train_and_save

PIPELINE_TAG = "fill-mask"
USAGE = """
from transformers import pipeline

fill = pipeline("fill-mask", model="{model}")
print(fill("今天[MASK]气很好"))
"""


def pretraining_loss(model, batch) -> tuple[torch.Tensor, int]:
    """MLM + NSP loss (BertForPreTraining adds them), and the tokens in the batch."""
    return model(**batch).loss, int(batch["attention_mask"].sum())


@torch.no_grad()
def evaluate_pretraining(accelerator, model, dataloader, max_batches: int | None) -> dict[str, float]:
    """MLM accuracy and perplexity over the masked tokens; NSP accuracy over the pairs."""
    model.eval()
    mlm_predictions, mlm_references, mlm_losses, mlm_counts = [], [], [], []
    nsp_predictions, nsp_references = [], []
    for index, batch in enumerate(dataloader):
        if max_batches is not None and index >= max_batches:
            break
        out = model(**batch)
        masked = batch["labels"] != IGNORE
        logits = out.prediction_logits[masked].float()
        targets = batch["labels"][masked]
        loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum") if len(targets) else logits.sum()
        mlm_losses.append(accelerator.gather_for_metrics(loss.reshape(1)))
        mlm_counts.append(accelerator.gather_for_metrics(masked.sum().reshape(1).float()))
        mlm_predictions.append(accelerator.gather_for_metrics(logits.argmax(-1)))
        mlm_references.append(accelerator.gather_for_metrics(targets))
        nsp_predictions.append(accelerator.gather_for_metrics(out.seq_relationship_logits.argmax(-1)))
        nsp_references.append(accelerator.gather_for_metrics(batch["next_sentence_label"]))
    counts = torch.cat(mlm_counts)
    accuracy = load_metric("accuracy")
    perplexity = load_metric("lm_perplexity").compute(
        losses=(torch.cat(mlm_losses) / counts.clamp(min=1)).tolist(), weights=counts.tolist())
    return {
        "mlm_accuracy": accuracy.compute(predictions=torch.cat(mlm_predictions).tolist(),
                                         references=torch.cat(mlm_references).tolist())["accuracy"],
        "mlm_perplexity": perplexity["perplexity"],
        "loss": perplexity["loss"],
        "nsp_accuracy": accuracy.compute(predictions=torch.cat(nsp_predictions).tolist(),
                                         references=torch.cat(nsp_references).tolist())["accuracy"],
    }


def run(recipe: Recipe, run_dir: Path, resume: bool = False, callbacks=()) -> RunOutcome:
    family = registry.family(recipe.model.family)
    whole_word = recipe.mlm.whole_word_mask
    accelerator = make_accelerator(recipe.train, recipe.seed, run_dir)
    with accelerator.main_process_first():
        # A segmented corpus gives whole-word masking its words; otherwise jieba segments sentences.
        view = "word_documents" if "word_documents" in load_card(recipe.data.card).views else "documents"
        corpus = load_task_corpus(recipe, view)
        texts = corpus["train"] if view == "documents" else corpus["train"].map(
            lambda row: {"text": "".join(row["words"])}, remove_columns=["words"])
        tokenizer = run_tokenizer(recipe, family, texts, run_dir, accelerator)
        pairs = {split: build_nsp_pairs(corpus[split], tokenizer, recipe.data.block_size, whole_word, recipe.seed)
                 for split in dict.fromkeys(["train", recipe.eval.split])}
    model = prepare_model(recipe, family, tokenizer, AutoModelForPreTraining, peft_task_type="FEATURE_EXTRACTION")
    probability = recipe.mlm.probability
    parts = Training(
        model=model, tokenizer=tokenizer, train_dataset=pairs["train"], eval_dataset=pairs[recipe.eval.split],
        collate=MaskingCollator(tokenizer, probability, whole_word),
        evaluate=lambda acc, m, dl: evaluate_pretraining(acc, m, dl, recipe.eval.max_batches),
        headline=("mlm_accuracy", "mlm_perplexity", "nsp_accuracy"), pipeline_tag=PIPELINE_TAG, usage=USAGE,
        loss_fn=pretraining_loss, extra_metrics={"whole_word_mask": whole_word, "mlm_probability": probability},
        eval_collate=MaskingCollator(tokenizer, probability, whole_word, seed=recipe.seed),
    )
    return train_and_save(recipe, run_dir, accelerator, parts, resume, callbacks)


def evaluate_run(run_dir: Path, recipe: Recipe, split: str, card: str | None = None,
                 max_batches: int | None = None) -> dict[str, float]:
    """Re-evaluate a pretraining run (MLM and NSP) on held-out documents, with fixed masks."""
    whole_word = recipe.mlm.whole_word_mask
    view = "word_documents" if "word_documents" in load_card(card or recipe.data.card).views else "documents"
    return evaluate_saved(
        run_dir, recipe, split, card, AutoModelForPreTraining, view=view,
        examples=lambda rows, tokenizer: build_nsp_pairs(rows.select_columns(VIEWS[view]), tokenizer,
                                                          recipe.data.block_size, whole_word, recipe.seed),
        collate=lambda tokenizer: MaskingCollator(tokenizer, recipe.mlm.probability, whole_word, seed=recipe.seed),
        evaluate=lambda accelerator, model, loader: evaluate_pretraining(accelerator, model, loader, max_batches),
        pipeline_tag=PIPELINE_TAG, usage=USAGE,
    )


TASK = Task(
    name="bert_pretrain",
    description="BERT pretraining: masked LM (optionally whole-word) + next-sentence prediction.",
    view="documents",
    pipeline_tag=PIPELINE_TAG,
    run=run,
    evaluate=evaluate_run,
)
