"""Causal language modelling: next-token prediction on text packed into fixed-length blocks.

Used by GPT-2 and the RNN LMs. Reads the ``text`` view, packs documents separated by the
end-of-text token into blocks of ``data.block_size`` tokens (no padding) and reports perplexity;
during training it also continues the recipe's sample prompts. The biLM task packs text the same way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from ..errors import ToolkitError
from .base import TorchTask, fixed_view
from .gathering import gather_rows, row_losses

# Part of the packed blocks' cache key, so editing this file never serves blocks of older code.
_CODE_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
USAGE = """
from transformers import pipeline

generator = pipeline("text-generation", model="{model}")
print(generator("中国", max_new_tokens=50)[0]["generated_text"])
"""


def pack_blocks(rows, tokenizer, recipe):
    """Tokenize every row, end each with the end-of-text token, and cut the stream into blocks of
    ``data.block_size`` tokens. Cached by `datasets` under a fingerprint of the rows, the
    tokenizer and the block size."""
    block_size = recipe.data.block_size
    tokenizer_hash = hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()[:16]
    eos = tokenizer.eos_token_id

    # Both steps read and write Arrow batches (the dataset's "arrow" format): a batch's token ids go
    # straight into an Arrow array, and blocks are cut by numpy from the flattened ids (not from a
    # Python list of every token). `datasets` writes each batch to its cache file, so memory holds
    # one batch whatever the corpus size.
    def tokenize(batch: pa.Table) -> pa.Table:
        ids = tokenizer(batch["text"].to_pylist(), add_special_tokens=False)["input_ids"]
        return pa.table({"input_ids": pa.array([row + [eos] for row in ids], type=pa.list_(pa.int32()))})

    def group(batch: pa.Table) -> pa.Table:
        stream = pc.list_flatten(batch["input_ids"]).to_numpy()
        usable = len(stream) // block_size * block_size
        offsets = np.arange(0, usable + 1, block_size, dtype=np.int32)
        blocks = pa.ListArray.from_arrays(offsets, pa.array(stream[:usable], type=pa.int32()))
        return pa.table({"input_ids": blocks})

    key = f"{rows._fingerprint}-{tokenizer_hash}-{block_size}-{_CODE_VERSION}"
    tokens = rows.with_format("arrow").map(
        tokenize, batched=True, remove_columns=rows.column_names,
        new_fingerprint=hashlib.sha256(f"tok-{key}".encode()).hexdigest()[:32], desc="tokenize",
    )
    # Large batches keep the tail lost at each batch boundary small (< block_size per 2000 rows).
    blocks = tokens.map(
        group, batched=True, batch_size=2000,
        new_fingerprint=hashlib.sha256(f"pack-{key}".encode()).hexdigest()[:32], desc="pack",
    )
    if len(blocks) == 0:
        raise ToolkitError(
            f"A split has fewer than data.block_size={block_size} tokens; lower block_size or use more "
            f"data (data.max_rows)."
        )
    return blocks.with_format("torch")


def stream_blocks(rows, tokenizer, recipe):
    """Blocks as pack_blocks cuts them (documents end with the end-of-text token and run on into the
    next block), from a stream as it is read (toolkit.tasks.stream_blocks)."""
    from .stream_blocks import PackedBlocks

    return PackedBlocks(rows, tokenizer, recipe.data.block_size)


def collate_blocks(tokenizer, recipe, for_eval: bool):
    """Equal-length blocks stacked; the model shifts the labels itself."""

    def collate(rows):
        input_ids = torch.stack([row["input_ids"] for row in rows])
        return {"input_ids": input_ids, "labels": input_ids}

    return collate


def score_lm(accelerator, model, batches, recipe, labels, tokenizer) -> dict[str, float]:
    """Token-weighted mean loss and perplexity, by the package's offline `evaluate` module ``lm_perplexity``."""
    from ..metrics import load_metric

    losses, weights = [], []
    for batch in batches:  # one row per block, so accelerate's repeated ones drop out (gathering.py)
        logits = model(input_ids=batch["input_ids"]).logits  # no labels: the model's own loss is not needed
        loss_sums, predicted = row_losses(logits[:, :-1], batch["labels"][:, 1:])  # each token predicts the next
        losses.append(gather_rows(accelerator, loss_sums / predicted.clamp(min=1)))
        weights.append(gather_rows(accelerator, predicted))
    return load_metric("lm_perplexity").compute(losses=torch.cat(losses).tolist(), weights=torch.cat(weights).tolist())


def set_generation(model, tokenizer, recipe) -> None:
    from ..generation import generation_config

    model.generation_config = generation_config(tokenizer, recipe.eval.generation)


def sample_texts(accelerator, model, tokenizer, recipe) -> list[dict]:
    """The recipe's sample prompts continued by the model (eval.samples; none: no samples)."""
    from ..generation import generate_text

    if not recipe.eval.samples:
        return []
    texts = generate_text(model, tokenizer, recipe.eval.samples, recipe.eval.generation, seed=recipe.seed)
    return [{"prompt": prompt, "text": text} for prompt, text in zip(recipe.eval.samples, texts)]


TASK = TorchTask(
    name="causal_lm",
    description="Next-token prediction on packed text blocks; perplexity; text generation.",
    view=fixed_view("text"),
    auto_class="AutoModelForCausalLM",
    peft_task_type="CAUSAL_LM",
    pipeline_tag="text-generation",
    usage=USAGE,
    encode=lambda rows, tokenizer, recipe, labels: pack_blocks(rows, tokenizer, recipe),
    collate=collate_blocks,
    stream_encode=stream_blocks,
    score=score_lm,
    headline=lambda recipe: ("perplexity", "loss"),
    finish_model=set_generation,
    samples=sample_texts,
)
