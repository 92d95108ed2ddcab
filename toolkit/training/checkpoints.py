"""Checkpoints: Accelerate state (model, optimizer, scheduler, RNG, sampler) plus our loop state,
written to a temporary folder and renamed into place, so a crash never leaves a half checkpoint.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import ToolkitError

CHECKPOINTS = "checkpoints"
LOOP_STATE = "loop_state.json"
DATA_STATE = "data_state_{rank}.json"  # one per process: where its shard of a training stream stands


@dataclass
class LoopState:
    """Where the loop is, and what it has logged so far (so resumed runs keep the whole curve)."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    tokens_seen: int = 0
    train_seconds: float = 0.0
    log: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)
    # What was trained on (see data_fingerprint in tasks/runner.py): a resume on changed data is refused.
    data_fingerprint: str | None = None

    @classmethod
    def read(cls, folder: Path) -> LoopState:
        """The loop state saved in a checkpoint folder; a damaged one is a ToolkitError naming the
        folder and the file (and the checkpoint before it, if any)."""
        try:
            data = json.loads((folder / LOOP_STATE).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise damaged_checkpoint(folder, LOOP_STATE, "is not valid JSON (cut short or overwritten)") from None
        problem = _loop_state_problem(data, _step_of(folder))
        if problem:
            raise damaged_checkpoint(folder, LOOP_STATE, problem)
        return cls(**data)


_COUNTERS = ("step", "epoch", "batch_in_epoch", "tokens_seen")


def _loop_state_problem(data, folder_step: int | None) -> str | None:
    """What is wrong with a loop state read from JSON (None: nothing)."""
    if not isinstance(data, dict):
        return f"holds {type(data).__name__}, not a mapping"
    unknown = sorted(set(data) - {f.name for f in fields(LoopState)})
    if unknown:
        return f"has keys a loop state does not have ({', '.join(unknown)})"
    for name in _COUNTERS:
        value = data.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"gives {name} {value!r}, not a whole number >= 0"
    if folder_step is not None and data.get("step") != folder_step:
        return f"gives step {data.get('step')!r}, but the folder is step-{folder_step}"
    seconds = data.get("train_seconds", 0.0)
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds) or seconds < 0:
        return f"gives train_seconds {seconds!r}, not a number >= 0"
    for name in ("log", "evals"):
        if not isinstance(data.get(name, []), list) or not all(isinstance(r, dict) for r in data.get(name, [])):
            return f"gives {name} that is not a list of records"
    if not isinstance(data.get("data_fingerprint"), (str, type(None))):
        return "gives a data_fingerprint that is not text"
    return None


def damaged_checkpoint(folder: Path, name: str, problem: str) -> ToolkitError:
    """One paragraph: which checkpoint and file are damaged, and how to go on (the checkpoint
    before it, when there is one)."""
    step = _step_of(folder)
    older = [p for p in checkpoint_dirs(folder.parent.parent) if step is not None and _step_of(p) < step]
    way_on = (f"delete that folder to resume from the one before ({older[-1]}), or start over without --resume"
              if older else "no earlier checkpoint is left, so delete that folder and start over without --resume")
    return ToolkitError(f"Damaged checkpoint {folder}: {name} {problem}; {way_on}.")


_CHECKPOINT_NAME = re.compile(r"step-(\d+)")


def _step_of(folder: Path) -> int | None:
    """The step a checkpoint folder's name gives (step-N), None for any other name."""
    match = _CHECKPOINT_NAME.fullmatch(folder.name)
    return int(match.group(1)) if match else None


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first. Only step-N folders count: temporary ones (.tmp-step-N)
    and copies or other names a user made are skipped."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if _step_of(p) is not None and (p / LOOP_STATE).is_file()]
    return sorted(found, key=_step_of)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = checkpoint_dirs(run_dir)
    return found[-1] if found else None


