"""Running a sweep: an Optuna study in the sweep folder whose trials are normal run folders.

The study lives in an append-only journal file (``study.journal``), so a sweep that is stopped
(Ctrl-C, a crash, a killed process) resumes where it was: finished trials are kept, and a trial
that was cut off is marked failed and its values are run again before anything new is sampled.
``sweep.json`` records the recipe and the space the study belongs to; a sweep folder is resumed
only with the same ones. One sweep process works in a folder at a time (a lock file says which).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SweepError
from ..recipe import Recipe, recipe_data, set_dotted
from . import report
from .pruning import EvaluationReporter, make_pruner, metric_of, schedule_length_keys
from .space import SearchSpace, check_against_recipe, load_space, objective, with_values

STUDY_FILE = "study.journal"
SWEEP_FILE = "sweep.json"
STUDY_NAME = "sweep"
SWEEPS_DIR = Path("runs") / "sweeps"


@dataclass
class SweepResult:
    sweep_dir: Path
    metric: str
    direction: str
    table: str
    best_value: float | None
    best_params: dict[str, Any] | None
    best_recipe: Path | None
    trials_run: int  # in this call


def default_sweep_dir(recipe_path: Path) -> Path:
    return SWEEPS_DIR / recipe_path.name.removesuffix(".yaml")


def import_optuna():
    try:
        import optuna
    except ImportError:
        raise SweepError("`toolkit sweep` needs Optuna, an optional dependency: install it with "
                         "pip install 'toolkit[sweep]' (or pip install optuna).") from None
    return optuna


def run_sweep(recipe: str | Path, overrides: list[str] | None, space_file: str | Path, trials: int,
              out: str | Path | None = None, resume: bool = False, echo: Callable[[str], None] = print) -> SweepResult:
    """Search the space for the recipe's best values in ``trials`` finished trials (those of an
    earlier, interrupted run of the same sweep count), each trained into ``<sweep dir>/trial-NNN``."""
    from .. import registry

    if trials < 1:
        raise SweepError(f"--trials {trials}: give at least 1 trial.")
    path, base = recipe_data(recipe, overrides)
    source = str(path)
    checked = registry.checked_recipe_from_dict(base, source=source)
    _check_recipe_for_sweep(checked, source)
    space = load_space(space_file)
    check_against_recipe(space, base, source)
    metric, direction = objective(space, checked)
    optuna = import_optuna()  # after every check of the user's files, which need no Optuna
    from ..rundir import RunLock, write_atomic  # (imports torch, through the checkpoints module)
    sweep_dir = Path(out) if out is not None else default_sweep_dir(path)
    described = _normalised({"recipe": base, "space": space.as_dict(), "metric": metric, "direction": direction})

    lock = RunLock.acquire(sweep_dir)
    try:
        resuming = _check_folder(sweep_dir, described, resume, space)
        if not resuming:
            write_atomic(sweep_dir / SWEEP_FILE, json.dumps(described, ensure_ascii=False, indent=2) + "\n")
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # one line per trial is ours; no tracebacks of caught failures
        lengths = schedule_length_keys(p.key for p in space.params)
        study = optuna.create_study(
            study_name=STUDY_NAME, direction=direction, load_if_exists=True,
            storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(sweep_dir / STUDY_FILE))),
            sampler=optuna.samplers.TPESampler(seed=checked.seed),
            pruner=make_pruner(optuna, trials, prune=not lengths),
        )
        reruns = _rerun_cut_off_trials(study, optuna)
        done = _finished(study)
        todo = max(0, trials - done)
        what = f"{metric} ({direction}) on the {checked.eval.split} split"
        if resuming:
            echo(f"Resuming sweep {sweep_dir}: {done} of {trials} trials finished"
                 f"{f', {reruns} cut-off trial(s) to run again' if reruns else ''}; {todo} to run, {what}.")
        else:
            echo(f"Sweep {sweep_dir}: {trials} trials of {source}, {what}, over "
                 + "; ".join(f"{p.key} ({p.describe()})" for p in space.params) + ".")
        if lengths:
            echo(f"The space varies {', '.join(lengths)}, so a given step falls at a different point of each "
                 "trial's schedule: no trial is pruned, all are compared at their end.")
        trial_fn = _Objective(study, optuna, space, base, source, sweep_dir, metric, checked.eval.split)
        progress = _Progress(echo, sweep_dir, space, metric, direction, done, trials)
        try:
            if todo:
                from ..training.loop import TrainingDiverged

                # A diverged trial (its values trained to NaN) is a finished, failed trial: the sweep goes on.
                study.optimize(trial_fn, n_trials=todo, catch=(TrainingDiverged,), callbacks=[progress],
                               gc_after_trial=True)
        finally:  # also when stopped: the results so far are in the folder
            report.write_results(sweep_dir, study, space, metric, direction)
        best_recipe = report.write_best_recipe(sweep_dir, base, source, study, metric, checked.eval.split)
        if best_recipe is not None:
            registry.load_recipe(best_recipe)  # what `toolkit validate` checks: the file is a working recipe
        best = report.best_trial(study)
        return SweepResult(sweep_dir, metric, direction, report.results_table(study, space, metric),
                           best.value if best else None, dict(best.params) if best else None, best_recipe,
                           progress.ran)
    finally:
        lock.release()


def _check_recipe_for_sweep(recipe: Recipe, source: str) -> None:
    if recipe.eval.split == "test":
        raise SweepError(f"Recipe {source} evaluates on the test split (eval.split: test); a sweep chooses values on "
                         f"held-out validation data and leaves test for the final report. Set eval.split=validation.")
    if recipe.launch.accelerate_config:
        raise SweepError(f"Recipe {source} sets launch.accelerate_config; a sweep trains its trials in its own process, "
                         f"so add launch.accelerate_config=null to the command.")


def _normalised(data: Any) -> Any:
    """As JSON would give it back (tuples as lists, dates as text), so a saved sweep compares equal."""
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


def _check_folder(sweep_dir: Path, described: dict, resume: bool, space: SearchSpace) -> bool:
    """True when the folder holds this same sweep (resume it); False for a new or empty folder.
    Anything else is refused, naming what differs."""
    from ..rundir import LOCK_FILE

    saved_file = sweep_dir / SWEEP_FILE
    if not saved_file.is_file():
        if resume:
            raise SweepError(f"Cannot resume: {sweep_dir} holds no sweep ({SWEEP_FILE} is missing). Run without "
                             f"--resume to start it.")
        strangers = sorted(p.name for p in sweep_dir.iterdir() if p.name != LOCK_FILE)
        if strangers:
            raise SweepError(f"The sweep folder {sweep_dir} already holds files ({', '.join(strangers[:5])}) but no "
                             f"sweep; choose another folder with --out.")
        return False
    try:
        saved = json.loads(saved_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(f"Cannot read {saved_file} ({exc}); the sweep folder is damaged: start the sweep in "
                         f"another folder with --out.") from None
    changed = _differences(saved, described)
    if changed:
        raise SweepError(f"The sweep in {sweep_dir} was started with a different {'; '.join(changed)}, so its trials "
                         f"are not comparable with new ones and it cannot be resumed with {space.source}. Run the "
                         f"same recipe and space to resume, or give the new sweep another folder with --out.")
    return True


def _differences(saved: dict, wanted: dict) -> list[str]:
    """What differs between the saved sweep description and this one, as phrases."""
    changed = []
    if saved.get("recipe") != wanted["recipe"]:
        keys = _changed_keys(saved.get("recipe") or {}, wanted["recipe"])
        changed.append(f"recipe ({', '.join(keys[:5]) or 'its contents'})")
    old, new = (saved.get("space") or {}).get("params") or {}, wanted["space"]["params"]
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if keys:
        changed.append(f"search space (keys {', '.join(keys)})")
    for setting in ("metric", "direction"):
        if saved.get(setting) != wanted[setting]:
            changed.append(f"{setting} ({saved.get(setting)} -> {wanted[setting]})")
    return changed


def _changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [prefix or "(top)"] if old != new else []
    keys = []
    for key in sorted(old.keys() | new.keys(), key=str):
        keys += _changed_keys(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
    return keys


def _finished(study) -> int:
    """Trials that count towards --trials: finished, pruned, or failed for their values (diverged)."""
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state.name in ("COMPLETE", "PRUNED") or (t.state.name == "FAIL" and t.user_attrs.get("counted")))


def _rerun_cut_off_trials(study, optuna) -> int:
    """Trials left RUNNING by a process that is gone (killed, or the machine went down): marked
    failed, and their values queued to run again. Safe because this process holds the folder's lock.
    Returns how many queued reruns there are (those of Ctrl-C'd trials were queued when it came)."""
    storage = study._storage  # noqa: SLF001 - Optuna's documented way to change a trial's state from outside
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in running:
        storage.set_trial_user_attr(trial._trial_id, "note", "cut off (process stopped); run again")
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"rerun_of": trial.number})
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))


