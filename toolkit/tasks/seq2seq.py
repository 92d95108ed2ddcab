"""Sequence to sequence: a source text in, a target text out (pinyin -> characters, English -> Chinese).

Shared by the encoder-decoder families (rnn_seq2seq, conv_seq2seq, transformer_seq2seq). Reads the
``source_target`` view. One tokenizer serves both sides (trained on both, ``word_char`` for pinyin or
English sources and Chinese targets), or with ``tokenizer.per_side`` each side has its own, trained
on that side alone: the source tokenizer encodes the input (it is the run folder's), the target
tokenizer (``target_tokenizer/``, see ``toolkit.tokenizer_sides``) encodes the labels and decodes
the output, here and in the run folder's text2text-generation pipeline. Each side is cut to
``data.block_size`` tokens, end token included.
Training is teacher-forced (the model shifts the labels right itself). Evaluation reports the
teacher-forced loss, then decodes the source with the recipe's ``eval.generation`` settings (beam
search with ``num_beams``) and scores the output against the reference text: BLEU (sacrebleu,
``tok:zh``), chrF, character error rate and exact match, overall and per source-length bucket,
because attention's benefit shows on long inputs. On a card whose alignment is known (``alignment:
monotone``: source token i belongs to target token i), it also reports alignment accuracy: the share
of target tokens whose strongest cross-attention falls on their own source token.
"""

from __future__ import annotations

from collections import defaultdict

import torch

from . import text2text_pipeline
from ..tokenizer_sides import target_side
from .base import IGNORE, TorchTask, fixed_view
from .gathering import gather_objects, gather_rows, row_losses

# transformers 5 has no text2text-generation pipeline of its own: the run folder carries one
# (text2text_pipeline.py), which trust_remote_code lets transformers load.
USAGE = """
from transformers import pipeline

translate = pipeline("text2text-generation", model="{model}", trust_remote_code=True)
print(translate("zhong1 guo2 ren2 min2", num_beams=5)[0]["generated_text"])
"""

# Source lengths (tokens, end token excluded) of the per-bucket figures: (name, shortest, longest).
LENGTH_BUCKETS = (("1-10", 1, 10), ("11-15", 11, 15), ("16-20", 16, 20), ("21+", 21, 10**9))
BUCKET_METRICS = ("bleu", "cer")


def both_sides(rows):
    """The texts a new shared tokenizer learns from: every source and every target."""
    return rows.map(lambda batch: {"text": [*batch["source"], *batch["target"]]}, batched=True,
                    remove_columns=rows.column_names, desc="tokenizer texts")


def one_side(rows, side: str):
    """The texts one side's tokenizer learns from (tokenizer.per_side): the sources, or the targets."""
    return rows.select_columns([side]).rename_column(side, "text")


def encode_pairs(rows, tokenizer, recipe, labels):
    """Source ids as input_ids and target ids (of the target side's tokenizer) as labels, each ending
    with the end token and cut to data.block_size tokens; the reference text is kept for scoring the
    decoded output."""
    limit, eos = recipe.data.block_size, tokenizer.eos_token_id
    target_tokenizer = target_side(tokenizer)

    def encode(batch):
        sources = tokenizer(batch["source"], add_special_tokens=False)["input_ids"]
        targets = target_tokenizer(batch["target"], add_special_tokens=False)["input_ids"]
        return {"input_ids": [ids[: limit - 1] + [eos] for ids in sources],
                "labels": [ids[: limit - 1] + [eos] for ids in targets],
                "reference": batch["target"]}

    return rows.map(encode, batched=True, remove_columns=rows.column_names, desc="encode pairs")


def collate_pairs(tokenizer, recipe, for_eval: bool):
    """Pad sources with the pad token (attention_mask marks the real ones) and labels with IGNORE;
    evaluation batches also carry the reference texts."""
    pad = tokenizer.pad_token_id

    def padded(rows, key, value):
        longest = max(len(row[key]) for row in rows)
        return torch.tensor([row[key] + [value] * (longest - len(row[key])) for row in rows])

    def collate(rows):
        input_ids = padded(rows, "input_ids", pad)
        lengths = torch.tensor([len(row["input_ids"]) for row in rows])
        batch = {"input_ids": input_ids,
                 "attention_mask": (torch.arange(input_ids.shape[1]) < lengths[:, None]).long(),
                 "labels": padded(rows, "labels", IGNORE)}
        if for_eval:
            batch["references"] = [row["reference"] for row in rows]
        return batch

    return collate


