"""Bidirectional LM pretraining (ELMo): forward and backward LSTM LMs trained jointly.

Reads the ``text`` view, packs it into blocks exactly as causal_lm does, and trains the biLM with
the shared loop on the mean of both directions' losses; evaluation reports the perplexity of each
direction. The run folder is a model folder: ``AutoModel.from_pretrained(run_dir)`` gives the biLM.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..data import load_corpus
from ..errors import ToolkitError
from ..models import FAMILIES
from ..recipe import Recipe
from ..training import build_optimizer, build_scheduler, fit, make_accelerator, perplexity
from .base import Task
from .causal_lm import pack_blocks
from .common import RunOutcome, finish_run, hardware, run_tokenizer

PIPELINE_TAG = "feature-extraction"
USAGE = """
import toolkit.models  # or trust_remote_code=True without toolkit
from transformers import AutoModel, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{model}")
bilm = AutoModel.from_pretrained("{model}")
layers = bilm(**tokenizer("今天天气很好", return_tensors="pt")).layers  # (layers+1, 1, chars, 2*dim)
"""


def _collate(rows):
    input_ids = torch.stack([row["input_ids"] for row in rows])
    return {"input_ids": input_ids, "labels": input_ids}


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
    family = FAMILIES[recipe.model.family]
    accelerator = make_accelerator(recipe.train, recipe.seed, run_dir)
    with accelerator.main_process_first():
        corpus = load_corpus(recipe.data.card, view="text", max_rows=recipe.data.max_rows)
        if recipe.eval.split not in corpus:
            raise ToolkitError(f"eval.split '{recipe.eval.split}' is not a split of {recipe.data.card}; it has {list(corpus)}.")
        tokenizer = run_tokenizer(recipe, family, corpus["train"], run_dir, accelerator)
        blocks = pack_blocks({s: corpus[s] for s in dict.fromkeys(["train", recipe.eval.split])}, tokenizer, recipe.data.block_size)

    model = family.build(family.make_config(recipe.model.size, recipe.model.config, tokenizer))
    train_dl = DataLoader(blocks["train"], batch_size=recipe.train.batch_size, shuffle=True, drop_last=True,
                          collate_fn=_collate, generator=torch.Generator().manual_seed(recipe.seed))
    if len(train_dl) == 0:
        raise ToolkitError(f"The train split has {len(blocks['train'])} blocks, fewer than train.batch_size={recipe.train.batch_size}.")
    eval_dl = DataLoader(blocks[recipe.eval.split], batch_size=recipe.eval.batch_size or recipe.train.batch_size, collate_fn=_collate)
    optimizer = build_optimizer(model, recipe.train)
    scheduler = build_scheduler(optimizer, recipe.train)
    model, optimizer, train_dl, eval_dl, scheduler = accelerator.prepare(model, optimizer, train_dl, eval_dl, scheduler)
    state = fit(accelerator=accelerator, model=model, optimizer=optimizer, scheduler=scheduler, train_dataloader=train_dl,
                train=recipe.train, run_dir=run_dir, resume=resume, callbacks=callbacks,
                evaluate=lambda m: evaluate_bilm(accelerator, m, eval_dl, recipe.eval.max_batches))

    metrics = {}
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model, keep_fp32_wrapper=False)
        unwrapped.save_pretrained(run_dir)
        tokenizer.save_pretrained(run_dir)
        final = {k: v for k, v in state.evals[-1].items() if k != "step"}
        metrics = {
            "task": recipe.task,
            "vocab_size": len(tokenizer),
            "final": final,
            "evaluations": [{"split": recipe.eval.split, "card": recipe.data.card, "step": state.step,
                             "metrics": {k: final[k] for k in ("forward_perplexity", "backward_perplexity")}}],
            "train": {
                "steps": state.step, "tokens_seen": state.tokens_seen, "train_seconds": state.train_seconds,
                "parameters": sum(p.numel() for p in unwrapped.parameters()),
                "mixed_precision": accelerator.mixed_precision, "processes": accelerator.num_processes,
                "hardware": hardware(),
            },
            "evals": state.evals,
            "log": state.log,
        }
        finish_run(run_dir, recipe, PIPELINE_TAG, metrics, USAGE.format(model=run_dir))
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return RunOutcome(run_dir=Path(run_dir), metrics=metrics)


def evaluate_run(run_dir: Path, recipe: Recipe, split: str, card: str | None = None,
                 max_batches: int | None = None) -> dict[str, float]:
    """Both directions' perplexity of a saved biLM on a card's split."""
    from transformers import AutoModel, AutoTokenizer

    card = card or recipe.data.card
    tokenizer = AutoTokenizer.from_pretrained(str(run_dir))
    model = AutoModel.from_pretrained(str(run_dir))
    corpus = load_corpus(card, view="text", max_rows=recipe.data.max_rows)
    if split not in corpus:
        raise ToolkitError(f"Split '{split}' is not in corpus {card}; it has {', '.join(corpus)}.")
    blocks = pack_blocks({split: corpus[split]}, tokenizer, recipe.data.block_size)[split]
    accelerator = make_accelerator(recipe.train, recipe.seed, Path(run_dir))
    loader = DataLoader(blocks, batch_size=recipe.eval.batch_size or recipe.train.batch_size, collate_fn=_collate)
    model, loader = accelerator.prepare(model, loader)
    return evaluate_bilm(accelerator, model, loader, max_batches)


TASK = Task(
    name="bilm",
    description="ELMo biLM: forward and backward LSTM LMs trained jointly; perplexity per direction.",
    view="text",
    pipeline_tag=PIPELINE_TAG,
    run=run,
    evaluate=evaluate_run,
)
