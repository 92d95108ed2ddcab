"""Using a seq2seq run folder: translate source texts, and draw the attention behind one.

Behind `toolkit translate` / `toolkit attention` and ``api.translate`` / ``api.attention``. The
decoding is the seq2seq task's own (``tasks.seq2seq.translate``, the sources encoded as in
training), with the run's eval.generation settings and the caller's on top. Everything that can be
checked without the model (texts, settings) is checked before it loads.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import ToolkitError

EXAMPLE_SOURCE = "zhong1 guo2 ren2 min2"


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def check_sources(sources, command: str) -> list[str]:
    """Source texts as a list of non-empty strings: an empty one would be decoded from the end token alone."""
    if isinstance(sources, str):
        sources = [sources]
    if not sources:
        raise ToolkitError(f"`toolkit {command}`: give at least one source text, e.g. \"{EXAMPLE_SOURCE}\".")
    for number, text in enumerate(sources, start=1):
        if not isinstance(text, str) or not text.strip():
            which = f"text {number} of {len(sources)}" if len(sources) > 1 else "the text"
            raise ToolkitError(f"`toolkit {command}`: {which} is empty or only spaces ({text!r}); give some source "
                               f"text, e.g. \"{EXAMPLE_SOURCE}\".")
    return list(sources)


def decoding_recipe(recipe, settings: dict, num_return_sequences: int = 1):
    """The run's recipe with ``settings`` over its eval.generation, checked as a whole (a length
    penalty without beams is allowed; more outputs than beams is not)."""
    from .generation import checked_settings

    section = checked_settings({**recipe.eval.generation.model_dump(), **settings})
    if not isinstance(num_return_sequences, int) or isinstance(num_return_sequences, bool) or num_return_sequences < 1:
        raise ToolkitError(f"num_return_sequences (--num-return-sequences) {num_return_sequences!r} is not allowed: "
                           f"give a whole number of at least 1.")
    if not section.do_sample and num_return_sequences > section.num_beams:
        raise ToolkitError(
            f"{num_return_sequences} outputs per source (--num-return-sequences) need at least {num_return_sequences} "
            f"beams, and the decoding uses {section.num_beams} (--beams): beam search returns its best beams, so give "
            f"--beams {num_return_sequences} or more.")
    if section.max_new_tokens > recipe.data.block_size:
        _note(f"max_new_tokens {section.max_new_tokens} is more than the {recipe.data.block_size} target tokens the "
              f"model was trained on (data.block_size): decoding at most {recipe.data.block_size}.")
    return recipe.model_copy(update={"eval": recipe.eval.model_copy(update={"generation": section})})


def load_seq2seq_run(run_dir: str | Path, trust_remote_code: bool, command: str):
    """(model, tokenizer, recipe) of a seq2seq run folder, the model in eval mode; the tokenizer is the
    source side's, carrying the target side's when the run has a tokenizer per side."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from .pretrained import check_tokenizer_files, loading_error, model_folder, remote_code_trust
    from .rundir import is_run_dir, read_run_recipe
    from .tokenizer_sides import check_decoder_vocabulary, with_saved_target

    source = model_folder(run_dir)
    if not is_run_dir(run_dir):
        raise ToolkitError(
            f"{run_dir} is not a toolkit run folder (no recipe.yaml), and `toolkit {command}` decodes with the run's "
            f"recipe (source length, generation settings). For another seq2seq folder use "
            f"pipeline(\"text2text-generation\", model=\"{run_dir}\", trust_remote_code=True) from transformers.")
    recipe = read_run_recipe(run_dir)
    if recipe.task != "seq2seq":
        raise ToolkitError(f"{run_dir} was trained for the {recipe.task} task, not seq2seq, so `toolkit {command}` "
                           f"cannot use it.")
    check_tokenizer_files(source)
    try:
        trust = remote_code_trust(source, trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust)
        model = AutoModelForSeq2SeqLM.from_pretrained(source, trust_remote_code=trust)
    except (OSError, ValueError) as exc:
        raise loading_error(source, "a sequence-to-sequence model from", exc, command=command) from None
    # A run with tokenizer.per_side decodes with its target tokenizer (target_tokenizer/ in the folder).
    tokenizer = with_saved_target(tokenizer, source, trust)
    check_decoder_vocabulary(model.config, tokenizer, str(run_dir))
    model.eval()
    return model, tokenizer, recipe