def pair_loss(model, batch) -> tuple[torch.Tensor, int]:
    """The model's mean loss over the target tokens of a batch, and how many target tokens it covered."""
    return model(**batch).loss, int((batch["labels"] != IGNORE).sum())


def make_pair_loss(recipe):
    """The training loss of the recipe's ``seq2seq`` section: the model's own loss, or with
    label_smoothing a smoothed cross-entropy over its logits; with teacher_forcing_ratio below 1 the
    decoder reads its own predictions at some steps (rnn_seq2seq's scheduled sampling)."""
    settings = recipe.seq2seq
    if settings.label_smoothing == 0 and settings.teacher_forcing_ratio == 1:
        return pair_loss
    extra = {"teacher_forcing_ratio": settings.teacher_forcing_ratio} if settings.teacher_forcing_ratio < 1 else {}

    def loss(model, batch):
        out = model(**batch, **extra)
        if settings.label_smoothing == 0:
            return out.loss, int((batch["labels"] != IGNORE).sum())
        logits = out.logits.float()
        smoothed = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1),
                                                     ignore_index=IGNORE, label_smoothing=settings.label_smoothing)
        return smoothed, int((batch["labels"] != IGNORE).sum())

    return loss


def decoding_config(tokenizer, recipe, model):
    """The recipe's eval.generation as a GenerationConfig for this encoder-decoder, at most
    data.block_size new tokens (a target is never longer); the tokens it never writes are the
    target side's padding."""
    from ..generation import generation_config

    config = generation_config(target_side(tokenizer), recipe.eval.generation,
                               decoder_start_token_id=model.config.decoder_start_token_id)
    config.max_new_tokens = min(recipe.eval.generation.max_new_tokens, recipe.data.block_size)
    return config


def finish_model(model, tokenizer, recipe) -> None:
    """Save the recipe's decoding settings with the model, so pipelines decode the same way."""
    model.generation_config = decoding_config(tokenizer, recipe, model)


def translate(model, tokenizer, sources: list[str], recipe, num_return_sequences: int = 1) -> list[str]:
    """Decode each source text with the recipe's generation settings: ``num_return_sequences``
    outputs per source, one source's after the other (best first, as generate() returns them),
    as text of the target side's tokenizer."""
    device = next(model.parameters()).device
    encoded = encode_texts(tokenizer, sources, recipe.data.block_size)
    config = decoding_config(tokenizer, recipe, model)
    config.num_return_sequences = num_return_sequences
    generated = model.generate(input_ids=encoded["input_ids"].to(device),
                               attention_mask=encoded["attention_mask"].to(device), generation_config=config)
    return target_side(tokenizer).batch_decode(generated, skip_special_tokens=True)


def encode_texts(tokenizer, sources: list[str], limit: int) -> dict[str, torch.Tensor]:
    """Source texts as a padded batch, exactly as encode_pairs and collate_pairs make them."""
    eos = tokenizer.eos_token_id
    rows = [{"input_ids": ids[: limit - 1] + [eos], "labels": [], "reference": ""}
            for ids in tokenizer(sources, add_special_tokens=False)["input_ids"]]
    batch = collate_pairs(tokenizer, None, for_eval=False)(rows)
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


def cross_attentions(model, batch) -> tuple[torch.Tensor, ...]:
    """Teacher-forced cross-attention of every decoder layer as the model returns it: (batch, heads,
    target, source) each (one head for the RNN and ConvS2S). Models whose fast attention kernel
    cannot return weights (SDPA) run eager attention for it. A model without attention (the plain
    encoder-decoder) has none: an empty tuple."""
    implementation = getattr(model.config, "_attn_implementation", None)
    if implementation == "sdpa":
        model.set_attn_implementation("eager")
    try:
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"],
                    output_attentions=True)
    finally:
        if implementation == "sdpa":
            model.set_attn_implementation("sdpa")
    return tuple(out.cross_attentions or ())


