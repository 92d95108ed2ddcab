"""What every torch task does after it has its data and model: data loaders, optimizer, the shared
loop, saving, metrics, loss curve and model card. Tasks differ in data, model, loss and metrics
only, so they describe those in a ``Training`` and hand it to ``train_and_save``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..errors import ToolkitError
from ..pretrained import parameter_counts
from ..embeddings import init_embeddings_from
from ..recipe import Recipe
from ..training import build_optimizer, build_scheduler, causal_lm_loss, fit
from ..training.checkpoints import disk_full_guard, model_bytes
from .common import RunOutcome, finish_run, hardware, save_model


@dataclass
class Training:
    """A task's side of a run."""

    model: torch.nn.Module
    tokenizer: Any
    train_dataset: Any
    eval_dataset: Any
    collate: Callable[[list[dict]], dict]
    # (accelerator, prepared model, prepared eval loader) -> metrics; may add "samples".
    evaluate: Callable[[Any, torch.nn.Module, DataLoader], dict[str, Any]]
    headline: tuple[str, ...]  # metric names reported as the run's final result
    pipeline_tag: str
    usage: str
    loss_fn: Callable = causal_lm_loss
    extra_metrics: dict[str, Any] | None = None  # task facts for metrics.json (labels, ...)
    eval_collate: Callable[[list[dict]], dict] | None = None  # when evaluation batches differ (fixed masks)
    carry: tuple[str, ...] = ()  # entries of the last evaluation copied to metrics.json's top level


# Examples hashed by data_fingerprint: evenly spaced, so a change anywhere in a small corpus and a
# reordered or resized large one are both seen, at the cost of reading a few dozen rows.
FINGERPRINT_ROWS = 64


def data_fingerprint(dataset) -> str:
    """A hash of the number of training examples and of FINGERPRINT_ROWS of them, evenly spaced:
    the same corpus, read and tokenized the same way, gives the same fingerprint."""
    count = len(dataset)
    digest = hashlib.sha256(str(count).encode())
    step = max(1, count // FINGERPRINT_ROWS)
    for index in sorted({*range(0, count, step), count - 1} - {-1}):
        row = dataset[index]
        digest.update(json.dumps(row, sort_keys=True, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)).encode())
    return digest.hexdigest()


def check_same_data(run_dir: Path, fingerprint: str, card: str) -> None:
    """Refuse to resume on training data other than what the latest checkpoint was trained on
    (checkpoints from before fingerprints were saved are not checked)."""
    from ..training import latest_checkpoint
    from ..training.checkpoints import LoopState

    checkpoint = latest_checkpoint(run_dir)
    saved = LoopState.read(checkpoint).data_fingerprint if checkpoint else None
    if saved is not None and saved != fingerprint:
        raise ToolkitError(
            f"Cannot resume {run_dir}: the corpus of data card {card} changed since the run started (its training "
            f"examples differ from those {checkpoint.name} was trained on), so the resumed run would not continue "
            f"the same training. Restore the corpus as it was, or start a new run with another output.dir."
        )


