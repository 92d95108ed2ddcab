"""The run directory: a Hugging Face model folder plus our records (recipe, metrics, checkpoints).

A run folder is the only place a run deletes anything, so this module decides what may go:
folders the toolkit made carry a marker file, a lock file keeps two runs out of one folder, and
nothing is removed that the toolkit does not recognise as its own.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

import yaml

from .errors import ToolkitError
from .recipe import Recipe
from .registry import checked_recipe_from_dict
from .training.checkpoints import CHECKPOINTS, LoopState, latest_checkpoint

RECIPE_FILE = "recipe.yaml"
METRICS_FILE = "metrics.json"
LOSS_PLOT = "loss_curve.png"
RUN_MARKER = ".toolkit-run"  # written when `toolkit run` creates the folder: only such folders are replaced
LOCK_FILE = ".toolkit-lock"  # held by the process that trains into the folder
# Sections that decide what is trained: a resumed run must not change them (nor the task's own
# sections, such as bert_pretrain's mlm: Recipe.task_sections).
_FIXED_ON_RESUME = ("task", "seed", "data", "tokenizer", "model", "peft")
# Train settings a resumed run may change: they decide how long to train and what to record,
# not what a step does (the optimizer and schedule state come from the checkpoint).
_TRAIN_CHANGEABLE_ON_RESUME = {"max_steps", "eval_every", "save_every", "keep_checkpoints", "log_every", "num_workers"}

# Top-level names the toolkit writes into a run folder (fnmatch patterns): the model folder of
# every family, our records, and the temporary files of write_atomic.
_OUR_NAMES = (
    RECIPE_FILE, METRICS_FILE, LOSS_PLOT, "README.md", RUN_MARKER, LOCK_FILE, CHECKPOINTS, "logs", "merged", ".cache",
    "config.json", "generation_config.json", "model.safetensors", "model-*-of-*.safetensors",
    "model.safetensors.index.json", "adapter_config.json", "adapter_model.safetensors",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.txt", "vocab.json", "merges.txt", "chat_template.jinja", "modeling_*.py", "configuration_*.py",
    "vectors.kv", "vectors.kv.*.npy", "vectors.txt", "vectors.bin", "word2vec_config.json", "*.tmp",
    "text2text_pipeline.py", "attention", "buckets-*.png",
)
# What a run writes before it has trained anything: a folder holding only these is a failed start.
_BEFORE_TRAINING = {RUN_MARKER, LOCK_FILE, RECIPE_FILE, "logs", "tokenizer.json", "tokenizer_config.json",
                    "special_tokens_map.json", CHECKPOINTS}


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so readers never see half a file; a failed
    write (a full disk) leaves no temporary file behind."""
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as handle:
        try:
            handle.write(text)
            handle.flush()
        except OSError:
            handle.close()
            os.unlink(handle.name)
            raise
    os.chmod(handle.name, 0o644)  # NamedTemporaryFile makes 0600 files; run folders are shared
    os.replace(handle.name, path)


# --------------------------------------------------------------------------- the lock


class RunLock:
    """A lock file in the run folder naming the process (PID and host) that trains into it.

    Created with a hard link, which fails when the file exists, so of two runs starting together
    exactly one gets it. A lock whose process is gone (killed, crashed) is stale and taken over.
    """

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        path = run_dir / LOCK_FILE
        mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
        for _ in range(3):  # a stale lock removed by another starter at the same moment: try again
            try:
                run_dir.mkdir(parents=True, exist_ok=True)
                if _link_new_file(path, mine):
                    return cls(path)
            except OSError as exc:
                raise ToolkitError(f"Cannot write to the output folder {run_dir} ({exc.strerror}); "
                                   f"choose an output.dir you can write to.") from None
            holder = _lock_holder(path)
            if holder is not None and _holder_alive(holder):
                raise ToolkitError(
                    f"Another run is training into {run_dir} (process {holder['pid']} on {holder['host']}, "
                    f"see {path}). Wait for it to finish or choose another output.dir; if that process is "
                    f"really gone, delete {path}."
                )
            try:
                path.unlink()  # stale: its process has ended without releasing it
            except FileNotFoundError:
                pass
        raise ToolkitError(f"Could not take the lock {path}: other runs keep starting in {run_dir}; choose another output.dir.")

    def release(self) -> None:
        holder = _lock_holder(self.path)
        if holder is not None and holder.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)