def cross_attention_maps(model, batch) -> list[torch.Tensor]:
    """Teacher-forced cross-attention of every decoder layer, heads averaged: (batch, target, source) each."""
    return [layer.mean(dim=1) if layer.dim() == 4 else layer for layer in cross_attentions(model, batch)]


def aligned_hits(maps: list[torch.Tensor], batch) -> tuple[list[int], int]:
    """Per layer, how many target tokens put their strongest attention on the source token of the same
    position (monotone alignment), and how many target tokens were checked (end tokens excluded)."""
    hits, checked = aligned_hits_per_row(maps, batch)
    return hits.sum(dim=0).tolist(), int(checked.sum())


def aligned_hits_per_row(maps: list[torch.Tensor], batch) -> tuple[torch.Tensor, torch.Tensor]:
    """``aligned_hits`` for each example: hits (batch, layers) and target tokens checked (batch,)."""
    target_lengths = (batch["labels"] != IGNORE).sum(dim=1) - 1
    source_lengths = batch["attention_mask"].sum(dim=1) - 1
    hits = torch.zeros(len(target_lengths), len(maps), dtype=torch.long, device=batch["labels"].device)
    checked = torch.minimum(target_lengths, source_lengths).clamp(min=0)
    for row, (length, sources) in enumerate(zip(checked.tolist(), source_lengths.tolist())):
        positions = torch.arange(length, device=batch["labels"].device)
        for layer, attention in enumerate(maps):
            hits[row, layer] = (attention[row, :length, :sources].argmax(dim=-1) == positions).sum()
    return hits, checked


@torch.no_grad()
def score_pairs(accelerator, model, batches, recipe, labels, tokenizer) -> dict:
    """Teacher-forced loss, then decoded-output BLEU / chrF / CER / exact match (overall and per
    source-length bucket) and, on a card with monotone alignment, alignment accuracy per layer."""
    from ..data import load_card
    from ..metrics import load_metric
    from ..training import perplexity

    torch.manual_seed(recipe.seed)  # sampled decoding (do_sample) repeats on re-evaluation
    unwrapped = accelerator.unwrap_model(model)
    unwrapped.eval()
    config = decoding_config(tokenizer, recipe, unwrapped)
    aligned = load_card(recipe.data.card).alignment == "monotone"
    # Gathered per example after each batch, so accelerate drops the examples it repeated to even
    # out the last batch across processes (gathering.py); the loss is per target token.
    predictions, references, source_lengths, losses, tokens, hits, checked = [], [], [], [], [], [], []
    for batch in batches:
        refs = batch.pop("references")
        loss_sums, scored = row_losses(model(**batch).logits, batch["labels"])
        losses.append(gather_rows(accelerator, loss_sums))
        tokens.append(gather_rows(accelerator, scored))
        generated = unwrapped.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                       generation_config=config)
        decoded = target_side(tokenizer).batch_decode(generated, skip_special_tokens=True)
        lengths = (batch["attention_mask"].sum(dim=1) - 1).tolist()
        for prediction, reference, length in gather_objects(accelerator, list(zip(decoded, refs, lengths))):
            predictions.append(prediction)
            references.append(reference)
            source_lengths.append(length)
        maps = cross_attention_maps(unwrapped, batch) if aligned else []
        aligned = bool(maps)  # a model without attention has no alignment to score
        if aligned:
            row_hits, row_checked = aligned_hits_per_row(maps, batch)
            hits.append(gather_rows(accelerator, row_hits))
            checked.append(gather_rows(accelerator, row_checked))
    loss = float(torch.cat(losses).sum() / torch.cat(tokens).sum().clamp(min=1))
    result = {"loss": loss, "perplexity": perplexity(loss), **text_scores(predictions, references, load_metric)}
    result["buckets"] = bucket_scores(predictions, references, source_lengths, load_metric)
    if aligned:
        total = max(int(torch.cat(checked).sum()), 1)
        result["alignment_by_layer"] = [hit / total for hit in torch.cat(hits).sum(dim=0).tolist()]
        result["alignment_accuracy"] = max(result["alignment_by_layer"], default=0.0)
    return result


