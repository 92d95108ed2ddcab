"""Checkpoints: Accelerate state (model, optimizer, scheduler, RNG, sampler) plus our loop state,
written to a temporary folder and renamed into place, so a crash never leaves a half checkpoint.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ToolkitError

CHECKPOINTS = "checkpoints"
LOOP_STATE = "loop_state.json"


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

    @classmethod
    def read(cls, folder: Path) -> LoopState:
        return cls(**json.loads((folder / LOOP_STATE).read_text(encoding="utf-8")))


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (temporary folders start with a dot and are skipped)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.glob("step-*") if (p / LOOP_STATE).is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = checkpoint_dirs(run_dir)
    return found[-1] if found else None


def save_checkpoint(accelerator, run_dir: Path, state: LoopState, keep: int, model=None) -> Path:
    """Save atomically; every process must call this (each saves its own RNG state). A full disk
    removes the partial folder, keeps the earlier checkpoints and raises a ToolkitError (``model``
    sizes the estimate when there is no earlier checkpoint)."""
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
    accelerator.load_state(str(folder))
    return LoopState.read(folder)
