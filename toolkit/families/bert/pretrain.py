"""BERT pretraining from scratch: masked language modelling and next-sentence prediction at once.

Reads documents from the dataset layer (with words when the card has them, for whole-word
masking), builds ``[CLS] A [SEP] B [SEP]`` pairs (toolkit.families.bert.nsp), masks each batch
afresh with the 80/10/10 rule (toolkit.families.bert.masking; evaluation batches get fixed masks)
and trains the family's pretraining model (transformers' BertForPreTraining, or bert_preln's
BertPreLNForPreTraining, through AutoModelForPreTraining) on MLM loss + NSP loss with the shared
runner. Evaluation reports MLM accuracy, MLM perplexity and NSP accuracy.
"""

from __future__ import annotations

import functools
import inspect

import torch

from ...tasks.base import TorchTask, real_tokens
from ...tasks.gathering import gather_rows, row_losses
from .masking import IGNORE, MaskingCollator
from .nsp import build_nsp_pairs
from .nsp_stream import stream_pairs

USAGE = """
from transformers import pipeline

fill = pipeline("fill-mask", model="{model}")
print(fill("今天[MASK]气很好"))
"""


def documents_view(recipe, card) -> str:
    """A segmented corpus gives whole-word masking its words; otherwise jieba segments sentences."""
    return "word_documents" if "word_documents" in card.views else "documents"


def texts_of(rows):
    """The text of each row, for training a tokenizer (segmented rows are joined)."""
    if "words" not in rows.column_names:
        return rows
    return rows.map(lambda row: {"text": "".join(row["words"])}, remove_columns=["words"])


def encode(rows, tokenizer, recipe, labels):
    return build_nsp_pairs(rows, tokenizer, recipe.data.block_size, recipe.mlm.whole_word_mask, recipe.seed)


def collate(tokenizer, recipe, for_eval: bool):
    """Fresh masks for every training batch; evaluation masks are a function of the batch."""
    seed = recipe.seed if for_eval else None
    return MaskingCollator(tokenizer, recipe.mlm.probability, recipe.mlm.whole_word_mask, seed=seed)


@functools.lru_cache(maxsize=None)
def _forward_takes(model_class: type, argument: str) -> bool:
    return argument in inspect.signature(model_class.forward).parameters


def _takes_sparse_logits(model) -> bool:
    """Whether the pretraining model can compute MLM logits at the labelled positions only
    (bert_preln's ``logits_at_labels_only``; transformers' BertForPreTraining cannot)."""
    core = getattr(model, "module", model)  # DDP wraps; FSDP and Accelerate's CPU path do not
    if hasattr(core, "_orig_mod"):
        # torch.compile: the rows of the masked positions have a data-dependent shape, which would
        # break the graph at every step; the dense logits keep one graph.
        return False
    if hasattr(core, "get_base_model"):  # peft: its forward passes our argument on through **kwargs
        core = core.get_base_model()
    return _forward_takes(type(core), "logits_at_labels_only")


def weighted_pretraining_loss(model, batch, nsp_weight: float):
    """The model's own MLM + NSP loss with NSP weighted by nsp_weight (1: the loss as it is), and
    the real tokens the batch covered. A model that can (bert_preln) projects only the positions
    to predict onto the vocabulary: the same loss, in a shorter step."""
    sparse = {"logits_at_labels_only": True} if _takes_sparse_logits(model) else {}
    out = model(**batch, **sparse)
    loss = out.loss
    if nsp_weight != 1.0:
        nsp = torch.nn.functional.cross_entropy(out.seq_relationship_logits.float(), batch["next_sentence_label"])
        loss = loss + (nsp_weight - 1.0) * nsp
    return loss, real_tokens(batch)


def make_pretraining_loss(recipe):
    """BERT's plain MLM + NSP sum (the model's own loss), or MLM + mlm.nsp_weight * NSP.

    A tiny model's MLM gradients dwarf NSP's early on (MLM starts near ln(vocab) ~ 8.5, NSP at
    ln 2), so a larger weight lets NSP learn within a short CPU budget. The loss comes out of the
    model's forward, so it works unchanged under DDP/FSDP wrappers. Computing logits only at the
    masked positions makes a step of the tiny bert_preln 0.77 (256 wide) or 0.60 (128 wide) as long
    (benchmarks/sparse_mlm_logits.py)."""
    weight = recipe.mlm.nsp_weight
    return lambda model, batch: weighted_pretraining_loss(model, batch, weight)