def text_scores(predictions: list[str], references: list[str], load_metric) -> dict:
    """BLEU (with sacrebleu's signature), chrF, CER and exact match of decoded outputs."""
    bleu = load_metric("bleu").compute(predictions=predictions, references=references)
    return {
        "bleu": bleu["bleu"], "bleu_signature": bleu["signature"],
        "chrf": load_metric("chrf").compute(predictions=predictions, references=references)["chrf"],
        "cer": load_metric("cer").compute(predictions=predictions, references=references)["cer"],
        "exact_match": load_metric("exact_match").compute(predictions=predictions, references=references)["exact_match"],
    }


def bucket_scores(predictions, references, source_lengths, load_metric) -> dict[str, dict]:
    """BLEU and CER of the outputs whose source length falls in each LENGTH_BUCKETS range."""
    grouped: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for prediction, reference, length in zip(predictions, references, source_lengths):
        name = next(name for name, low, high in LENGTH_BUCKETS if low <= length <= high or (low == 1 and length < 1))
        grouped[name][0].append(prediction)
        grouped[name][1].append(reference)
    result = {}
    for name, _, _ in LENGTH_BUCKETS:
        if name in grouped:
            preds, refs = grouped[name]
            result[name] = {"pairs": len(preds), **{key: value for key, value in text_scores(preds, refs, load_metric).items()
                                                     if key in BUCKET_METRICS}}
    return result


def bucket_figure_name(card: str, split: str) -> str:
    """buckets-hsk_en_zh-test.png: one per card and split, next to metrics.json (a later
    evaluation of the same split replaces it, as its scores are the newest)."""
    return f"buckets-{card}-{split}.png"


def write_bucket_figure(found: dict, run_dir, card: str, split: str) -> list[dict]:
    """`toolkit eval`'s figure of a seq2seq run: BLEU and CER per source-length bucket of this
    evaluation, drawn as `toolkit compare --bucket-plot` draws them."""
    from pathlib import Path

    from ..reporting.bucket_plot import plot_buckets

    if not found.get("buckets"):
        return []
    name = bucket_figure_name(card, split)
    plot_buckets([(f"{Path(run_dir).name} ({card} {split})", found["buckets"])], Path(run_dir) / name,
                 f"check that the run folder {run_dir} is writable")
    counts = ", ".join(f"{bucket}: {scores['pairs']}" for bucket, scores in found["buckets"].items())
    return [{"file": name, "caption": f"BLEU and CER per source length on {card} {split} (pairs per bucket: {counts})."}]


def add_pipeline(run_dir) -> None:
    """Put the text2text-generation pipeline into each full model folder of the run: the run folder,
    and with LoRA's peft.merge the merged model (an adapter folder has no config.json to declare it in;
    load it with peft, or merge it)."""
    for folder in (run_dir, run_dir / "merged"):
        if (folder / "config.json").is_file():
            text2text_pipeline.add_to_folder(folder)


def sample_translations(accelerator, model, tokenizer, recipe) -> list[dict]:
    """The recipe's eval.samples (source texts) decoded, shown in metrics.json and the model card."""
    if not recipe.eval.samples:
        return []
    was_training = model.training
    model.eval()
    outputs = translate(model, tokenizer, list(recipe.eval.samples), recipe)
    model.train(was_training)
    return [{"prompt": source, "text": output} for source, output in zip(recipe.eval.samples, outputs)]


TASK = TorchTask(
    name="seq2seq",
    description="Sequence to sequence (pinyin -> characters, translation): BLEU, chrF, CER, exact match, "
                "per source-length bucket, and attention alignment where it is known.",
    view=fixed_view("source_target"),
    auto_class="AutoModelForSeq2SeqLM",
    peft_task_type="SEQ_2_SEQ_LM",
    pipeline_tag="text2text-generation",
    usage=USAGE,
    encode=encode_pairs,
    collate=collate_pairs,
    score=score_pairs,
    headline=lambda recipe: ("bleu", "chrf", "cer", "exact_match"),
    loss=pair_loss,
    make_loss=make_pair_loss,
    tokenizer_texts=both_sides,
    side_texts=one_side,
    finish_model=finish_model,
    finish_folder=add_pipeline,
    samples=sample_translations,
    # The cross-attention heatmaps of the eval.samples at each evaluation (attention/step-S-sample-N.png),
    # drawn by a module that builds on this one.
    figures="toolkit.tasks.seq2seq_attention:write_sample_maps",
    eval_figures="toolkit.tasks.seq2seq:write_bucket_figure",
)
