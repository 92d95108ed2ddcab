"""Creating the Accelerator for a run from the recipe."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import DistributedType, ProjectConfiguration, set_seed

from ..errors import ToolkitError
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
        # train.compile: prepare() wraps the model in torch.compile (inductor). Off, the launch config's
        # dynamo settings (if any) decide, as Accelerate does by default.
        dynamo_backend="inductor" if train.compile else None,
    )
    _check_fsdp_honoured(accelerator)
    if log_with:
        accelerator.init_trackers(Path(run_dir).name)  # TensorBoard events in RUN_DIR/logs
    set_seed(seed)
    return accelerator


class ShardingUnavailable(ToolkitError):
    """The launch config asks for FSDP where Accelerate cannot shard (no GPU)."""


def _check_fsdp_honoured(accelerator: Accelerator) -> None:
    """Refuse an FSDP launch that Accelerate turned into plain data parallelism.

    `accelerate launch` with ``distributed_type: FSDP`` sets ACCELERATE_USE_FSDP, but Accelerate
    (1.15, ``AcceleratorState.__init__`` in accelerate/state.py) only switches to FSDP when the
    process group is of a GPU-like type (MULTI_GPU, MULTI_XPU, ...); with ``cpu=True`` it is
    MULTI_CPU and the model is wrapped in DDP without a word, even though torch's FSDP2 itself
    runs on CPU over gloo. A run that silently replicates the model instead of sharding it would
    report numbers that mean something else, so it stops here.
    """
    asked = os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"
    if asked and accelerator.distributed_type != DistributedType.FSDP:
        raise ShardingUnavailable(
            f"The launch config asks for FSDP (distributed_type: FSDP), but Accelerate set up "
            f"{accelerator.distributed_type.value} instead, which would replicate the model on every process "
            f"rather than shard it. Accelerate shards only on GPUs (and other accelerators), not on the CPU: "
            f"use accelerate_configs/multi_cpu.yaml for several CPU processes, or run on GPUs."
        )


def model_is_sharded(accelerator: Accelerator) -> bool:
    """Whether each process holds only a shard of the weights (FSDP, DeepSpeed ZeRO-3): then every
    process must take part in a forward pass or in gathering the weights for saving."""
    if accelerator.distributed_type == DistributedType.FSDP:
        return True
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        return accelerator.state.deepspeed_plugin.zero_stage == 3
    return False
