"""Creating the Accelerator for a run from the recipe."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import ProjectConfiguration, set_seed

from ..recipe import TrainSection
from .precision import resolve_mixed_precision


def make_accelerator(train: TrainSection, seed: int, run_dir: Path, track: bool = True) -> Accelerator:
    """An Accelerator honouring the recipe: precision, accumulation, seeded data order, logging
    (TensorBoard in RUN_DIR/logs when installed and ``track``).

    Under ``accelerate launch`` the process group comes from the launcher; the recipe still
    decides precision and accumulation, so a run means the same thing however it is launched.
    """
    if AcceleratorState._shared_state and AcceleratorState().num_processes == 1:
        # Several runs in one Python process (notebooks, tests): start each from a clean state.
        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
    use_cpu = not torch.cuda.is_available()
    log_with = "tensorboard" if track and importlib.util.find_spec("tensorboard") else None
    accelerator = Accelerator(
        cpu=use_cpu,
        mixed_precision=resolve_mixed_precision(train.mixed_precision, use_cpu),
        gradient_accumulation_steps=train.grad_accum,
        # Our max_steps count optimizer steps; the schedule must not advance once per process.
        step_scheduler_with_optimizer=False,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=seed),
        project_config=ProjectConfiguration(project_dir=str(run_dir), logging_dir=str(Path(run_dir) / "logs")),
        log_with=log_with,
    )
    if log_with:
        accelerator.init_trackers(Path(run_dir).name)  # TensorBoard events in RUN_DIR/logs
    set_seed(seed)
    return accelerator
