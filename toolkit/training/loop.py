"""The training loop every torch model family shares.

Tasks supply the model, data loaders, a loss function and an evaluation function; this module
owns the mechanics: gradient accumulation, clipping, the schedule, periodic evaluation,
atomic checkpoints, exact resume, Ctrl-C, progress and logging.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..errors import ToolkitError
from ..recipe import TrainSection
from .checkpoints import LoopState, latest_checkpoint, load_checkpoint, load_data_state, save_checkpoint

LossFn = Callable[[torch.nn.Module, dict], tuple[torch.Tensor, int]]
# (model, step) -> metrics: the step names what an evaluation writes into the run folder (seq2seq's attention maps).
EvalFn = Callable[[torch.nn.Module, int], dict[str, Any]]


class TrainingInterrupted(Exception):
    """Raised after Ctrl-C (or SIGTERM) once a checkpoint has been saved."""

    def __init__(self, checkpoint: Path, step: int):
        super().__init__(f"Interrupted at step {step}; saved {checkpoint}. Resume with --resume.")
        self.checkpoint = checkpoint
        self.step = step


class TrainingDiverged(ToolkitError):
    """The loss stopped being a finite number; nothing from that step on is saved."""


class _StopRequests:
    """Ctrl-C (SIGINT) and SIGTERM while training: the first is recorded and the loop stops at
    the next optimizer-step boundary, so the checkpoint it saves resumes exactly; a second one
    aborts at once (KeyboardInterrupt, no checkpoint)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested: str | None = None
        self.aborted = False
        self._previous: dict = {}

    def _handle(self, signum, frame):
        if self.requested:
            self.aborted = True
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        print(f"\n{self.requested}: stopping after this optimizer step to save a checkpoint "
              f"(Ctrl-C again to abort at once, without it).", file=sys.stderr, flush=True)

    def __enter__(self) -> _StopRequests:
        self._previous = {}
        for signum in self.SIGNALS:
            try:
                # A signal the process was started ignoring (`nohup`, a job started with `&` in a
                # script) stays ignored, as Python itself leaves it.
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread: signals stay with whoever handles them
                break
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def _agreed(accelerator, *flags: bool) -> list[bool]:
    """Each flag true on any process, so that all processes stop at the same step."""
    if accelerator.num_processes == 1:
        return list(flags)
    votes = torch.tensor([float(f) for f in flags], device=accelerator.device)
    return [bool(v > 0) for v in accelerator.reduce(votes, "sum")]


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
    loss_fn: LossFn,
    resume: bool = False,
    callbacks: Iterable[Callable[[LoopState], bool | None]] = (),
    evaluate_first: bool = False,
    data_fingerprint: str | None = None,
) -> LoopState:
    """Train to ``train.max_steps`` optimizer steps; returns the loop state with logs and evals.

    With ``resume`` the latest checkpoint in ``run_dir`` is restored first: model, optimizer,
    scheduler, RNG states and the position in the data, so the continued run follows the same
    curve as an uninterrupted one. ``evaluate_first`` records an evaluation at step 0 (how a
    pretrained model does before fine-tuning). ``data_fingerprint`` (of the training examples) is
    saved with every checkpoint, so a resume can tell whether the data is still the same.
    ``callbacks`` are called with the loop state after every optimizer step (after its evaluation
    and checkpoint); one that returns True ends training there, as if max_steps were reached
    (`toolkit sweep` stops a trial that its pruner gives up on after an evaluation).
    """
    state = LoopState()
    # A loader that saves its own position (toolkit.tasks.stream_blocks.StreamLoader) is resumed from
    # it, not by skipping batches (Accelerate's own loaders have load_state_dict too: not asked for).
    stateful = getattr(train_dataloader, "resumes_itself", False)
    if resume and (checkpoint := latest_checkpoint(run_dir)):
        state = load_checkpoint(accelerator, checkpoint)
        if stateful:
            train_dataloader.load_state_dict(load_data_state(accelerator, checkpoint))
        accelerator.print(f"Resumed from {checkpoint} (step {state.step}).")
    state.data_fingerprint = data_fingerprint
    progress = tqdm(
        total=train.max_steps, initial=state.step, desc="train", unit="step",
        disable=not accelerator.is_local_main_process, dynamic_ncols=True,
    )
    window_loss, window_batches, window_tokens, window_start = 0.0, 0, 0, time.perf_counter()
    step_tokens = 0
    batch_at_step = state.batch_in_epoch
    bad_loss: float | None = None  # the first non-finite micro-batch loss of the current step
    if evaluate_first and state.step == 0:
        state.evals.append({"step": 0, "train_seconds": 0.0, **evaluate(model, state.step)})
    model.train()
    stops = _StopRequests()
    ended_early = False  # a callback asked to stop
    callbacks = list(callbacks)
    try:
        with stops:
            while state.step < train.max_steps and not ended_early:
                train_dataloader.set_epoch(state.epoch)
                batches = train_dataloader
                if state.batch_in_epoch and not stateful:
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
                    state.epoch = train_dataloader.passes if stateful else state.epoch
                    loss_value = loss.detach().float().item()
                    if not math.isfinite(loss_value) and bad_loss is None:
                        bad_loss = loss_value
                    window_loss += loss_value
                    window_batches += 1
                    step_tokens += tokens * accelerator.num_processes
                    if not accelerator.sync_gradients:
                        continue
                    scheduler.step()
                    state.step += 1
                    batch_at_step = state.batch_in_epoch
                    diverged, stopping = _agreed(accelerator, bad_loss is not None, stops.requested is not None)
                    if diverged:  # before anything of this step is evaluated or saved
                        raise _divergence(run_dir, state.step, bad_loss, train)
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
                            "seconds": elapsed,  # of training in this window (benchmarks/mfu.py sums them)
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
                        # Training seconds so far (evaluation and saving left out): the x axis of a
                        # "validation loss against training minutes" curve.
                        trained = round(state.train_seconds + paused - window_start, 2)
                        state.evals.append({"step": state.step, "train_seconds": trained, **evaluate(model, state.step)})
                        accelerator.log(
                            {f"eval/{k}": v for k, v in state.evals[-1].items() if isinstance(v, (int, float))},
                            step=state.step,
                        )
                        model.train()
                        window_start += time.perf_counter() - paused  # eval time is not training time
                    checkpoint = None
                    if state.step % train.save_every == 0 or state.step == train.max_steps or stopping:
                        paused = time.perf_counter()
                        checkpoint = save_checkpoint(accelerator, run_dir, state, train.keep_checkpoints, model,
                                                     _data_state(train_dataloader, state.batch_in_epoch, stateful))
                        window_start += time.perf_counter() - paused
                    if stopping:  # a signal arrived during this step: its checkpoint resumes exactly
                        raise TrainingInterrupted(checkpoint, state.step)
                    if callbacks:
                        asked = [bool(callback(state)) for callback in callbacks]
                        ended_early = _agreed(accelerator, any(asked))[0]  # all processes stop together
                    if state.step >= train.max_steps or ended_early:
                        break
                else:
                    state.epoch += 1
                    state.batch_in_epoch = batch_at_step = 0
    except KeyboardInterrupt:
        if stops.aborted:  # a second signal: stop now, keep the last regular checkpoint
            raise
        state.batch_in_epoch = batch_at_step  # micro-batches of an unfinished step are redone
        checkpoint = save_checkpoint(accelerator, run_dir, state, train.keep_checkpoints, model,
                                     _data_state(train_dataloader, batch_at_step, stateful))
        raise TrainingInterrupted(checkpoint, state.step) from None
    finally:
        progress.close()
    if not state.evals or state.evals[-1]["step"] != state.step:
        # Resumed at max_steps, or the last evaluation is older than the checkpoint: the run's
        # result must describe the model it saves.
        state.evals.append({"step": state.step, "train_seconds": round(state.train_seconds, 2), **evaluate(model, state.step)})
    return state


def _data_state(loader, batches: int, stateful: bool) -> dict | None:
    """A stateful loader's position after ``batches`` batches (its batches are never reset by an
    epoch: it goes round its stream itself), saved with the checkpoint by every process."""
    return loader.state_dict(batches) if stateful else None


def _divergence(run_dir: Path, step: int, loss: float, train: TrainSection) -> TrainingDiverged:
    kept = latest_checkpoint(run_dir)
    where = f"the last good checkpoint {kept} is kept" if kept else "no checkpoint was saved before it"
    return TrainingDiverged(
        f"The training loss became {loss} at step {step}, so training stopped; nothing from that step on was "
        f"saved ({where}). This usually means the learning rate is too high: start again with a lower "
        f"train.optimizer.lr (now {train.optimizer.lr:g}) or a train.max_grad_norm (now {train.max_grad_norm})."
    )


def perplexity(mean_loss: float) -> float:
    return math.exp(min(mean_loss, 50.0))
