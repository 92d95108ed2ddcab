"""The one runner of every torch task: it trains a run (``run_task``) and re-evaluates a saved
model folder (``evaluate_run``) from the same ``TorchTask`` declaration (toolkit.tasks.base, which
calls in here; so this module takes the declaration as it comes and does not import it), so data
preparation, collation and scoring exist once and serve both."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pyarrow.compute
import torch
from torch.utils.data import DataLoader

from .. import registry
from ..data import load_card
from ..embeddings import init_embeddings_from
from ..errors import ToolkitError
from ..pretrained import parameter_counts
from ..recipe import Recipe
from ..tokenizer_sides import has_target
from ..training import build_optimizer, build_scheduler, fit, make_accelerator
from ..training.length_groups import LengthGroupedEpochSampler
from ..training.setup import model_is_sharded
from ..training.checkpoints import disk_full_guard, model_bytes
from .streaming import check_stream_run, is_streaming, open_task_stream, stream_data
from .eval_rows import eval_batch_size, scored_examples
from .common import (
    RunOutcome, finish_run, hardware, load_task_corpus, prepare_model, refresh_model_card, run_tokenizer, save_model,
)


def eval_batches(loader, max_batches: int | None):
    """The evaluation batches of a loader, at most ``max_batches`` of them (None: all). The loader
    holds only the examples ``eval_rows`` picks, so the cut no longer drops examples; it still ends
    one batch short of accelerate's own end of iteration, which is why the ``finally`` below stays.

    Accelerate registers a prepared loader as the "active" one when its iteration starts and
    unregisters it only when the iteration runs to its end. An evaluation cut at ``max_batches``
    never gets there, so the evaluation loader would stay active for the rest of training, and
    ``accelerator.accumulate`` (which syncs gradients when the *active* loader is at its end)
    would then sync at every micro-batch: gradient accumulation silently off after the first
    evaluation, and a resumed run (no evaluation yet) training differently from an uninterrupted
    one. So a cut iteration ends the loader's registration itself."""
    if max_batches is None:
        yield from loader
        return
    iterator = iter(loader)
    try:
        yield from itertools.islice(iterator, max_batches)
    finally:
        if hasattr(iterator, "close"):
            iterator.close()
        if hasattr(loader, "end"):  # accelerate's DataLoaderStateMixin.end(): unregister, idempotent
            loader.end()


def eval_loader(task, examples, tokenizer, recipe: Recipe, max_batches: int | None) -> DataLoader:
    """The evaluation loader of training and of ``toolkit eval`` alike: the examples a capped
    evaluation scores (``eval_rows``), batched and collated as the task evaluates them."""
    batch_size = eval_batch_size(recipe)
    return DataLoader(scored_examples(examples, max_batches, batch_size), batch_size=batch_size,
                      collate_fn=task.collate(tokenizer, recipe, for_eval=True))


def head_config(labels: list[str] | None) -> dict[str, Any]:
    """Config fields of a task head for these class names (none for a task without a head)."""
    if labels is None:
        return {}
    return {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
            "label2id": {label: i for i, label in enumerate(labels)}}


def saved_labels(config) -> list[str]:
    """The class names a saved head was trained with, in id order."""
    return [config.id2label[i] for i in range(len(config.id2label))]


@torch.no_grad()
def score(task, family, accelerator, model, loader, recipe: Recipe, labels, tokenizer, max_batches,
          extras: set[str] | None = None) -> dict[str, Any]:
    """The task's metrics on (at most ``max_batches`` of) a loader, plus the family's extras (ELMo's
    layer mix), whose names are added to ``extras``."""
    model.eval()
    batches = eval_batches(loader, max_batches)
    try:
        result = task.score(accelerator, model, batches, recipe, labels, tokenizer)
    finally:
        batches.close()  # a score that stopped early still unregisters a cut loader (see eval_batches)
    if family.evaluation_extras:
        found = registry.import_target(family.evaluation_extras)(accelerator.unwrap_model(model))
        result.update(found)
        if extras is not None:
            extras.update(found)
    return result


def usage_text(task, family, run_dir: Path) -> str:
    """The model card's usage code; folders of the toolkit's own model types need them registered."""
    preamble = ("import toolkit  # registers the toolkit's model types; or trust_remote_code=True without toolkit\n"
                if family.register_auto_classes else "")
    return preamble + task.usage.strip().format(model=run_dir)


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


