"""Cross-attention you can look at: decode a source, then read where each output token attended.

The source is decoded first (the recipe's or the caller's generation settings); the decoded output
is then fed back teacher-forced with ``output_attentions``, which gives every decoder layer's
attention over the source for exactly the tokens that were printed (with the cache, beam search
would only return the weights of the last step). Shared by `toolkit attention` and the maps every
seq2seq run draws of its eval.samples at every evaluation (``write_sample_maps``, the task's
``figures`` hook).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ToolkitError
from ..tokenizer_sides import target_side
from .seq2seq import aligned_hits, cross_attentions, decoding_config, encode_texts

ATTENTION_FOLDER = "attention"  # in a run folder: one PNG per eval.samples source and evaluation


@dataclass
class AttentionMaps:
    """One source's decoded output and the cross-attention behind it."""

    source: str
    output: str
    source_tokens: list[str]  # as the model read them (source tokenizer), the end token last
    target_tokens: list[str]  # as the model wrote them (target tokenizer), the end token last (when it wrote one)
    layers: list  # per decoder layer, a (target, source) numpy array; rows sum to 1
    heads: int  # attention heads per layer of the model
    head: int | None  # the head shown (1-based); None: heads averaged
    alignment_by_layer: list[float] | None  # share of target tokens whose argmax is their own source token
    aligned_tokens: int  # how many target tokens that share is over (end tokens excluded)


class NoAttentionError(ToolkitError):
    """The model has no cross-attention to show (an encoder-decoder without attention)."""


def token_labels(tokenizer, ids: list[int]) -> list[str]:
    """Each token as text (without the word-start mark of a pinyin syllable); special tokens as their name."""
    tokens = tokenizer.convert_ids_to_tokens(ids)
    return [tokenizer.decode([i]).strip() or token for i, token in zip(ids, tokens)]


def output_labels(generated: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """The tokens a decoder wrote, as labels: the start token dropped, cut after the first end token."""
    written = generated[1:]
    ends = (written == eos_token_id).nonzero()
    return written[: int(ends[0]) + 1] if len(ends) else written


@torch.no_grad()
def attention_maps(model, tokenizer, source: str, recipe, head: int | None = None, aligned: bool = False,
                   generation_config=None) -> AttentionMaps:
    """Decode ``source`` (``generation_config``, default the recipe's eval.generation) and return the
    cross-attention of every decoder layer over it: heads averaged, or the 1-based ``head``. With
    ``aligned`` (a card whose alignment is monotone) also the alignment accuracy per layer."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        encoded = {k: v.to(device) for k, v in encode_texts(tokenizer, [source], recipe.data.block_size).items()}
        config = generation_config or decoding_config(tokenizer, recipe, model)
        generated = model.generate(**encoded, generation_config=config)[0]
        labels = output_labels(generated, tokenizer.eos_token_id)
        batch = {**encoded, "labels": labels[None]}
        layers = cross_attentions(model, batch)
    finally:
        model.train(was_training)
    if not layers:
        raise NoAttentionError("This model has no attention (model.config.attention: none): its decoder sees the "
                               "source only through the encoder's last state, so there is no map to draw. Use a run "
                               "with attention (bahdanau, luong_*, ConvS2S or the Transformer).")
    heads = layers[0].shape[1]
    if head is not None and not 1 <= head <= heads:
        raise ToolkitError(f"--head {head} is not allowed: this model has {heads} attention "
                           f"head{'s' if heads != 1 else ''} per layer, so give 1 to {heads}, or leave --head out "
                           f"to average them.")
    maps = [layer[:, head - 1] if head is not None else layer.mean(dim=1) for layer in layers]
    alignment, checked = None, 0
    if aligned:
        hits, checked = aligned_hits(maps, batch)
        alignment = [hit / checked for hit in hits] if checked else None
    target_tokenizer = target_side(tokenizer)  # the tokenizer of the output side (per_side), else the one
    return AttentionMaps(
        source=source, output=target_tokenizer.decode(labels, skip_special_tokens=True),
        source_tokens=token_labels(tokenizer, encoded["input_ids"][0].tolist()),
        target_tokens=token_labels(target_tokenizer, labels.tolist()),
        layers=[m[0].float().cpu().numpy() for m in maps], heads=heads, head=head,
        alignment_by_layer=alignment, aligned_tokens=checked,
    )


def layer_panels(maps: AttentionMaps, layers: list[int] | None = None) -> list[tuple[str, object]]:
    """(title, weights) of the chosen 1-based layers (None: all), each title naming its heads and,
    where known, its alignment accuracy."""
    chosen = layers or list(range(1, len(maps.layers) + 1))
    which = f"head {maps.head}" if maps.head is not None else (f"{maps.heads} heads averaged" if maps.heads > 1 else "")
    panels = []
    for number in chosen:
        parts = [f"layer {number}" if len(maps.layers) > 1 else "", which]
        if maps.alignment_by_layer is not None:
            parts.append(f"alignment {maps.alignment_by_layer[number - 1]:.0%}")
        panels.append((", ".join(p for p in parts if p) or "cross-attention", maps.layers[number - 1]))
    return panels


def figure_title(maps: AttentionMaps) -> str:
    return f"{maps.source}  →  {maps.output}"


def sample_map_name(step: int, number: int) -> str:
    """attention/step-000400-sample-1.png: zero-padded steps, so a listing of the folder is in training order."""
    return f"{ATTENTION_FOLDER}/step-{step:06d}-sample-{number}.png"


def write_sample_maps(model, tokenizer, recipe, run_dir: Path, step: int) -> list[dict]:
    """The seq2seq task's figures, drawn at every evaluation: the cross-attention of each eval.samples
    source (every decoder layer, heads averaged, decoded as the run's samples are) in
    attention/step-STEP-sample-N.png. Every evaluation's maps are kept (a few per evaluation, a
    few dozen KB each), so the folder shows the attention forming over training. Returns sample
    1's map for metrics.json and the model card."""
    from ..data import load_card
    from ..reporting.attention_plot import plot_attention

    if not recipe.eval.samples:
        return []
    aligned = load_card(recipe.data.card).alignment == "monotone"
    files = []
    for number, source in enumerate(recipe.eval.samples, start=1):
        try:
            maps = attention_maps(model, tokenizer, source, recipe, aligned=aligned)
        except NoAttentionError:
            return []
        name = sample_map_name(step, number)
        plot_attention(layer_panels(maps), maps.source_tokens, maps.target_tokens, Path(run_dir) / name,
                       title=figure_title(maps), hint=f"check that the run folder {run_dir} is writable")
        files.append(name)
    more = (f"; every sample's map at every evaluation is in {ATTENTION_FOLDER}/"
            if len(files) > 1 else f"; the maps of every evaluation are in {ATTENTION_FOLDER}/")
    return [{"file": files[0], "caption": f"Cross-attention while decoding sample 1 at step {step} (rows: output "
                                          f"tokens, columns: source tokens; one panel per decoder layer){more}."}]
