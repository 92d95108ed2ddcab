"""The rows of `toolkit baseline`: each recipe's held-out figure, read from its run folder, next to
its task's baseline, with the wall time of both."""

from __future__ import annotations

import time
from pathlib import Path

from ..recipe import Recipe
from . import SKIPPED_TASKS, fit_baseline

COLUMNS = ("recipe", "task", "metric", "split", "recipe_value", "recipe_train_s", "baseline", "baseline_value",
           "baseline_s")


def headline_metric(recipe: Recipe) -> str | None:
    """The first headline metric of the recipe's task (perplexity, accuracy, entity f1 ...)."""
    from .. import registry

    headline = getattr(registry.task(recipe.task), "headline", None)
    return headline(recipe)[0] if headline else None


def run_figure(recipe: Recipe, split: str, metric: str) -> tuple[float | None, float | None, str]:
    """(the run's ``metric`` on ``split``, its training seconds, a note). The latest evaluation of
    that split and card in the run's metrics.json, else a fresh ``toolkit.evaluate`` of the run
    folder over the batches the recipe evaluates (which appends it to metrics.json), else nothing:
    the recipe was not trained."""
    from ..reporting.metrics import read_metrics
    from ..rundir import is_run_dir

    run_dir = Path(recipe.output.dir)
    metrics = read_metrics(run_dir) if is_run_dir(run_dir) else {}
    if not metrics.get("final"):
        return None, None, f"not trained (no finished run in {run_dir})"
    seconds = metrics.get("train", {}).get("train_seconds")
    for entry in reversed(metrics.get("evaluations", [])):
        if entry.get("split") == split and entry.get("card") == recipe.data.card and metric in entry.get("metrics", {}):
            return entry["metrics"][metric], seconds, f"from {run_dir}/metrics.json"
    from ..api import evaluate

    start = time.perf_counter()
    result = evaluate(run_dir, split=split, max_batches=recipe.eval.max_batches)
    return result.get(metric), seconds, f"{run_dir} evaluated now on {split} ({time.perf_counter() - start:.0f} s)"


def recipe_for(path: str) -> Recipe:
    """The recipe as its run was trained (the run folder's recipe.yaml, overrides included) when
    there is a run, else the file: the baseline must see the same data the run saw."""
    from ..registry import load_recipe
    from ..rundir import is_run_dir, read_run_recipe

    recipe = load_recipe(path)
    return read_run_recipe(recipe.output.dir) if is_run_dir(recipe.output.dir) else recipe


def baseline_row(recipe: Recipe, name: str, split: str, order: int) -> dict | None:
    """One table row (None for a task left out of the table), with a "notes" list."""
    if recipe.task in SKIPPED_TASKS:
        return None
    metric = headline_metric(recipe)
    task = f"{recipe.task} ({recipe.data.tags})" if recipe.task == "token_classification" else recipe.task
    value, train_seconds, run_note = run_figure(recipe, split, metric)
    row = {"recipe": name, "task": task, "metric": metric, "split": split, "recipe_value": value,
           "recipe_train_s": train_seconds}
    found = fit_baseline(recipe, split, order=order)
    if found is None:
        row.update(baseline="no baseline", baseline_value=None, baseline_s=None)
        row["notes"] = [run_note]
    else:
        row.update(baseline=found.name, baseline_value=found.metrics.get(metric), baseline_s=found.seconds)
        row["notes"] = [run_note, *found.notes]
    return row


def baseline_rows(recipes: list[str], split: str, order: int, progress=None) -> list[dict]:
    """Rows for the recipes (paths or bundled names), in order; every recipe is loaded and checked
    before any baseline is fitted, so a typo in the last one costs no minutes. ``progress`` gets a
    line as each row starts and ends (a CRF fit takes minutes)."""
    loaded = [(path, recipe_for(path)) for path in recipes]
    rows = []
    for path, recipe in loaded:
        if progress:
            progress(f"{path}: {recipe.task} on {recipe.data.card} ({split}) ...")
        start = time.perf_counter()
        if (row := baseline_row(recipe, path, split, order)) is not None:
            rows.append(row)
        if progress:
            progress(f"{path}: done in {time.perf_counter() - start:.0f} s")
    return rows


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


HEADERS = {"recipe": "recipe", "task": "task", "metric": "metric", "split": "split", "recipe_value": "recipe",
           "recipe_train_s": "recipe train s", "baseline": "baseline", "baseline_value": "baseline value",
           "baseline_s": "baseline fit+predict s"}


def cells(row: dict) -> list[str]:
    shown = dict(row)
    if row["recipe_value"] is None and row["notes"][0].startswith("not trained"):
        shown["recipe_value"] = "not trained"
    return [_cell(shown[column]) for column in COLUMNS]


def text_table(rows: list[dict]) -> str:
    table = [[HEADERS[c] for c in COLUMNS], *map(cells, rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
    notes = [f"  {row['recipe']}: {note}" for row in rows for note in row["notes"]]
    return "\n".join([*lines, "", "notes:", *notes])


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(HEADERS[c] for c in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"
