"""Steps every torch task shares: the tokenizer of a run, and finishing a run folder."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data import load_card
from ..errors import ToolkitError
from ..families.base import ModelFamily
from ..pretrained import (
    add_lora, checked_init_from, freeze, load_pretrained, no_loading_bar, parameter_counts, remote_code_trust,
)
from ..recipe import TOKENIZER_SIDES, Recipe
from ..reporting.metrics import plot_loss_curve, read_metrics, write_metrics
from ..reporting.model_card import render_model_card, write_model_card
from ..tokenization import load_tokenizer, train_tokenizer
from ..tokenizer_sides import (
    TARGET_FOLDER, check_decoder_vocabulary, pair, save_tokenizers, saved_target, with_saved_target,
)


@dataclass
class RunOutcome:
    run_dir: Path
    metrics: dict[str, Any]


def run_tokenizer(recipe: Recipe, family: ModelFamily, train_texts, run_dir: Path, accelerator, side_texts=None):
    """The run's tokenizer: the one already in the run folder (resume, other processes), else the
    pretrained model's (``model.init_from``), loaded from ``tokenizer.from`` or trained on the
    corpus; then saved into the run folder. With ``tokenizer.per_side`` each side gets its own,
    trained on ``side_texts(side)`` (the task's texts of that side), and the target one travels with
    the source one (``toolkit.tokenizer_sides``); a pretrained model brings both when it has both."""
    if (Path(run_dir) / "tokenizer.json").is_file():
        return with_saved_target(load_tokenizer(run_dir), run_dir)
    if recipe.model.init_from:
        source = checked_init_from(recipe.model.init_from, family)
        trust = remote_code_trust(source, recipe.model.trust_remote_code)  # the user's recipe decides, for init_from only
        tokenizer = load_tokenizer(source, family.special_tokens, trust_remote_code=trust)
        if side_texts is not None:  # a task of pairs: the model may have a target tokenizer (a Hub id is asked for one)
            tokenizer = with_saved_target(tokenizer, source, trust)
    elif recipe.tokenizer.per_side:
        source, target = (side_tokenizer(recipe.tokenizer.side(side), side, family, side_texts) for side in TOKENIZER_SIDES)
        tokenizer = pair(source, target, "tokenizer.per_side")
    elif recipe.tokenizer.from_:
        if saved_target(recipe.tokenizer.from_):
            raise ToolkitError(
                f"tokenizer.from {recipe.tokenizer.from_} holds a tokenizer per side (source, and target in "
                f"{TARGET_FOLDER}/), and this recipe shares one tokenizer between the sides: set "
                f"tokenizer.per_side: true to use both, as the run that trained them did.")
        tokenizer = load_tokenizer(recipe.tokenizer.from_, family.special_tokens)
    else:
        tokenizer = train_tokenizer(recipe.tokenizer, train_texts, family.special_tokens)
    if accelerator.is_main_process:
        save_tokenizers(tokenizer, run_dir)
    return tokenizer


def side_tokenizer(settings, side: str, family: ModelFamily, side_texts):
    """One side's tokenizer of a per-side recipe: loaded from its ``from`` (a folder with a tokenizer
    per side gives that side's), else trained on that side's texts."""
    if settings.from_:
        folder = (saved_target(settings.from_) or settings.from_) if side == "target" else settings.from_
        return load_tokenizer(folder, family.special_tokens)
    return train_tokenizer(settings, side_texts(side), family.special_tokens)


def load_task_corpus(recipe: Recipe, view: str):
    """The recipe's corpus in a task's view; the evaluation split must exist."""
    from ..data import load_corpus
    from ..errors import ToolkitError

    corpus = load_corpus(recipe.data.card, view=view, max_rows=recipe.data.max_rows)
    if recipe.eval.split not in corpus:
        raise ToolkitError(f"eval.split '{recipe.eval.split}' is not a split of {recipe.data.card}; it has {list(corpus)}.")
    return corpus


def prepare_model(recipe: Recipe, family: ModelFamily, task, tokenizer, head: dict, accelerator):
    """The model a run trains: built by the family's own builder for this task where it has one
    (ELMo's heads over a frozen biLM), else built from scratch or loaded from ``model.init_from``
    through the task's Auto class; then ``train.freeze`` is applied and LoRA adapters are added
    when the recipe has a ``peft`` section. ``head`` holds config fields of the task's head
    (num_labels, id2label ...)."""
    auto_class = task.auto_model_class()
    builder = family.task_models.get(task.name)
    if builder is not None:
        from ..registry import import_target

        model = import_target(builder)(recipe, auto_class, head, accelerator)
    elif recipe.model.init_from:
        model = load_pretrained(recipe.model.init_from, auto_class, family, recipe.model.trust_remote_code,
                                say=accelerator.print, **head, **recipe.model.config)
        if len(tokenizer) > model.get_input_embeddings().num_embeddings:
            model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64)
        if task.side_texts:  # pairs: labels are target-tokenizer ids, which the decoder must predict
            check_decoder_vocabulary(model.config, tokenizer, f"model.init_from {recipe.model.init_from}")
    else:
        config = family.make_config(recipe.model.size, recipe.model.config, tokenizer)
        config.update(head)
        if family.build is not None:
            model = family.build(config)
        else:
            model = auto_class.from_config(config, attn_implementation="sdpa")
    model = family.prepare(model)
    if recipe.train.freeze:
        freeze(model, recipe.train.freeze, family)
    if recipe.peft is not None:
        model = add_lora(model, recipe.peft, family, task.peft_task_type)
    return model


def save_model(model, tokenizer, run_dir: Path, recipe: Recipe, state_dict: dict | None = None) -> dict[str, int]:
    """Save weights (safetensors) and tokenizer; a LoRA run saves its adapter, and with
    ``peft.merge`` also the merged model in RUN_DIR/merged. ``state_dict``: the full weights when
    the model's own are sharded across processes (gathered by ``accelerator.get_state_dict``).
    Returns the parameter counts."""
    counts = parameter_counts(model)
    with no_loading_bar():  # no "Writing model shards" bar: the run ends by naming its folder
        model.save_pretrained(run_dir, state_dict=state_dict)
        save_tokenizers(tokenizer, run_dir)
        if recipe.peft is not None:
            base = model.get_base_model()
            if base.can_generate():
                base.generation_config.save_pretrained(run_dir)  # pipelines read it from the adapter folder
            if recipe.peft.merge:
                merged = model.merge_and_unload()
                merged.save_pretrained(Path(run_dir) / "merged")
                save_tokenizers(tokenizer, Path(run_dir) / "merged")
    return counts


def hardware() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


def finish_run(run_dir: Path, recipe: Recipe, pipeline_tag: str, metrics: dict[str, Any], usage: str) -> dict[str, Any]:
    """Write metrics.json, the loss curve and the model card (main process only)."""
    write_metrics(run_dir, metrics)
    plot_loss_curve(run_dir, metrics.get("log", []), metrics.get("evals", []))
    refresh_model_card(run_dir, recipe, pipeline_tag, usage)
    return metrics


def refresh_model_card(run_dir: Path, recipe: Recipe, pipeline_tag: str, usage: str) -> None:
    card = render_model_card(recipe, load_card(recipe.data.card), pipeline_tag, read_metrics(run_dir), usage)
    write_model_card(run_dir, card)
