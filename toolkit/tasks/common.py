"""Steps every torch task shares: the tokenizer of a run, and finishing a run folder."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data import load_card
from ..models import ModelFamily
from ..recipe import Recipe
from ..reporting.metrics import plot_loss_curve, read_metrics, write_metrics
from ..reporting.model_card import render_model_card, write_model_card
from ..tokenization import load_tokenizer, train_tokenizer


@dataclass
class RunOutcome:
    run_dir: Path
    metrics: dict[str, Any]


def run_tokenizer(recipe: Recipe, family: ModelFamily, train_texts, run_dir: Path, accelerator):
    """The run's tokenizer: the one already in the run folder (resume, other processes), else
    loaded from ``tokenizer.from`` or trained on the corpus, then saved into the run folder."""
    if (Path(run_dir) / "tokenizer.json").is_file():
        return load_tokenizer(run_dir)
    if recipe.tokenizer.from_:
        tokenizer = load_tokenizer(recipe.tokenizer.from_, family.special_tokens)
    else:
        tokenizer = train_tokenizer(recipe.tokenizer, train_texts, family.special_tokens)
    if accelerator.is_main_process:
        tokenizer.save_pretrained(run_dir)
    return tokenizer


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