def _link_new_file(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text`` unless it exists, atomically; False when it exists."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".lock-", suffix=".tmp", delete=False) as handle:
        handle.write(text)
    try:
        os.link(handle.name, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # a filesystem without hard links: exclusive create, then write
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "w", encoding="utf-8") as lock:
            lock.write(text)
        return True
    finally:
        os.unlink(handle.name)


def _lock_holder(path: Path) -> dict | None:
    """The lock's PID and host, or None when it is missing or unreadable (not a lock we wrote)."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int) or not isinstance(holder.get("host"), str):
        return None
    return holder


def _holder_alive(holder: dict) -> bool:
    if holder["host"] != socket.gethostname():
        return True  # another machine sharing the folder: its processes cannot be checked from here
    if holder["pid"] == os.getpid():
        return False  # our own PID, not released: a killed earlier run whose PID we got (containers reuse PIDs)
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by somebody else
    return True


# --------------------------------------------------------------------------- preparing the folder


def claim_run_dir(recipe: Recipe, resume: bool) -> RunLock:
    """Lock the recipe's output folder for this process, check it (never silently replace a
    previous run or anybody's files) and write the run's recipe.yaml. The caller releases the lock."""
    run_dir = Path(recipe.output.dir)
    if resume and not run_dir.is_dir():
        raise _nothing_to_resume(run_dir)
    lock = RunLock.acquire(run_dir)
    try:
        prepare_run_dir(recipe, resume)
        write_run_recipe(run_dir, recipe)  # on resume too: only changes check_resumable allows
    except BaseException:
        lock.release()
        raise
    return lock


def prepare_run_dir(recipe: Recipe, resume: bool) -> Path:
    """Check the output folder before any work: resume only a matching run, and replace only a
    folder the toolkit made. The folder exists afterwards and carries the run marker."""
    run_dir = Path(recipe.output.dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume:
        check_resumable(run_dir, recipe)
    else:
        _make_room(run_dir, recipe.output.overwrite)
    (run_dir / RUN_MARKER).write_text(
        "This folder was created by `toolkit run`; output.overwrite=true may replace it.\n", encoding="utf-8")
    return run_dir


def check_resumable(run_dir: Path, recipe: Recipe) -> None:
    """Refuse a resume that would not continue the saved run as the recipe says."""
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise _nothing_to_resume(run_dir)
    saved = read_run_recipe(run_dir)
    changed = [s for s in _FIXED_ON_RESUME if getattr(saved, s) != getattr(recipe, s)]
    task_sections = saved.task_sections.keys() | recipe.task_sections.keys()
    changed += sorted(s for s in task_sections if saved.task_sections.get(s) != recipe.task_sections.get(s))
    if changed:
        raise ToolkitError(
            f"Cannot resume {run_dir}: the recipe's {', '.join(changed)} section(s) differ from "
            f"the run's recipe.yaml, so the checkpoint does not fit. Resume with the same recipe, "
            f"or start a new run with another output.dir."
        )
    changed = _changed_train_keys(saved.train.model_dump(), recipe.train.model_dump())
    if changed:
        raise ToolkitError(
            f"Cannot resume {run_dir}: {', '.join(changed)} differ from the run's recipe.yaml, and the "
            f"checkpoint carries the optimizer and schedule state of the old values, so the run would not "
            f"train as the recipe says. Resume with the saved values (a resumed run may change only "
            f"{', '.join(f'train.{k}' for k in sorted(_TRAIN_CHANGEABLE_ON_RESUME))}), or start a new run with "
            f"another output.dir."
        )
    step = LoopState.read(checkpoint).step
    if recipe.train.max_steps < step:
        raise ToolkitError(
            f"Cannot resume {run_dir} with train.max_steps={recipe.train.max_steps}: its latest checkpoint "
            f"({checkpoint.name}) is already at step {step}. Use train.max_steps={step} to finish the run "
            f"from that checkpoint, or a larger value to train on."
        )


def _changed_train_keys(saved: dict, wanted: dict, prefix: str = "train") -> list[str]:
    """Dotted names of the train settings that differ and may not change on resume."""
    changed = []
    for key in sorted(set(saved) | set(wanted)):
        if prefix == "train" and key in _TRAIN_CHANGEABLE_ON_RESUME:
            continue
        old, new = saved.get(key), wanted.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changed += _changed_train_keys(old, new, f"{prefix}.{key}")
        elif old != new:
            changed.append(f"{prefix}.{key} ({old!r} -> {new!r})")
    return changed


def _nothing_to_resume(run_dir: Path) -> ToolkitError:
    return ToolkitError(
        f"Cannot resume: {run_dir} holds no checkpoint (checkpoints are written every "
        f"train.save_every steps). Run without --resume to start this run."
    )


def _make_room(run_dir: Path, overwrite: bool) -> None:
    """Empty the folder for a new run when that loses nothing: leftovers of a failed start, or
    a previous run with output.overwrite=true. Anything else is refused."""
    if not _entries(run_dir):
        return
    refusal = _removal_refusal(run_dir)
    if refusal is None and _is_failed_start(run_dir):
        _clear(run_dir)  # a run that failed before training: nothing of value to keep
        return
    if refusal is not None:
        raise ToolkitError(
            f"The output folder {run_dir} already holds files, and {refusal}, so the toolkit will not "
            f"replace it{' even with output.overwrite=true' if overwrite else ''}. Choose another output.dir "
            f"(a new or empty folder)."
        )
    if not overwrite:
        raise ToolkitError(
            f"The output folder {run_dir} already holds files. Use --resume to continue that run, "
            f"output.overwrite=true to replace it, or choose another output.dir."
        )
    _clear(run_dir)


def _removal_refusal(run_dir: Path) -> str | None:
    """Why the folder may not be emptied (a clause of a sentence), or None when it is a run
    folder of ours holding only our files."""
    where = run_dir.resolve()
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    if where == cwd or where in cwd.parents:
        return "it is the current folder or one that contains it"
    if where == home or where in home.parents or where.parent == where:
        return "it is your home folder, the filesystem root or a folder above your home"
    strangers = _unrecognised(run_dir)
    if strangers:
        shown = ", ".join(strangers[:5]) + (f" and {len(strangers) - 5} more" if len(strangers) > 5 else "")
        return f"it holds files a toolkit run does not write ({shown})"
    if not (run_dir / RUN_MARKER).is_file() and not _is_old_run(run_dir):
        return f"it is not a toolkit run folder (no {RUN_MARKER} marker, no recipe.yaml with results)"
    return None


def _is_old_run(run_dir: Path) -> bool:
    """A run folder from before the marker existed: its recipe plus results or a checkpoint."""
    return (run_dir / RECIPE_FILE).is_file() and (
        (run_dir / METRICS_FILE).is_file() or latest_checkpoint(run_dir) is not None)


def _is_failed_start(run_dir: Path) -> bool:
    """A folder this toolkit made for a run that stopped before its first checkpoint."""
    names = {p.name for p in _entries(run_dir)}
    return (RUN_MARKER in names and names <= _BEFORE_TRAINING
            and latest_checkpoint(run_dir) is None and not _unrecognised(run_dir))


def _unrecognised(run_dir: Path) -> list[str]:
    """Relative paths in the folder that no toolkit run writes (somebody else's files)."""
    found = []
    for entry in sorted(_entries(run_dir)):
        if not any(fnmatch.fnmatch(entry.name, pattern) for pattern in _OUR_NAMES):
            found.append(entry.name)
        elif entry.name == "logs" and entry.is_dir() and not entry.is_symlink():
            # TensorBoard event files, in one folder per run name
            found += [p.relative_to(run_dir).as_posix() for p in sorted(entry.rglob("*"))
                      if (p.is_file() or p.is_symlink()) and not p.name.startswith("events.out.tfevents.")]
        elif entry.name == CHECKPOINTS and entry.is_dir() and not entry.is_symlink():
            found += [p.relative_to(run_dir).as_posix() for p in sorted(entry.iterdir())
                      if not fnmatch.fnmatch(p.name, "step-*") and not fnmatch.fnmatch(p.name, ".tmp-step-*")]
    return found


def _entries(run_dir: Path) -> list[Path]:
    """The folder's entries, except the lock of the run that is preparing it."""
    return [p for p in run_dir.iterdir() if p.name != LOCK_FILE]


def _clear(run_dir: Path) -> None:
    """Remove the folder's entries (not the folder, which holds our lock); links are removed,
    never followed."""
    for entry in _entries(run_dir):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


# --------------------------------------------------------------------------- the recipe of a run


def write_run_recipe(run_dir: Path, recipe: Recipe) -> None:
    write_atomic(Path(run_dir) / RECIPE_FILE, recipe.to_yaml())


def read_run_recipe(run_dir: str | Path) -> Recipe:
    path = Path(run_dir) / RECIPE_FILE
    if not path.is_file():
        raise ToolkitError(f"{run_dir} is not a toolkit run folder: it has no {RECIPE_FILE}.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or type(exc).__name__
        raise ToolkitError(
            f"{path} is damaged ({problem}): it should hold the recipe the run was trained with. Restore it "
            f"(e.g. from a copy of the recipe you ran), or start a new run with another output.dir."
        ) from None
    if not isinstance(data, dict):
        raise ToolkitError(
            f"{path} is damaged: it should hold the recipe the run was trained with (a YAML mapping), but it holds "
            f"{'nothing' if data is None else 'a ' + type(data).__name__}. Restore it, or start a new run with another output.dir."
        )
    return checked_recipe_from_dict(data, source=str(path))


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / RECIPE_FILE).is_file()


# Files and folders that are ours, not part of the model: kept out of Hub uploads. Pickles too
# (gensim's vectors.kv and the vectors.kv.*.npy arrays it writes beside a large one, in older
# word2vec runs): loading a downloaded pickle runs its code, so none is ever published.
NOT_FOR_UPLOAD = [f"{CHECKPOINTS}/*", f"{CHECKPOINTS}/**", "logs/**", "*.tmp", ".cache/**", RUN_MARKER, LOCK_FILE,
                  "*.kv", "*.kv.*", "*.pkl", "*.pickle"]
