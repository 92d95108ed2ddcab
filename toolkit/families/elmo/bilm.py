"""Bidirectional LM pretraining (ELMo): forward and backward LSTM LMs trained jointly.

Reads the ``text`` view, packs it into blocks exactly as causal_lm does, and trains the biLM with
the shared loop on the mean of both directions' losses; evaluation reports the perplexity of each
direction. The run folder is a model folder: ``AutoModel.from_pretrained(run_dir)`` gives the biLM.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModel

from ... import registry
from ...recipe import Recipe
from ...training import make_accelerator, perplexity
from ...tasks.base import Task
from ...tasks.causal_lm import collate_blocks, saved_blocks, text_blocks
from ...tasks.common import RunOutcome, prepare_model
from ...tasks.runner import Training, evaluate_saved, train_and_save

PIPELINE_TAG = "feature-extraction"
USAGE = """
import toolkit  # registers the toolkit's model types; or trust_remote_code=True without toolkit
from transformers import AutoModel, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{model}")
bilm = AutoModel.from_pretrained("{model}")
layers = bilm(**tokenizer("今天天气很好", return_tensors="pt")).layers  # (layers+1, 1, chars, 2*dim)
"""


@torch.no_grad()
def evaluate_bilm(accelerator, model, dataloader, max_batches: int | None) -> dict[str, float]:
    """Mean token loss of each direction and its perplexity."""
    model.eval()
    totals = {"forward": [], "backward": []}
    for index, batch in enumerate(dataloader):
        if max_batches is not None and index >= max_batches:
            break
        out = model(**batch)
        for name, loss in (("forward", out.forward_loss), ("backward", out.backward_loss)):
            totals[name].append(accelerator.gather_for_metrics(loss.float().repeat(batch["input_ids"].shape[0])))
    result = {}
    for name, losses in totals.items():
        mean = torch.cat(losses).mean().item()
        result[f"{name}_loss"], result[f"{name}_perplexity"] = mean, perplexity(mean)
    result["loss"] = (result["forward_loss"] + result["backward_loss"]) / 2
    result["perplexity"] = perplexity(result["loss"])
    return result


def run(recipe: Recipe, run_dir: Path, resume: bool = False, callbacks=()) -> RunOutcome:
    family = registry.family(recipe.model.family)
    accelerator = make_accelerator(recipe.train, recipe.seed, run_dir)
    tokenizer, blocks = text_blocks(recipe, family, run_dir, accelerator)
    parts = Training(
        model=prepare_model(recipe, family, tokenizer, AutoModel, peft_task_type="FEATURE_EXTRACTION"),
        tokenizer=tokenizer, train_dataset=blocks["train"], eval_dataset=blocks[recipe.eval.split],
        collate=collate_blocks, evaluate=lambda acc, m, dl: evaluate_bilm(acc, m, dl, recipe.eval.max_batches),
        headline=("forward_perplexity", "backward_perplexity", "perplexity"), pipeline_tag=PIPELINE_TAG, usage=USAGE,
    )
    return train_and_save(recipe, run_dir, accelerator, parts, resume, callbacks)


def evaluate_run(run_dir: Path, recipe: Recipe, split: str, card: str | None = None,
                 max_batches: int | None = None) -> dict[str, float]:
    """Both directions' perplexity of a saved biLM on a card's split."""
    return evaluate_saved(
        run_dir, recipe, split, card, AutoModel, view="text",
        examples=lambda rows, tokenizer: saved_blocks(rows, tokenizer, recipe.data.block_size),
        collate=lambda tokenizer: collate_blocks,
        evaluate=lambda accelerator, model, loader: evaluate_bilm(accelerator, model, loader, max_batches),
        pipeline_tag=PIPELINE_TAG, usage=USAGE,
    )


TASK = Task(
    name="bilm",
    description="ELMo biLM: forward and backward LSTM LMs trained jointly; perplexity per direction.",
    view="text",
    pipeline_tag=PIPELINE_TAG,
    run=run,
    evaluate=evaluate_run,
)