class _Objective:
    """One trial: the recipe with the trial's values, trained into its own run folder."""

    def __init__(self, study, optuna, space: SearchSpace, base: dict, source: str, sweep_dir: Path, metric: str,
                 split: str):
        self.study, self.optuna, self.space, self.base, self.source = study, optuna, space, base, source
        self.sweep_dir, self.metric, self.split = sweep_dir, metric, split

    def __call__(self, trial) -> float:
        from .. import api, registry
        from ..tasks.base import TorchTask
        from ..training.loop import TrainingDiverged, TrainingInterrupted

        values = {param.key: param.suggest(trial) for param in self.space.params}
        run_dir = self.sweep_dir / report.trial_dir_name(trial.number)
        data = with_values(self.base, values)
        # A trial's folder is the sweep's own (a number is never reused within a study).
        for key, value in (("output.dir", str(run_dir)), ("output.overwrite", True), ("hub.push", False)):
            set_dotted(data, key.split("."), value, key)
        recipe = registry.checked_recipe_from_dict(data, source=f"{self.source} (trial {trial.number})")
        reporter = None
        if isinstance(registry.task(recipe.task), TorchTask):
            reporter = EvaluationReporter(trial, self.metric, recipe.train.max_steps, str(self.space.source))
        try:
            result = api.run(recipe, callbacks=[reporter] if reporter else ())
        except TrainingDiverged as error:
            trial.set_user_attr("note", f"diverged: {str(error).split(';')[0]}")
            trial.set_user_attr("counted", True)
            raise
        except (KeyboardInterrupt, TrainingInterrupted) as stop:
            # Ctrl-C: these values are run again, first, when the sweep resumes. The training loop's
            # own interruption (checkpoint saved) ends the whole sweep as Ctrl-C does.
            trial.set_user_attr("note", "interrupted; run again on resume")
            self.study.enqueue_trial(trial.params, user_attrs={"rerun_of": trial.number})
            if isinstance(stop, TrainingInterrupted):
                raise KeyboardInterrupt from None
            raise
        if reporter is not None and reporter.pruned_at is not None:
            raise self.optuna.TrialPruned(f"pruned at step {reporter.pruned_at}")
        metrics = result.metrics
        numbers = {**((metrics.get("evals") or [{}])[-1]), **metrics.get("final", {})}
        return metric_of(numbers, self.metric, f"run {run_dir}", str(self.space.source))


