"""The Python API; the CLI is a thin shell over these functions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ToolkitError
from .recipe import SEED_LIMIT, Recipe
from .registry import load_recipe
from .rundir import RunLock, claim_run_dir, read_run_recipe


@dataclass
class RunResult:
    """What `run` returns: the run folder and its metrics (metrics.json content)."""

    run_dir: Path
    metrics: dict[str, Any]
    relaunched: bool = False  # trained in child processes (launch.accelerate_config), which printed


def _launched_by_accelerate() -> bool:
    return "LOCAL_RANK" in os.environ or "ACCELERATE_LAUNCHED" in os.environ or "WORLD_SIZE" in os.environ


def accelerate_config_file(config: str) -> Path:
    """The file launch.accelerate_config names (a path, or a bundled config's name), checked to be
    a YAML mapping: `validate` and `run` refuse a bad one before anything is launched."""
    import yaml

    from .paths import bundled_dir
    from .yamlfile import describe_yaml_error, load_user_yaml

    path = Path(config).expanduser()
    if not path.is_file():
        path = bundled_dir("accelerate_configs") / Path(config).name
    if not path.is_file():
        raise ToolkitError(f"launch.accelerate_config: no such file '{config}' (see accelerate_configs/).")
    try:
        data = load_user_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ToolkitError(f"launch.accelerate_config: {path} is not valid YAML{describe_yaml_error(exc)}; "
                           f"write it with `accelerate config` or start from accelerate_configs/.") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise ToolkitError(f"launch.accelerate_config: cannot read {path} as text ({exc}).") from None
    if not isinstance(data, dict):
        raise ToolkitError(f"launch.accelerate_config: {path} holds {type(data).__name__}, not a YAML mapping of "
                           f"accelerate settings (compute_environment, num_processes ...; see accelerate_configs/).")
    return path


def _relaunch(recipe: Recipe, config: str, resume: bool) -> RunResult:
    """Run this recipe under `accelerate launch --config_file config` in child processes."""
    config_path = accelerate_config_file(config)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as handle:
        handle.write(recipe.to_yaml())
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_path),
               "-m", "toolkit", "run", handle.name, "launch.accelerate_config=null"]
    if resume:
        command.append("--resume")
    env = {**os.environ, "ACCELERATE_LAUNCHED": "1"}
    try:
        returncode = _wait_through_ctrl_c(subprocess.Popen(command, env=env))
    finally:
        os.unlink(handle.name)
    if returncode == 130:  # the children stopped on Ctrl-C and said where they saved
        raise KeyboardInterrupt
    if returncode != 0:
        raise ToolkitError(f"The launched run exited with code {returncode} (see its output above).")
    from .reporting.metrics import read_metrics

    return RunResult(Path(recipe.output.dir), read_metrics(Path(recipe.output.dir)), relaunched=True)


def _wait_through_ctrl_c(child: subprocess.Popen) -> int:
    """Wait for the launched processes even through Ctrl-C: the terminal sends it to them too,
    and they need the time to finish their step and save a checkpoint (a second Ctrl-C reaches
    them as well and aborts at once). A SIGTERM sent to this process alone (a scheduler, `kill`)
    is passed on to the launcher, which passes it to the training processes: they stop at a step
    boundary with a checkpoint, as a run without a launcher does."""
    try:
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
    except ValueError:  # not the main thread: signals stay with whoever handles them
        previous = None
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _prepare_run_dir_once(recipe: Recipe, resume: bool) -> tuple[Path, RunLock | None]:
    """Lock, check and prepare the run folder on the main process only; under a launcher the
    other processes wait for it and share its verdict, so none of them sees the main process's
    files (or its lock) as somebody else's run. Returns the folder and the lock this process holds."""
    if not _launched_by_accelerate():
        return Path(recipe.output.dir), claim_run_dir(recipe, resume)
    import torch
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    state = PartialState(cpu=not torch.cuda.is_available())
    verdict, lock = [None], None
    if state.is_main_process:
        try:
            lock = claim_run_dir(recipe, resume)
        except ToolkitError as error:
            verdict = [str(error)]
    if state.num_processes > 1:
        verdict = broadcast_object_list(verdict)
    if verdict[0]:
        raise ToolkitError(verdict[0])
    return Path(recipe.output.dir), lock


def run(recipe: str | Path | Recipe, overrides: list[str] | None = None, resume: bool = False,
        callbacks=()) -> RunResult:
    """Train (and evaluate) what a recipe says; returns the run folder and its metrics.

    ``recipe`` is a path, a bundled recipe name (``gpt2/tiny_pretrain``) or a Recipe;
    ``overrides`` are dotted ``key=value`` strings. ``resume`` continues from the latest
    checkpoint in the recipe's output folder. The run folder is locked while the run lasts.
    """
    from . import registry

    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, overrides)
    elif overrides:
        raise ToolkitError("Overrides apply to recipe files; edit the Recipe object instead.")
    # Inputs that can be checked without work are checked before the run folder is touched.
    from .data.sources import check_card_files

    check_card_files(recipe.data.card)
    if recipe.model.init_from:
        from .pretrained import resolve_source

        resolve_source(recipe.model.init_from)
    if recipe.model.embeddings_from and not Path(recipe.model.embeddings_from).expanduser().exists():
        raise ToolkitError(f"model.embeddings_from: {recipe.model.embeddings_from} does not exist; give a word2vec run "
                           f"folder (train one with recipes/word2vec/skipgram_char_pd98.yaml) or a word2vec .bin/.txt vectors file.")
    if recipe.launch.accelerate_config and not _launched_by_accelerate():
        return _relaunch(recipe, recipe.launch.accelerate_config, resume)
    run_dir, lock = _prepare_run_dir_once(recipe, resume)
    try:
        outcome = registry.task(recipe.task).run(recipe, run_dir, resume=resume, callbacks=callbacks)
        if recipe.hub.push and outcome.metrics:
            from .hub import push_run

            push_run(run_dir, recipe.hub.repo_id, private=recipe.hub.private)
    finally:
        if lock is not None:
            lock.release()  # also on errors and Ctrl-C; after SIGKILL the next run finds it stale
    return RunResult(outcome.run_dir, outcome.metrics)