def run_task(task, recipe: Recipe, run_dir: Path, resume: bool = False, callbacks=()) -> RunOutcome:
    """Prepare the data and model the task declares, train with the shared loop, save the model
    folder and write metrics and the model card."""
    card = load_card(recipe.data.card)
    streaming = is_streaming(recipe, card)
    if streaming:
        check_stream_run(task, recipe, card)
    accelerator = make_accelerator(recipe.train, recipe.seed, run_dir)
    try:
        return _train_and_save(task, recipe, card, streaming, run_dir, resume, callbacks, accelerator)
    except BaseException:
        # A failed run ends its trackers too (a finished one does in accelerator.end_training):
        # otherwise each failed run of a long-lived process (sweep trials, notebooks) leaves a
        # TensorBoard writer thread and an open events file behind.
        for tracker in accelerator.trackers:
            tracker.finish()
        raise


def _train_and_save(task, recipe: Recipe, card, streaming: bool, run_dir: Path, resume: bool, callbacks,
                    accelerator) -> RunOutcome:
    family = registry.family(recipe.model.family)
    with accelerator.main_process_first():  # the main process prepares and caches the data first
        if streaming:
            labels = None
            tokenizer, eval_examples, train_dl, fingerprint = stream_data(task, recipe, card, family, run_dir, accelerator)
            described = f"streamed training data ({accelerator.num_processes} shard(s))"
        else:
            corpus = load_task_corpus(recipe, task.view(recipe, card))
            side_texts = (lambda side: task.side_texts(corpus["train"], side)) if task.side_texts else None
            tokenizer = run_tokenizer(recipe, family, task.tokenizer_texts(corpus["train"]), run_dir, accelerator, side_texts)
            labels = task.labels(recipe, card, corpus["train"]) if task.labels else None
            examples = {split: task.encode(corpus[split], tokenizer, recipe, labels)
                        for split in dict.fromkeys(["train", recipe.eval.split])}
            eval_examples = examples[recipe.eval.split]
    model = prepare_model(recipe, family, task, tokenizer, head_config(labels), accelerator)
    task.finish_model(model, tokenizer, recipe)

    if not streaming:
        fingerprint = data_fingerprint(examples["train"])
        train_dl = _train_loader(task, examples["train"], tokenizer, recipe)
        described = f"{len(examples['train']):,} training examples"
    if resume:
        check_same_data(Path(run_dir), fingerprint, recipe.data.card)
    eval_dl = eval_loader(task, eval_examples, tokenizer, recipe, recipe.eval.max_batches)
    extra_metrics = dict(task.extra_metrics(recipe, labels))
    if recipe.model.embeddings_from:  # on resume too: the checkpoint then overwrites the weights
        extra_metrics["embeddings_from"] = init_embeddings_from(model, recipe.model.embeddings_from, tokenizer)
        accelerator.print(f"Token embeddings from {recipe.model.embeddings_from}: "
                          f"{extra_metrics['embeddings_from']['coverage']:.1%} of the vocabulary found.")
    optimizer = build_optimizer(model, recipe.train)
    scheduler = build_scheduler(optimizer, recipe.train)
    if streaming:  # each process reads its own shard, on its device: Accelerate must not split or dispatch it
        model, optimizer, eval_dl, scheduler = accelerator.prepare(model, optimizer, eval_dl, scheduler)
    else:
        model, optimizer, train_dl, eval_dl, scheduler = accelerator.prepare(model, optimizer, train_dl, eval_dl, scheduler)
    if accelerator.is_main_process and not resume:
        counts = parameter_counts(model)
        accelerator.print(
            f"{counts['parameters']:,} parameters ({counts['trainable_parameters']:,} trained), vocabulary "
            f"{vocabulary_sizes(tokenizer)}, {described}, precision {accelerator.mixed_precision}."
        )

    carried: set[str] = set()  # the family's extras (ELMo's layer weights), also copied to metrics.json's top level

    # Sharded weights (FSDP) are gathered layer by layer inside each forward pass, a collective every
    # process must join: then all processes generate the samples (the same ones: same weights, same
    # seed) and all gather the weights for the final save, where otherwise the main process alone does.
    sharded = model_is_sharded(accelerator)

    def evaluate(current, step):
        result = score(task, family, accelerator, current, eval_dl, recipe, labels, tokenizer, recipe.eval.max_batches, carried)
        unwrapped = accelerator.unwrap_model(current, keep_torch_compile=False)
        if task.samples and (accelerator.is_main_process or sharded):
            samples = task.samples(accelerator, unwrapped, tokenizer, recipe)
            if samples and accelerator.is_main_process:
                result["samples"] = samples
        # Drawn at every evaluation (the last one is of the final model, which fit() always
        # evaluates), so the run folder shows how the model changed over training. Drawing runs the
        # model on the main process alone, which sharded (FSDP) weights forbid.
        if accelerator.is_main_process and not sharded:
            if figures := draw_figures(task, unwrapped, tokenizer, recipe, Path(run_dir), step, accelerator):
                result["figures"] = figures
        return result

    state = fit(
        accelerator=accelerator, model=model, optimizer=optimizer, scheduler=scheduler, train_dataloader=train_dl,
        train=recipe.train, run_dir=run_dir, evaluate=evaluate, loss_fn=task.make_loss(recipe) if task.make_loss else task.loss, resume=resume, callbacks=callbacks,
        evaluate_first=bool(recipe.model.init_from), data_fingerprint=fingerprint,
    )
    if streaming:  # rounds of the main process's shard of the training stream
        extra_metrics["stream_passes"] = train_dl.passes
    metrics: dict[str, Any] = {}
    full_weights = accelerator.get_state_dict(model) if sharded else None  # a collective: every process
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model, keep_fp32_wrapper=False, keep_torch_compile=False)
        with disk_full_guard(Path(run_dir), lambda: model_bytes(unwrapped), cleanup=_weight_files(run_dir)):
            counts = save_model(unwrapped, tokenizer, run_dir, recipe, state_dict=full_weights)
            if task.finish_folder:
                task.finish_folder(Path(run_dir))
        if sharded and task.figures:
            accelerator.print("note: no figures in the run folder: the model is sharded (FSDP); "
                              "draw them from the saved folder.")
        final = state.evals[-1]
        headline = {name: final[name] for name in task.headline(recipe)}
        metrics = {
            "task": recipe.task,
            "vocab_size": len(tokenizer),
            **({"target_vocab_size": len(tokenizer.target_tokenizer)} if has_target(tokenizer) else {}),
            **extra_metrics,
            **{name: final[name] for name in sorted(carried)},
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
        if final.get("figures"):  # the last evaluation's, which the model card shows
            metrics["figures"] = final["figures"]
        if state.evals[0]["step"] == 0:  # fine-tuning: how the pretrained model did before
            metrics["before"] = state.evals[0]
        with disk_full_guard(Path(run_dir), lambda: len(json.dumps(metrics, default=str)) + 2**20):
            finish_run(run_dir, recipe, task.pipeline_tag, metrics, usage_text(task, family, run_dir))
    accelerator.wait_for_everyone()
    accelerator.end_training()  # closes trackers and, under a launcher, the process group
    return RunOutcome(run_dir=Path(run_dir), metrics=metrics)


def _train_loader(task, examples, tokenizer, recipe: Recipe) -> DataLoader:
    order = {"shuffle": True}
    if recipe.train.group_by_length:
        lengths = pyarrow.compute.list_value_length(examples.with_format("arrow")["input_ids"]).to_pylist()
        order = {"sampler": LengthGroupedEpochSampler(lengths, recipe.train.batch_size, recipe.seed)}
    loader = DataLoader(
        examples, batch_size=recipe.train.batch_size, drop_last=True, **order,
        collate_fn=task.collate(tokenizer, recipe, for_eval=False), num_workers=recipe.train.num_workers,
        # Its own generator: creating an epoch iterator must not draw from the global RNG, or
        # dropout after a resume would differ from the uninterrupted run.
        generator=torch.Generator().manual_seed(recipe.seed),
    )
    if len(loader) == 0:
        raise ToolkitError(
            f"The train split has {len(examples)} examples, fewer than train.batch_size="
            f"{recipe.train.batch_size}; lower the batch size or use more data."
        )
    return loader


def vocabulary_sizes(tokenizer) -> str:
    """'8000' for one tokenizer, 'source 5248 / target 1344' for a tokenizer per side."""
    if has_target(tokenizer):
        return f"source {len(tokenizer)} / target {len(tokenizer.target_tokenizer)}"
    return str(len(tokenizer))


def draw_figures(task, model, tokenizer, recipe: Recipe, run_dir: Path, step: int, accelerator) -> list[dict]:
    """The task's figures of the model at an evaluation (its ``figures`` hook)."""
    return _drawn(task.figures, (model, tokenizer, recipe, run_dir, step), accelerator)


def draw_eval_figures(task, found: dict, run_dir: Path, card: str, split: str, accelerator) -> list[dict]:
    """The task's figures of a re-evaluation (its ``eval_figures`` hook)."""
    return _drawn(task.eval_figures, (found, run_dir, card, split), accelerator)


def _drawn(target: str | None, args: tuple, accelerator) -> list[dict]:
    """A figure hook's figures; one that cannot be drawn (an unwritable folder, a missing font
    package) is reported and skipped: it must not cost the run its training, metrics and card."""
    if not target:
        return []
    try:
        return registry.import_target(target)(*args)
    except ToolkitError as error:
        accelerator.print(f"note: no figures in the run folder: {error}")
        return []


def _weight_files(run_dir: Path) -> list[Path]:
    """The weight files a final save writes: a partial one is removed when the disk fills up, so
    the folder never holds a truncated model (its checkpoint is kept for --resume)."""
    names = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors", "merged")
    return [Path(run_dir) / name for name in names]


def evaluate_run(task, run_dir: Path, recipe: Recipe, split: str, card: str | None = None,
                 max_batches: int | None = None) -> dict[str, float]:
    """Re-evaluate a saved model folder on a card's split (default: the recipe's card), with the
    same encode, collate and score as training. A run folder gets the result appended to its
    metrics.json and model card."""
    from ..data import load_corpus
    from ..data.corpus import check_view
    from ..pretrained import load_pretrained, remote_code_trust, resolve_source
    from ..reporting.metrics import read_metrics, write_metrics
    from ..rundir import is_run_dir
    from ..tokenization import load_tokenizer
    from ..tokenizer_sides import check_decoder_vocabulary, with_saved_target

    card = card or recipe.data.card
    data_card = load_card(card)
    view = task.view(recipe, data_card)
    check_view(data_card, view)  # labels, documents, tags: before the model and corpus are loaded
    family = registry.family(recipe.model.family)
    # A run folder's metrics.json gets the result appended: a damaged one stops us before the work.
    metrics = read_metrics(run_dir) if is_run_dir(run_dir) else {}
    # recipe.model.trust_remote_code is the user's --trust-remote-code (api.evaluate), never the folder's recipe.yaml.
    trust = recipe.model.trust_remote_code
    model = load_pretrained(str(run_dir), task.auto_model_class(), family, trust, how_to_trust="--trust-remote-code")
    model = family.prepare(model)
    folder, tokenizer_trust = resolve_source(str(run_dir)), remote_code_trust(str(run_dir), trust)
    tokenizer = with_saved_target(load_tokenizer(folder, trust_remote_code=tokenizer_trust), folder, tokenizer_trust)
    if task.side_texts:  # a task of source/target pairs: the decoder's vocabulary is the target tokenizer's
        check_decoder_vocabulary(model.config, tokenizer, str(run_dir))
    labels = saved_labels(model.config) if task.labels else None
    if is_streaming(recipe, data_card):  # the held-out rows of the stream, built whole
        import datasets

        corpus = {split: datasets.Dataset.from_list(open_task_stream(task, recipe, data_card, split)[1])}
    else:
        corpus = load_corpus(data_card, view=view, max_rows=recipe.data.max_rows)
    if split not in corpus:
        raise ToolkitError(f"Split '{split}' is not in corpus {card}; it has {', '.join(corpus)}.")
    accelerator = make_accelerator(recipe.train, recipe.seed, Path(run_dir), track=False)
    loader = eval_loader(task, task.encode(corpus[split], tokenizer, recipe, labels), tokenizer, recipe, max_batches)
    model, loader = accelerator.prepare(model, loader)
    found = score(task, family, accelerator, model, loader, recipe, labels, tokenizer, max_batches)
    result = {name: value for name, value in found.items() if isinstance(value, (int, float))}
    if accelerator.is_main_process and is_run_dir(run_dir):
        entry = {"split": split, "card": card, "metrics": result}
        if found.get("buckets"):  # a seq2seq run's scores per source length, for `toolkit compare --split`
            entry["buckets"] = found["buckets"]
        if figures := draw_eval_figures(task, found, Path(run_dir), data_card.name, split, accelerator):
            entry["figures"] = figures
        metrics.setdefault("evaluations", []).append(entry)
        write_metrics(run_dir, metrics)
        refresh_model_card(run_dir, recipe, task.pipeline_tag, usage_text(task, family, run_dir))
    return result