def train_and_save(recipe: Recipe, run_dir: Path, accelerator, parts: Training, resume: bool, callbacks=()) -> RunOutcome:
    """Train with the shared loop, save the model folder and write metrics and the model card."""
    fingerprint = data_fingerprint(parts.train_dataset)
    if resume:
        check_same_data(Path(run_dir), fingerprint, recipe.data.card)
    train_dl = DataLoader(
        parts.train_dataset, batch_size=recipe.train.batch_size, shuffle=True, drop_last=True,
        collate_fn=parts.collate, num_workers=recipe.train.num_workers,
        # Its own generator: creating an epoch iterator must not draw from the global RNG, or
        # dropout after a resume would differ from the uninterrupted run.
        generator=torch.Generator().manual_seed(recipe.seed),
    )
    if len(train_dl) == 0:
        raise ToolkitError(
            f"The train split has {len(parts.train_dataset)} examples, fewer than train.batch_size="
            f"{recipe.train.batch_size}; lower the batch size or use more data."
        )
    eval_dl = DataLoader(parts.eval_dataset, batch_size=recipe.eval.batch_size or recipe.train.batch_size,
                         collate_fn=parts.eval_collate or parts.collate)
    model = parts.model
    extra_metrics = dict(parts.extra_metrics or {})
    if recipe.model.embeddings_from:  # on resume too: the checkpoint then overwrites the weights
        extra_metrics["embeddings_from"] = init_embeddings_from(model, recipe.model.embeddings_from, parts.tokenizer)
        accelerator.print(f"Token embeddings from {recipe.model.embeddings_from}: "
                          f"{extra_metrics['embeddings_from']['coverage']:.1%} of the vocabulary found.")
    optimizer = build_optimizer(model, recipe.train)
    scheduler = build_scheduler(optimizer, recipe.train)
    model, optimizer, train_dl, eval_dl, scheduler = accelerator.prepare(model, optimizer, train_dl, eval_dl, scheduler)
    if accelerator.is_main_process and not resume:
        counts = parameter_counts(model)
        accelerator.print(
            f"{counts['parameters']:,} parameters ({counts['trainable_parameters']:,} trained), vocabulary "
            f"{len(parts.tokenizer)}, {len(parts.train_dataset):,} training examples, precision {accelerator.mixed_precision}."
        )
    state = fit(
        accelerator=accelerator, model=model, optimizer=optimizer, scheduler=scheduler, train_dataloader=train_dl,
        train=recipe.train, run_dir=run_dir, evaluate=lambda m: parts.evaluate(accelerator, m, eval_dl),
        loss_fn=parts.loss_fn, resume=resume, callbacks=callbacks, evaluate_first=bool(recipe.model.init_from),
        data_fingerprint=fingerprint,
    )
    metrics: dict[str, Any] = {}
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model, keep_fp32_wrapper=False)
        with disk_full_guard(Path(run_dir), lambda: model_bytes(unwrapped), cleanup=_weight_files(run_dir)):
            counts = save_model(unwrapped, parts.tokenizer, run_dir, recipe)
        final = state.evals[-1]
        headline = {name: final[name] for name in parts.headline}
        metrics = {
            "task": recipe.task,
            "vocab_size": len(parts.tokenizer),
            **extra_metrics,
            **{name: final[name] for name in parts.carry},
            "final": headline,
            "samples": final.get("samples", []),
            "evaluations": [{"split": recipe.eval.split, "card": recipe.data.card, "step": state.step, "metrics": headline}],
            "train": {
                "steps": state.step, "tokens_seen": state.tokens_seen, "train_seconds": state.train_seconds,
                "tokens_per_second": state.tokens_seen / max(state.train_seconds, 1e-9), **counts,
                "mixed_precision": accelerator.mixed_precision, "processes": accelerator.num_processes,
                "hardware": hardware(),
            },
            "evals": state.evals,
            "log": state.log,
        }
        if state.evals[0]["step"] == 0:  # fine-tuning: how the pretrained model did before
            metrics["before"] = state.evals[0]
        with disk_full_guard(Path(run_dir), lambda: len(json.dumps(metrics, default=str)) + 2**20):
            finish_run(run_dir, recipe, parts.pipeline_tag, metrics, parts.usage.format(model=run_dir))
    accelerator.wait_for_everyone()
    accelerator.end_training()  # closes trackers and, under a launcher, the process group
    return RunOutcome(run_dir=Path(run_dir), metrics=metrics)


def _weight_files(run_dir: Path) -> list[Path]:
    """The weight files a final save writes: a partial one is removed when the disk fills up, so
    the folder never holds a truncated model (its checkpoint is kept for --resume)."""
    names = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors", "merged")
    return [Path(run_dir) / name for name in names]


def evaluate_saved(
    run_dir: Path, recipe: Recipe, split: str, card: str | None, auto_class, *, view: str,
    examples: Callable[[Any, Any], Any], collate: Callable, evaluate: Callable, pipeline_tag: str, usage: str,
) -> dict[str, float]:
    """Re-evaluate a saved model folder on the ``view`` of a card's split: ``examples(corpus_split,
    tokenizer)`` makes the task's examples, ``evaluate(accelerator, model, loader)`` scores them. A
    run folder gets the result appended to its metrics.json and model card."""
    from .. import registry
    from ..data import load_card, load_corpus
    from ..data.corpus import check_view
    from ..pretrained import load_pretrained, remote_code_trust, resolve_source
    from ..reporting.metrics import read_metrics, write_metrics
    from ..rundir import is_run_dir
    from ..tokenization import load_tokenizer
    from ..training import make_accelerator
    from .common import refresh_model_card

    card = card or recipe.data.card
    check_view(load_card(card), view)  # labels, documents, tags: before the model and corpus are loaded
    family = registry.family(recipe.model.family)
    # A run folder's metrics.json gets the result appended: a damaged one stops us before the work.
    metrics = read_metrics(run_dir) if is_run_dir(run_dir) else {}
    # recipe.model.trust_remote_code is the user's --trust-remote-code (api.evaluate), never the folder's recipe.yaml.
    trust = recipe.model.trust_remote_code
    model = family.prepare(load_pretrained(str(run_dir), auto_class, family, trust, how_to_trust="--trust-remote-code"))
    tokenizer = load_tokenizer(resolve_source(str(run_dir)), trust_remote_code=remote_code_trust(str(run_dir), trust))
    corpus = load_corpus(card, view=view, max_rows=recipe.data.max_rows)
    if split not in corpus:
        raise ToolkitError(f"Split '{split}' is not in corpus {card}; it has {', '.join(corpus)}.")
    accelerator = make_accelerator(recipe.train, recipe.seed, Path(run_dir), track=False)
    loader = DataLoader(examples(corpus[split], tokenizer), batch_size=recipe.eval.batch_size or recipe.train.batch_size,
                        collate_fn=collate(tokenizer))
    model, loader = accelerator.prepare(model, loader)
    result = {k: v for k, v in evaluate(accelerator, model, loader).items() if isinstance(v, (int, float))}
    if accelerator.is_main_process and is_run_dir(run_dir):
        metrics.setdefault("evaluations", []).append({"split": split, "card": card, "metrics": result})
        write_metrics(run_dir, metrics)
        refresh_model_card(run_dir, recipe, pipeline_tag, usage.format(model=run_dir))
    return result