def score_pretraining(accelerator, model, batches, recipe, labels, tokenizer) -> dict[str, float]:
    """MLM accuracy and perplexity over the tokens to predict; NSP accuracy over the pairs.

    ``mlm_accuracy`` follows BERT: it counts every token to predict, and one in ten of those is
    left unchanged in the input (the 80/10/10 rule), so copying the input already scores about
    0.1. ``mlm_accuracy_at_mask`` counts only the tokens replaced by [MASK], which the model can
    only get from their context, and ``mlm_guess_at_mask`` is what always answering the most
    frequent of those tokens scores: while the first does not beat the second, the model has not
    yet learned to read context (a tiny BERT stays there for thousands of steps; see README)."""
    from ...metrics import load_metric

    # Gathered per pair (one row each), so accelerate drops the pairs it repeated to even out the
    # last batch across processes; a per-token tensor would be cut at a pair count (gathering.py).
    predictions, references, at_mask, losses, counts, nsp_predictions, nsp_labels = [], [], [], [], [], [], []
    for batch in batches:
        out = model(**batch)
        gathered_labels = gather_rows(accelerator, batch["labels"], pad=IGNORE)
        kept = gathered_labels != IGNORE  # the tokens to predict (the padding across processes dropped)
        references.append(gathered_labels[kept])
        predictions.append(gather_rows(accelerator, out.prediction_logits.argmax(-1), pad=IGNORE)[kept])
        is_mask = (batch["input_ids"] == tokenizer.mask_token_id).long()
        at_mask.append(gather_rows(accelerator, is_mask, pad=0)[kept].bool())
        loss_sums, scored = row_losses(out.prediction_logits, batch["labels"])
        losses.append(gather_rows(accelerator, loss_sums))
        counts.append(gather_rows(accelerator, scored))
        nsp_predictions.append(gather_rows(accelerator, out.seq_relationship_logits.argmax(-1)))
        nsp_labels.append(gather_rows(accelerator, batch["next_sentence_label"]))
    predictions, references, at_mask, losses, counts = (
        torch.cat(found) for found in (predictions, references, at_mask, losses, counts))
    accuracy = load_metric("accuracy")
    masked_targets = references[at_mask]
    accuracy_at_mask = guess_at_mask = 0.0
    if len(masked_targets):
        accuracy_at_mask = accuracy.compute(predictions=predictions[at_mask].tolist(),
                                            references=masked_targets.tolist())["accuracy"]
        guess_at_mask = masked_targets.bincount().max().item() / len(masked_targets)
    perplexity = load_metric("lm_perplexity").compute(
        losses=(losses / counts.clamp(min=1)).tolist(), weights=counts.tolist())
    return {
        "mlm_accuracy": accuracy.compute(predictions=predictions.tolist(), references=references.tolist())["accuracy"],
        "mlm_accuracy_at_mask": accuracy_at_mask,
        "mlm_guess_at_mask": guess_at_mask,
        "mlm_perplexity": perplexity["perplexity"],
        "loss": perplexity["loss"],
        "nsp_accuracy": accuracy.compute(predictions=torch.cat(nsp_predictions).tolist(),
                                         references=torch.cat(nsp_labels).tolist())["accuracy"],
    }


TASK = TorchTask(
    name="bert_pretrain",
    description="BERT pretraining: masked LM (optionally whole-word) + next-sentence prediction.",
    view=documents_view,
    auto_class="AutoModelForPreTraining",
    peft_task_type="FEATURE_EXTRACTION",
    pipeline_tag="fill-mask",
    usage=USAGE,
    encode=encode,
    collate=collate,
    stream_encode=stream_pairs,  # data.streaming: pairs within a bounded buffer of documents
    score=score_pretraining,
    make_loss=make_pretraining_loss,
    headline=lambda recipe: ("mlm_accuracy", "mlm_accuracy_at_mask", "mlm_guess_at_mask", "mlm_perplexity",
                             "nsp_accuracy"),
    extra_metrics=lambda recipe, labels: {"whole_word_mask": recipe.mlm.whole_word_mask,
                                          "mlm_probability": recipe.mlm.probability,
                                          "nsp_weight": recipe.mlm.nsp_weight},
    tokenizer_texts=texts_of,
)