def note_source_problems(tokenizer, text: str, block_size: int) -> None:
    """Say which words of a source the tokenizer does not know (the model reads its unknown token
    there), and when a source is longer than the model reads (it is cut, as in training)."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    unknown = [text[start:end].strip() for token, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"])
               if token == tokenizer.unk_token_id]
    if unknown:
        _note(f"the tokenizer does not know {', '.join(repr(w) for w in dict.fromkeys(unknown))} in {text!r} (read as "
              f"{tokenizer.unk_token}), so the model cannot translate {'it' if len(unknown) == 1 else 'them'}.")
    if len(encoded["input_ids"]) > block_size - 1:
        _note(f"{text!r} has {len(encoded['input_ids'])} tokens and the model reads at most {block_size - 1} "
              f"(data.block_size {block_size}, with the end token): translating its first {block_size - 1}.")


def translate_texts(run_dir, sources, num_return_sequences: int = 1, trust_remote_code: bool = False,
                    command: str = "translate", **settings) -> list[str]:
    """``num_return_sequences`` outputs per source, one source's after the other (best first)."""
    import torch

    from .tasks.seq2seq import translate

    sources = check_sources(sources, command)
    model, tokenizer, recipe = load_seq2seq_run(run_dir, trust_remote_code, command)
    recipe = decoding_recipe(recipe, settings, num_return_sequences)
    for text in sources:
        note_source_problems(tokenizer, text, recipe.data.block_size)
    torch.manual_seed(recipe.seed)  # sampling (a recipe with do_sample) repeats from run to run
    with torch.no_grad():
        return translate(model, tokenizer, sources, recipe, num_return_sequences=num_return_sequences)


def draw_attention(run_dir, source: str, out: str | Path = "attention.png", layer: int | None = None,
                   head: int | None = None, trust_remote_code: bool = False, **settings):
    """Decode ``source`` (greedy unless ``settings`` say num_beams or do_sample) and write the
    cross-attention heatmap of the 1-based decoder ``layer`` (None: every layer, one panel each),
    heads averaged or the 1-based ``head``, to ``out``. Returns the AttentionMaps (with the
    alignment accuracy per layer when the run's card has monotone alignment)."""
    from .data import load_card
    from .reporting.attention_plot import plot_attention
    from .tasks.seq2seq_attention import attention_maps, figure_title, layer_panels

    (source,) = check_sources([source], "attention")
    for name, value in (("layer (--layer)", layer), ("head (--head)", head)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ToolkitError(f"{name} {value!r} is not allowed: give a whole number of at least 1.")
    model, tokenizer, recipe = load_seq2seq_run(run_dir, trust_remote_code, "attention")
    recipe = decoding_recipe(recipe, {"do_sample": False, "num_beams": 1, **settings})
    note_source_problems(tokenizer, source, recipe.data.block_size)
    aligned = load_card(recipe.data.card).alignment == "monotone"
    maps = attention_maps(model, tokenizer, source, recipe, head=head, aligned=aligned)
    layers = len(maps.layers)
    if layer is not None and layer > layers:
        raise ToolkitError(f"--layer {layer} is not allowed: this model has {layers} decoder "
                           f"layer{'s' if layers != 1 else ''} with attention, so give 1 to {layers}, or all.")
    plot_attention(layer_panels(maps, [layer] if layer else None), maps.source_tokens, maps.target_tokens, out,
                   title=figure_title(maps), hint="give --out a writable .png path")
    return maps
