"""The run directory: a Hugging Face model folder plus our records (recipe, metrics, checkpoints)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import yaml

from .errors import ToolkitError
from .recipe import Recipe, recipe_from_dict
from .training.checkpoints import CHECKPOINTS, latest_checkpoint

RECIPE_FILE = "recipe.yaml"
METRICS_FILE = "metrics.json"
LOSS_PLOT = "loss_curve.png"
# Sections that decide what is trained: a resumed run must not change them.
_FIXED_ON_RESUME = ("task", "seed", "data", "tokenizer", "model")


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so readers never see half a file."""
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(text)
    os.chmod(handle.name, 0o644)  # NamedTemporaryFile makes 0600 files; run folders are shared
    os.replace(handle.name, path)


def prepare_run_dir(recipe: Recipe, resume: bool) -> Path:
    """Check the output folder before any work: never silently overwrite a previous run."""
    run_dir = Path(recipe.output.dir)
    occupied = run_dir.is_dir() and any(run_dir.iterdir())
    if occupied and not resume and not _holds_work(run_dir):
        shutil.rmtree(run_dir)  # a run that failed before training: nothing of value to keep
        occupied = False
    if resume:
        if not occupied or latest_checkpoint(run_dir) is None:
            raise ToolkitError(
                f"Cannot resume: {run_dir} holds no checkpoint (checkpoints are written every "
                f"train.save_every steps). Run without --resume to start this run."
            )
        saved = read_run_recipe(run_dir)
        changed = [s for s in _FIXED_ON_RESUME if getattr(saved, s) != getattr(recipe, s)]
        if changed:
            raise ToolkitError(
                f"Cannot resume {run_dir}: the recipe's {', '.join(changed)} section(s) differ from "
                f"the run's recipe.yaml, so the checkpoint does not fit. Resume with the same recipe, "
                f"or start a new run with another output.dir."
            )
    elif occupied:
        if not recipe.output.overwrite:
            raise ToolkitError(
                f"The output folder {run_dir} already holds files. Use --resume to continue that run, "
                f"output.overwrite=true to replace it, or choose another output.dir."
            )
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _holds_work(run_dir: Path) -> bool:
    """True when the folder has something worth keeping: weights, metrics or a checkpoint, or
    files that are not ours (it may be somebody's folder)."""
    ours_before_training = {RECIPE_FILE, "logs", "tokenizer.json", "tokenizer_config.json", CHECKPOINTS}
    names = {p.name for p in run_dir.iterdir()}
    return bool(names - ours_before_training) or latest_checkpoint(run_dir) is not None


def write_run_recipe(run_dir: Path, recipe: Recipe) -> None:
    write_atomic(Path(run_dir) / RECIPE_FILE, recipe.to_yaml())


def read_run_recipe(run_dir: str | Path) -> Recipe:
    path = Path(run_dir) / RECIPE_FILE
    if not path.is_file():
        raise ToolkitError(f"{run_dir} is not a toolkit run folder: it has no {RECIPE_FILE}.")
    return recipe_from_dict(yaml.safe_load(path.read_text(encoding="utf-8")), source=str(path))


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / RECIPE_FILE).is_file()


# Files and folders that are ours, not part of the model: kept out of Hub uploads. Pickles too
# (gensim's vectors.kv and the vectors.kv.*.npy arrays it writes beside a large one, in older
# word2vec runs): loading a downloaded pickle runs its code, so none is ever published.
NOT_FOR_UPLOAD = [f"{CHECKPOINTS}/*", f"{CHECKPOINTS}/**", "logs/**", "*.tmp", ".cache/**",
                  "*.kv", "*.kv.*", "*.pkl", "*.pickle"]