def evaluate(run_dir: str | Path, card: str | None = None, split: str = "test",
             max_batches: int | None = None, trust_remote_code: bool = False) -> dict[str, float]:
    """Re-evaluate a run folder on a card's split (default: its own card), appending the result
    to its metrics and model card; any other model folder or Hub id needs ``card``.
    ``trust_remote_code`` lets the folder's own model code run (only for folders you trust)."""
    from . import registry
    from .pretrained import model_folder
    from .rundir import is_run_dir

    if max_batches is not None and max_batches < 1:
        raise ToolkitError(f"max_batches {max_batches} is not allowed: give at least 1, or None for all batches.")
    if card is not None and not card.strip():  # an empty name must not quietly mean the run's own card
        raise ToolkitError(f"The card name (--card) {card!r} is empty: give a card name or path "
                           f"(see `toolkit data list`), or leave --card out to use the run's own card.")
    if is_run_dir(run_dir):  # its task checks its own files (word2vec runs have no config.json)
        recipe = read_run_recipe(run_dir)
    else:  # a missing or empty folder is named before any talk of recipes or cards
        model_folder(run_dir)
        recipe = _recipe_for_model(str(run_dir), card)
    # Trust is the caller's alone: the folder's own recipe.yaml saying trust_remote_code must not count.
    recipe = recipe.model_copy(update={"model": recipe.model.model_copy(update={"trust_remote_code": trust_remote_code})})
    return registry.task(recipe.task).evaluate(Path(run_dir), recipe, split, card, max_batches)


def _recipe_for_model(model: str, card: str | None) -> Recipe:
    """A minimal recipe to evaluate a model that was not trained by the toolkit."""
    from transformers import PretrainedConfig

    from . import registry
    from .pretrained import loading_error, resolve_source

    if not card:
        raise ToolkitError(f"{model} is not a toolkit run folder (no recipe.yaml): give --card NAME to evaluate it on.")
    try:  # config.json read as data: none of the folder's code runs before its type is known
        config, _ = PretrainedConfig.get_config_dict(resolve_source(model))
    except (OSError, ValueError) as exc:
        raise loading_error(model, "the config of", exc) from None
    model_type = config.get("model_type")
    family = next((f for f in registry.all_families() if model_type in f.model_types), None)
    if family is None:
        raise ToolkitError(f"'{model}' is a {model_type} model, which no toolkit family evaluates.")
    task = _task_for_architecture(model, (config.get("architectures") or [""])[0], family)
    positions = config.get("n_positions") or config.get("max_position_embeddings") or 128
    data = {"card": card, "block_size": min(128, positions)}
    if task == "token_classification":
        data["tags"] = _tags_of_labels(list((config.get("id2label") or {}).values()))
    return registry.checked_recipe_from_dict({
        "task": task, "data": data,
        "model": {"family": family.name, "init_from": model}, "output": {"dir": model},
    }, source=f"<evaluation of {model}>")


