"""Checkpoints: Accelerate state (model, optimizer, scheduler, RNG, sampler) plus our loop state,
written to a temporary folder and renamed into place, so a crash never leaves a half checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

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


def save_checkpoint(accelerator, run_dir: Path, state: LoopState, keep: int) -> Path:
    """Save atomically; every process must call this (each saves its own RNG state)."""
    root = Path(run_dir) / CHECKPOINTS
    final = root / f"step-{state.step}"
    temporary = root / f".tmp-step-{state.step}"
    if accelerator.is_main_process:
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(temporary), safe_serialization=True)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (temporary / LOOP_STATE).write_text(json.dumps(asdict(state)), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(temporary, final)
        for old in checkpoint_dirs(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator, folder: Path) -> LoopState:
    accelerator.load_state(str(folder))
    return LoopState.read(folder)