class _Progress:
    """An Optuna callback after each trial: one line, and results.csv / results.png brought up to date."""

    def __init__(self, echo, sweep_dir: Path, space: SearchSpace, metric: str, direction: str, done: int, total: int):
        self.echo, self.sweep_dir, self.space, self.metric, self.direction = echo, sweep_dir, space, metric, direction
        self.done, self.total, self.ran = done, total, 0

    def __call__(self, study, trial) -> None:
        self.ran += 1
        row = report.trial_row(trial, self.space, self.metric)
        if row["state"] != "FAIL" or trial.user_attrs.get("counted"):
            self.done += 1
        value = row[self.metric]
        shown = "" if value is None else f" {self.metric} {value:.4g}"
        if row["pruned_at_step"] is not None:
            shown += f" at step {row['pruned_at_step']}"
        best = report.best_trial(study)
        best_text = f"; best {best.value:.4g} (trial {best.number})" if best else ""
        note = f" ({row['note']})" if row["note"] else ""
        took = f" in {row['seconds']:.0f} s" if row["seconds"] is not None else ""
        self.echo(f"[{self.done}/{self.total}] trial {trial.number} {row['state'].lower()}{shown}{took}{note}{best_text}")
        sys.stdout.flush()
        report.write_results(self.sweep_dir, study, self.space, self.metric, self.direction)