# The task that evaluates a model, by the ending of its architecture's name (config.json). The
# first family task would re-evaluate a fine-tuned classifier as a pretraining model.
TASK_FOR_ARCHITECTURE = {
    "ForSequenceClassification": ("sequence_classification",),
    "ForTokenClassification": ("token_classification",),
    "ForMaskedLM": ("bert_pretrain",), "ForPreTraining": ("bert_pretrain",),
    "ForCausalLM": ("causal_lm",), "LMHeadModel": ("causal_lm",),
    "ElmoModel": ("bilm",),
}


def _tags_of_labels(labels: list[str]) -> str:
    """The data.tags scheme a token classifier was trained for, read from its label names."""
    from .data.char_tags import FIXED_LABELS

    return next((scheme for scheme, fixed in FIXED_LABELS.items() if set(labels) <= set(fixed)), "pos")


def _task_for_architecture(model: str, architecture: str, family) -> str:
    """The family's task that evaluates this architecture; a family with one task needs no name."""
    candidates = next((tasks for ending, tasks in TASK_FOR_ARCHITECTURE.items() if architecture.endswith(ending)), ())
    task = next((t for t in candidates if t in family.tasks), None)
    if task is None and len(family.tasks) == 1:
        task = family.tasks[0]
    if task is None:
        raise ToolkitError(
            f"'{model}' holds a {architecture or 'model with no architecture in config.json'}, which no "
            f"{family.name} task evaluates (tasks: {', '.join(family.tasks)})."
        )
    return task


def generate(run_dir: str | Path, prompts: list[str], seed: int | None = None, trust_remote_code: bool = False,
             **settings) -> list[str]:
    """Continue prompts with a causal LM folder; settings as in the recipe's eval.generation.
    ``trust_remote_code`` lets the folder's own model code run (only for folders you trust)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .generation import checked_settings, generate_text
    from .pretrained import check_tokenizer_files, loading_error, model_folder, no_loading_bar, remote_code_trust

    section = checked_settings(settings)
    if seed is not None and not (isinstance(seed, int) and 0 <= seed < SEED_LIMIT):
        raise ToolkitError(f"seed {seed!r} is not allowed: give a whole number with 0 <= seed < 2**32, or None.")
    source = model_folder(run_dir)
    check_tokenizer_files(source)
    try:
        trust = remote_code_trust(source, trust_remote_code)
        with no_loading_bar():  # the generated text is the output
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust)
            model = AutoModelForCausalLM.from_pretrained(source, trust_remote_code=trust)
    except (OSError, ValueError) as exc:
        raise loading_error(source, "a text-generation model from", exc, command="generate") from None
    return generate_text(model, tokenizer, prompts, section, seed=seed)


def translate(run_dir: str | Path, sources: str | list[str], num_return_sequences: int = 1,
              trust_remote_code: bool = False, **settings) -> list[str]:
    """Translate source texts with a seq2seq run folder (pinyin -> characters, English -> Chinese),
    decoding as its recipe's eval.generation says; ``settings`` change that (num_beams,
    max_new_tokens, no_repeat_ngram_size, length_penalty ...). Returns ``num_return_sequences``
    outputs per source, one source's after the other, the best first. ``trust_remote_code`` lets
    the folder's own model code run (only for folders you trust)."""
    from .translation import translate_texts

    return translate_texts(run_dir, sources, num_return_sequences=num_return_sequences,
                           trust_remote_code=trust_remote_code, **settings)


def attention(run_dir: str | Path, source: str, out: str | Path = "attention.png", layer: int | None = None,
              head: int | None = None, trust_remote_code: bool = False, **settings):
    """Decode ``source`` with a seq2seq run folder (greedy unless ``settings`` give num_beams) and
    write the cross-attention heatmap behind the output to ``out``: every decoder layer (or the
    1-based ``layer``), heads averaged (or the 1-based ``head``). Returns the maps, with
    ``alignment_by_layer`` on a card whose alignment is monotone (pinyin -> characters)."""
    from .translation import draw_attention

    return draw_attention(run_dir, source, out=out, layer=layer, head=head,
                          trust_remote_code=trust_remote_code, **settings)