def save_checkpoint(accelerator, run_dir: Path, state: LoopState, keep: int, model=None,
                    data_state: dict | None = None) -> Path:
    """Save atomically; every process must call this (each saves its own RNG state, and its own
    ``data_state``, the position in its shard of a stream). A full disk removes the partial folder,
    keeps the earlier checkpoints and raises a ToolkitError (``model`` sizes the estimate when there
    is no earlier checkpoint)."""
    root = Path(run_dir) / CHECKPOINTS
    final = root / f"step-{state.step}"
    temporary = root / f".tmp-step-{state.step}"
    if accelerator.is_main_process:
        shutil.rmtree(temporary, ignore_errors=True)
    try:
        with disk_full_guard(root, lambda: _checkpoint_bytes(run_dir, model), cleanup=temporary):
            if accelerator.is_main_process:
                temporary.mkdir(parents=True)
            accelerator.wait_for_everyone()
            accelerator.save_state(str(temporary), safe_serialization=True)
            if data_state is not None:
                data_file = temporary / DATA_STATE.format(rank=accelerator.process_index)
                data_file.write_text(json.dumps(data_state), encoding="utf-8")
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                (temporary / LOOP_STATE).write_text(json.dumps(asdict(state)), encoding="utf-8")
    except ToolkitError:
        raise
    except BaseException:
        if accelerator.is_main_process:  # interrupted mid-write: the partial folder is useless
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    if accelerator.is_main_process:
        if final.exists():
            shutil.rmtree(final)
        os.replace(temporary, final)
        for old in checkpoint_dirs(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


@contextmanager
def disk_full_guard(where: Path, needed_bytes: Callable[[], int], cleanup: Path | list[Path] = ()):
    """Turn a full disk (or quota) while writing into ``where`` into a ToolkitError saying how
    much room is needed; ``cleanup``, the partial output (files or folders), is removed first so
    the disk is not left full."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        for partial in [cleanup] if isinstance(cleanup, Path) else cleanup:
            if partial.is_dir() and not partial.is_symlink():
                shutil.rmtree(partial, ignore_errors=True)
            else:
                partial.unlink(missing_ok=True)
        megabytes = max(1, math.ceil(needed_bytes() / 2**20))
        raise ToolkitError(
            f"Disk full at {where}: about {megabytes} MB needed to write it ({exc.strerror}). The partial files were "
            f"removed and earlier checkpoints kept; free some space, then continue with --resume."
        ) from None


def _checkpoint_bytes(run_dir: Path, model) -> int:
    """The room a checkpoint needs: the size of the last one, else the model's weights plus the
    two AdamW moments."""
    last = latest_checkpoint(run_dir)
    if last is not None:
        return sum(p.stat().st_size for p in last.rglob("*") if p.is_file())
    return 3 * model_bytes(model) if model is not None else 0


def model_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def load_checkpoint(accelerator, folder: Path) -> LoopState:
    state = LoopState.read(folder)  # the small file first: a damaged one stops us before the weights load
    try:
        accelerator.load_state(str(folder))
    except Exception:
        # A damaged file makes torch, safetensors or pickle fail in many ways; only when one of the
        # files is found damaged does the error become the user's, anything else is a bug to see.
        damaged = damaged_file(folder)
        if damaged is None:
            raise
        raise damaged_checkpoint(folder, damaged.name, "is damaged (cut short or overwritten)") from None
    return state


def load_data_state(accelerator, folder: Path) -> dict:
    """This process's saved position in its training stream."""
    path = folder / DATA_STATE.format(rank=accelerator.process_index)
    saved = len(list(folder.glob(DATA_STATE.format(rank="*"))))
    if not path.is_file() or saved != accelerator.num_processes:
        why = (f"it holds the positions of {saved} processes and this run has {accelerator.num_processes}; resume "
               f"with as many processes as the run started with" if saved else
               "it was saved by a run that did not stream its training data; resume with the data settings the run "
               "started with")
        raise ToolkitError(f"Cannot resume the training stream from {folder}: {why}.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise damaged_checkpoint(folder, path.name, "is not valid JSON (cut short or overwritten)") from None


def damaged_file(folder: Path) -> Path | None:
    """The first file of a checkpoint that is not whole, read as data only: safetensors by their
    header, torch files (.bin, .pkl: zip archives) by their checksums. None when all look whole."""
    from safetensors import SafetensorError, safe_open

    for path in sorted(folder.iterdir()):
        if path.suffix == ".safetensors":
            try:
                with safe_open(str(path), framework="pt") as handle:
                    handle.keys()
            except (SafetensorError, OSError):
                return path
        elif path.suffix in (".bin", ".pkl", ".pt"):
            try:
                with zipfile.ZipFile(path) as archive:
                    if archive.testzip() is not None:
                        return path
            except (zipfile.BadZipFile, OSError, EOFError):
                return path
    return None
