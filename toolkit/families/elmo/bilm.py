"""Bidirectional LM pretraining (ELMo): forward and backward LSTM LMs trained jointly.

Reads the ``text`` view, packs it into blocks exactly as causal_lm does (built, or from a stream), and trains the biLM with
the shared runner on the mean of both directions' losses; evaluation reports the perplexity of each
direction. The run folder is a model folder: ``AutoModel.from_pretrained(run_dir)`` gives the biLM.
"""

from __future__ import annotations

import torch

from ...tasks.base import TorchTask, fixed_view
from ...tasks.causal_lm import collate_blocks, pack_blocks, stream_blocks
from ...tasks.gathering import gather_rows, row_losses

USAGE = """
from transformers import AutoModel, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{model}")
bilm = AutoModel.from_pretrained("{model}")
layers = bilm(**tokenizer("今天天气很好", return_tensors="pt")).layers  # (layers+1, 1, chars, 2*dim)
"""


def score_bilm(accelerator, model, batches, recipe, labels, tokenizer) -> dict[str, float]:
    """Mean token loss of each direction and its perplexity, from per-sequence losses gathered one
    row per example (so the examples accelerate repeats to even out processes drop out)."""
    from ...training import perplexity

    sums = {"forward": [], "backward": []}
    counts = {"forward": [], "backward": []}
    for batch in batches:
        out = model(**batch)
        targets = {"forward": batch["labels"][:, 1:], "backward": batch["labels"][:, :-1]}
        for name, logits in (("forward", out.forward_logits), ("backward", out.backward_logits)):
            loss_sums, scored = row_losses(logits, targets[name])
            sums[name].append(gather_rows(accelerator, loss_sums))
            counts[name].append(gather_rows(accelerator, scored))
    result = {}
    for name in sums:
        mean = (torch.cat(sums[name]).sum() / torch.cat(counts[name]).sum().clamp(min=1)).item()
        result[f"{name}_loss"], result[f"{name}_perplexity"] = mean, perplexity(mean)
    result["loss"] = (result["forward_loss"] + result["backward_loss"]) / 2
    result["perplexity"] = perplexity(result["loss"])
    return result


TASK = TorchTask(
    name="bilm",
    description="ELMo biLM: forward and backward LSTM LMs trained jointly; perplexity per direction.",
    view=fixed_view("text"),
    auto_class="AutoModel",
    peft_task_type="FEATURE_EXTRACTION",
    pipeline_tag="feature-extraction",
    usage=USAGE,
    encode=lambda rows, tokenizer, recipe, labels: pack_blocks(rows, tokenizer, recipe),
    collate=collate_blocks,
    stream_encode=stream_blocks,  # from a stream too, as causal_lm
    score=score_bilm,
    headline=lambda recipe: ("forward_perplexity", "backward_perplexity", "perplexity"),
)
