"""The training loop every torch model family shares.

Tasks supply the model, data loaders, a loss function and an evaluation function; this module
owns the mechanics: gradient accumulation, clipping, the schedule, periodic evaluation,
atomic checkpoints, exact resume, Ctrl-C, progress and logging.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..recipe import TrainSection
from .checkpoints import LoopState, latest_checkpoint, load_checkpoint, save_checkpoint

LossFn = Callable[[torch.nn.Module, dict], tuple[torch.Tensor, int]]
EvalFn = Callable[[torch.nn.Module], dict[str, Any]]


class TrainingInterrupted(Exception):
    """Raised after Ctrl-C (or SIGTERM) once a checkpoint has been saved."""

    def __init__(self, checkpoint: Path, step: int):
        super().__init__(f"Interrupted at step {step}; saved {checkpoint}. Resume with --resume.")
        self.checkpoint = checkpoint
        self.step = step


@contextmanager
def _sigterm_as_interrupt():
    """Let SIGTERM (sent by schedulers and `kill`) save a checkpoint like Ctrl-C does."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def causal_lm_loss(model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, int]:
    """Mean token loss of a batch whose labels are in the batch, and the tokens it covered."""
    return model(**batch).loss, int(batch["input_ids"].numel())


def fit(
    *,
    accelerator,
    model: torch.nn.Module,
    optimizer,
    scheduler,
    train_dataloader,
    train: TrainSection,
    run_dir: Path,
    evaluate: EvalFn,
    loss_fn: LossFn = causal_lm_loss,
    resume: bool = False,
    callbacks: Iterable[Callable[[LoopState], None]] = (),
    evaluate_first: bool = False,
) -> LoopState:
    """Train to ``train.max_steps`` optimizer steps; returns the loop state with logs and evals.

    With ``resume`` the latest checkpoint in ``run_dir`` is restored first: model, optimizer,
    scheduler, RNG states and the position in the data, so the continued run follows the same
    curve as an uninterrupted one. ``evaluate_first`` records an evaluation at step 0 (how a
    pretrained model does before fine-tuning).
    """
    state = LoopState()
    if resume and (checkpoint := latest_checkpoint(run_dir)):
        state = load_checkpoint(accelerator, checkpoint)
        accelerator.print(f"Resumed from {checkpoint} (step {state.step}).")
    progress = tqdm(
        total=train.max_steps, initial=state.step, desc="train", unit="step",
        disable=not accelerator.is_local_main_process, dynamic_ncols=True,
    )
    window_loss, window_batches, window_tokens, window_start = 0.0, 0, 0, time.perf_counter()
    step_tokens = 0
    batch_at_step = state.batch_in_epoch
    if evaluate_first and state.step == 0:
        state.evals.append({"step": 0, **evaluate(model)})
    model.train()
    try:
        with _sigterm_as_interrupt():
            while state.step < train.max_steps:
                train_dataloader.set_epoch(state.epoch)
                batches = train_dataloader
                if state.batch_in_epoch:
                    from accelerate import skip_first_batches

                    batches = skip_first_batches(train_dataloader, state.batch_in_epoch)
                for batch in batches:
                    with accelerator.accumulate(model):
                        loss, tokens = loss_fn(model, batch)
                        accelerator.backward(loss)
                        if accelerator.sync_gradients and train.max_grad_norm:
                            accelerator.clip_grad_norm_(model.parameters(), train.max_grad_norm)
                        optimizer.step()
                        optimizer.zero_grad(set_to_none=True)
                    state.batch_in_epoch += 1
                    window_loss += loss.detach().float().item()
                    window_batches += 1
                    step_tokens += tokens * accelerator.num_processes
                    if not accelerator.sync_gradients:
                        continue
                    scheduler.step()
                    state.step += 1
                    batch_at_step = state.batch_in_epoch
                    state.tokens_seen += step_tokens
                    window_tokens += step_tokens
                    step_tokens = 0
                    if state.step % train.log_every == 0 or state.step == train.max_steps:
                        elapsed = time.perf_counter() - window_start
                        state.train_seconds += elapsed
                        mean_loss = accelerator.reduce(
                            torch.tensor(window_loss / window_batches, device=accelerator.device), "mean"
                        ).item()
                        record = {
                            "step": state.step,
                            "loss": mean_loss,
                            "lr": scheduler.get_last_lr()[0],
                            "tokens_per_second": window_tokens / max(elapsed, 1e-9),
                            "epoch": state.epoch,
                        }
                        state.log.append(record)
                        accelerator.log({"train/loss": mean_loss, "train/lr": record["lr"]}, step=state.step)
                        progress.set_postfix(loss=f"{mean_loss:.3f}", tok_s=f"{record['tokens_per_second']:.0f}")
                        window_loss, window_batches, window_tokens = 0.0, 0, 0
                        window_start = time.perf_counter()
                    progress.update(1)
                    if state.step % train.eval_every == 0 or state.step == train.max_steps:
                        paused = time.perf_counter()
                        state.evals.append({"step": state.step, **evaluate(model)})
                        accelerator.log(
                            {f"eval/{k}": v for k, v in state.evals[-1].items() if isinstance(v, (int, float))},
                            step=state.step,
                        )
                        model.train()
                        window_start += time.perf_counter() - paused  # eval time is not training time
                    if state.step % train.save_every == 0 or state.step == train.max_steps:
                        paused = time.perf_counter()
                        save_checkpoint(accelerator, run_dir, state, train.keep_checkpoints)
                        window_start += time.perf_counter() - paused
                    for callback in callbacks:
                        callback(state)
                    if state.step >= train.max_steps:
                        break
                else:
                    state.epoch += 1
                    state.batch_in_epoch = batch_at_step = 0
    except KeyboardInterrupt:
        progress.close()
        state.batch_in_epoch = batch_at_step  # micro-batches of an unfinished step are redone
        checkpoint = save_checkpoint(accelerator, run_dir, state, train.keep_checkpoints)
        raise TrainingInterrupted(checkpoint, state.step) from None
    progress.close()
    return state


def perplexity(mean_loss: float) -> float:
    return math.exp(min(mean_loss, 50.0))
