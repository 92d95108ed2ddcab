"""Causal language modelling: next-token prediction on text packed into fixed-length blocks.

Used by GPT-2 (and any family whose task list has ``causal_lm``). Reads the ``text`` view,
trains or loads a tokenizer, packs documents separated by the end-of-text token into blocks of
``data.block_size`` tokens (no padding), trains with the shared loop and reports perplexity.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from .. import registry
from ..errors import ToolkitError
from ..generation import generate_text, generation_config
from ..metrics import load_metric
from ..recipe import Recipe
from ..training import make_accelerator
from .base import Task
from .common import RunOutcome, load_task_corpus, prepare_model, run_tokenizer
from .runner import Training, evaluate_saved, train_and_save

PIPELINE_TAG = "text-generation"
# Part of the packed blocks' cache key, so editing this file never serves blocks of older code.
_CODE_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
USAGE = """
from transformers import pipeline

generator = pipeline("text-generation", model="{model}")
print(generator("中国", max_new_tokens=50)[0]["generated_text"])
"""


def pack_blocks(corpus, tokenizer, block_size: int):
    """Tokenize every row, end each with the end-of-text token, and cut the stream into blocks.

    Cached by `datasets` under a fingerprint of the corpus, the tokenizer and the block size.
    """
    tokenizer_hash = hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()[:16]
    eos = tokenizer.eos_token_id

    def tokenize(batch):
        ids = tokenizer(batch["text"], add_special_tokens=False)["input_ids"]
        return {"input_ids": [row + [eos] for row in ids]}

    def group(batch):
        stream = [token for row in batch["input_ids"] for token in row]
        usable = len(stream) // block_size * block_size
        blocks = [stream[i : i + block_size] for i in range(0, usable, block_size)]
        return {"input_ids": blocks}

    packed = {}
    for split, dataset in corpus.items():
        key = f"{dataset._fingerprint}-{tokenizer_hash}-{block_size}-{_CODE_VERSION}"
        tokens = dataset.map(
            tokenize, batched=True, remove_columns=dataset.column_names,
            new_fingerprint=hashlib.sha256(f"tok-{key}".encode()).hexdigest()[:32], desc=f"tokenize {split}",
        )
        # Large batches keep the tail lost at each batch boundary small (< block_size per 2000 rows).
        blocks = tokens.map(
            group, batched=True, batch_size=2000,
            new_fingerprint=hashlib.sha256(f"pack-{key}".encode()).hexdigest()[:32], desc=f"pack {split}",
        )
        if len(blocks) == 0:
            raise ToolkitError(
                f"The {split} split has fewer than data.block_size={block_size} tokens; lower "
                f"block_size or use more data (data.max_rows)."
            )
        packed[split] = blocks.with_format("torch")
    return packed


def collate_blocks(rows):
    """Stack equal-length blocks; the model shifts labels itself."""
    input_ids = torch.stack([row["input_ids"] for row in rows])
    return {"input_ids": input_ids, "labels": input_ids}


@torch.no_grad()
def evaluate_lm(accelerator, model, dataloader, max_batches: int | None) -> dict[str, float]:
    """Token-weighted mean loss and perplexity over (at most ``max_batches``) evaluation blocks,
    computed by the package's offline `evaluate` module ``lm_perplexity``."""
    model.eval()
    losses, weights = [], []
    for index, batch in enumerate(dataloader):
        if max_batches is not None and index >= max_batches:
            break
        rows = batch["input_ids"].shape[0]
        loss = model(**batch).loss.float()
        losses.append(accelerator.gather_for_metrics(loss.repeat(rows)))
        # Every block has the same length, so each predicts block_size - 1 tokens.
        weights.append(accelerator.gather_for_metrics(torch.full((rows,), batch["input_ids"].shape[1] - 1.0)))
    return load_metric("lm_perplexity").compute(losses=torch.cat(losses).tolist(), weights=torch.cat(weights).tolist())


def text_blocks(recipe: Recipe, family, run_dir: Path, accelerator):
    """The run's tokenizer and the train and evaluation splits packed into blocks (shared with
    the biLM task). The main process prepares and caches them first."""
    with accelerator.main_process_first():
        corpus = load_task_corpus(recipe, "text")
        tokenizer = run_tokenizer(recipe, family, corpus["train"], run_dir, accelerator)
        needed = {split: corpus[split] for split in dict.fromkeys(["train", recipe.eval.split])}
        return tokenizer, pack_blocks(needed, tokenizer, recipe.data.block_size)


def saved_blocks(rows, tokenizer, block_size: int):
    """Blocks of one split for re-evaluating a saved model."""
    return pack_blocks({"eval": rows.select_columns(["text"])}, tokenizer, block_size)["eval"]


def run(recipe: Recipe, run_dir: Path, resume: bool = False, callbacks=()) -> RunOutcome:
    family = registry.family(recipe.model.family)
    accelerator = make_accelerator(recipe.train, recipe.seed, run_dir)
    tokenizer, blocks = text_blocks(recipe, family, run_dir, accelerator)
    model = prepare_model(recipe, family, tokenizer, AutoModelForCausalLM, peft_task_type="CAUSAL_LM")
    model.generation_config = generation_config(tokenizer, recipe.eval.generation)

    def evaluate(accelerator, current_model, eval_dl):
        result = evaluate_lm(accelerator, current_model, eval_dl, recipe.eval.max_batches)
        if recipe.eval.samples and accelerator.is_main_process:
            texts = generate_text(accelerator.unwrap_model(current_model), tokenizer, recipe.eval.samples,
                                  recipe.eval.generation, seed=recipe.seed)
            result["samples"] = [{"prompt": p, "text": t} for p, t in zip(recipe.eval.samples, texts)]
        return result

    parts = Training(model=model, tokenizer=tokenizer, train_dataset=blocks["train"],
                     eval_dataset=blocks[recipe.eval.split], collate=collate_blocks, evaluate=evaluate,
                     headline=("perplexity", "loss"), pipeline_tag=PIPELINE_TAG, usage=USAGE)
    return train_and_save(recipe, run_dir, accelerator, parts, resume, callbacks)


def evaluate_run(run_dir: Path, recipe: Recipe, split: str, card: str | None = None,
                 max_batches: int | None = None) -> dict[str, float]:
    """Re-evaluate a saved run folder (or any causal-LM model folder) on a card's split."""
    return evaluate_saved(
        run_dir, recipe, split, card, AutoModelForCausalLM, view="text",
        examples=lambda rows, tokenizer: saved_blocks(rows, tokenizer, recipe.data.block_size),
        collate=lambda tokenizer: collate_blocks,
        evaluate=lambda accelerator, model, loader: evaluate_lm(accelerator, model, loader, max_batches),
        pipeline_tag=PIPELINE_TAG, usage=USAGE,
    )


TASK = Task(
    name="causal_lm",
    description="Next-token prediction on packed text blocks; perplexity; text generation.",
    view="text",
    pipeline_tag=PIPELINE_TAG,
    run=run,
    evaluate=evaluate_run,
)
