"""What a sweep leaves in its folder: results.csv, results.png, best_recipe.yaml, and the table it prints.

Everything here reads finished Optuna trials (FrozenTrial objects), so the same functions report a
sweep that is still going (after each trial) and one resumed from its study file.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import yaml

from .space import SearchSpace, with_values

RESULTS_CSV = "results.csv"
RESULTS_PNG = "results.png"
BEST_RECIPE = "best_recipe.yaml"


def trial_dir_name(number: int) -> str:
    return f"trial-{number:03d}"


def trial_row(trial, space: SearchSpace, metric: str) -> dict[str, Any]:
    """One trial as a results row: its metric (a pruned trial's at its last evaluation, with that step)."""
    value, step = trial.value, None
    if trial.state.name == "PRUNED" and trial.intermediate_values:
        step = max(trial.intermediate_values)
        value = trial.intermediate_values[step]
    seconds = None
    if trial.datetime_start and trial.datetime_complete:
        seconds = round((trial.datetime_complete - trial.datetime_start).total_seconds(), 1)
    note = trial.user_attrs.get("note", "")
    if "rerun_of" in trial.user_attrs:
        note = f"rerun of trial {trial.user_attrs['rerun_of']}" + (f"; {note}" if note else "")
    return {"trial": trial.number, "state": trial.state.name, metric: value, "pruned_at_step": step,
            "seconds": seconds, "run_dir": trial_dir_name(trial.number),
            **{p.key: trial.params.get(p.key) for p in space.params}, "note": note}


def reported_trials(study) -> list:
    """The trials that started (enqueued reruns still waiting are not results yet)."""
    return [t for t in study.get_trials(deepcopy=False) if t.state.name != "WAITING"]


def best_trial(study):
    """The best finished trial, or None when none has finished (all pruned, failed or none yet)."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    return study.best_trial if complete else None


def write_results(sweep_dir: Path, study, space: SearchSpace, metric: str, direction: str) -> None:
    rows = [trial_row(t, space, metric) for t in reported_trials(study)]
    if not rows:
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    from ..rundir import write_atomic

    write_atomic(sweep_dir / RESULTS_CSV, text.getvalue())
    draw_results(sweep_dir / RESULTS_PNG, rows, metric, direction)


def draw_results(path: Path, rows: list[dict], metric: str, direction: str) -> None:
    """The metric of each trial (pruned ones at their last evaluation) and the best so far."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    from ..reporting.figures import save_figure

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for state, style, label in (("COMPLETE", "o", "finished trial"), ("PRUNED", "x", "pruned (last evaluation)")):
        points = [(r["trial"], r[metric]) for r in rows if r["state"] == state and _finite(r[metric])]
        if points:
            ax.plot(*zip(*points), style, label=label, color="tab:blue" if state == "COMPLETE" else "tab:gray")
    best, steps = None, []
    pick = min if direction == "minimize" else max
    for row in rows:
        if row["state"] == "COMPLETE" and _finite(row[metric]):
            best = row[metric] if best is None else pick(best, row[metric])
        if best is not None:
            steps.append((row["trial"], best))
    if steps:
        ax.step(*zip(*steps), where="post", color="tab:orange", label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{metric} ({direction})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        save_figure(fig, path, "sweep figure", "check that the sweep folder is writable")
    finally:
        plt.close(fig)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def results_table(study, space: SearchSpace, metric: str) -> str:
    """The trials as an aligned text table, the best marked with *."""
    best = best_trial(study)
    header = ["", "trial", "state", metric, "seconds", *[p.key for p in space.params]]
    lines = [header]
    for trial in reported_trials(study):
        row = trial_row(trial, space, metric)
        value = row[metric]
        shown = "" if value is None else f"{value:.4g}" + (f" @{row['pruned_at_step']}" if row["pruned_at_step"] else "")
        lines.append(["*" if best is not None and trial.number == best.number else "", str(trial.number),
                      row["state"].lower(), shown, "" if row["seconds"] is None else f"{row['seconds']:.0f}",
                      *[_short(trial.params.get(p.key)) for p in space.params]])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def _short(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def write_best_recipe(sweep_dir: Path, base: dict, recipe_source: str, study, metric: str, split: str) -> Path | None:
    """The base recipe with the best trial's values, as a recipe file that `toolkit run` takes."""
    best = best_trial(study)
    if best is None:
        return None
    data = with_values(base, best.params)
    settings = ", ".join(f"{key}={_short(value)}" for key, value in best.params.items())
    tuned = f"tuned by toolkit sweep: {settings}; {metric} {best.value:.4g} on {split}"
    before = str(data.get("description") or "").rstrip(". ")
    data["description"] = f"{before} ({tuned})." if before else f"{tuned[0].upper()}{tuned[1:]}."
    header = (f"# Written by `toolkit sweep`: {recipe_source} with the values of its best trial, "
              f"{trial_dir_name(best.number)} ({metric} {best.value:.4g} on the {split} split).\n")
    path = sweep_dir / BEST_RECIPE
    from ..rundir import write_atomic

    write_atomic(path, header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path
