"""Validation perplexity against training minutes for character LMs, next to a Kneser-Ney n-gram.

    python benchmarks/lm_curve.py RUN_DIR_OR_RECIPE ... [--order 5] [--out lm_curve.png] [--train]
        [--x minutes|steps] [--step-seconds S]

Each argument is a run folder (its metrics.json already holds the evaluations) or, with
``--train``, a recipe trained here first (one after the other: run it on a quiet machine, the x
axis is wall time). Every evaluation records the training seconds before it (evaluation and
saving left out), so each run gives a curve; the n-gram baseline of the first recipe is fitted on
the same train split and scored on the same packed validation blocks and tokens
(``toolkit baseline``), and drawn as a horizontal line with its fit time in the legend. The table
printed at the end gives, per run, the last point and the minutes each run took to cross a few
perplexity levels, so a reader sees what more training would buy.

``--x steps`` puts optimizer steps on the x axis instead: for runs trained on other hardware (a
GPU), whose minutes say nothing about a CPU; ``--step-seconds S`` then adds a top axis of the
minutes those steps take at S seconds per step (a step time measured on the CPU in question).

The curves of one run are those of its learning-rate schedule: a cosine run's middle points are
not what a shorter run of the same length would reach (its learning rate is still high there).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from toolkit.recipe import read_recipe  # noqa: E402  (light: no torch)


def run_points(run_dir: Path, x: str = "minutes") -> tuple[str, list[tuple[float, float]]]:
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    points = [(e["train_seconds"] / 60 if x == "minutes" else e["step"], e["perplexity"]) for e in metrics.get("evals", [])
              if "train_seconds" in e and "perplexity" in e and e["step"] > 0]
    if not points:
        raise SystemExit(f"{run_dir}: metrics.json has no evaluations with training seconds and perplexity "
                         f"(trained before evaluations recorded their time?); retrain it with --train.")
    model = read_recipe(run_dir / "recipe.yaml").model
    cell = model.config.get("cell")
    return f"{run_dir.name} ({model.family}{'/' + cell if cell else ''})", points


def crossing(points: list[tuple[float, float]], level: float) -> float | None:
    return next((minutes for minutes, ppl in points if ppl <= level), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders, or recipes with --train")
    parser.add_argument("--train", action="store_true", help="train each recipe first (one after the other)")
    parser.add_argument("--order", type=int, default=5, help="n-gram order of the baseline (default 5)")
    parser.add_argument("--out", default="lm_curve.png")
    parser.add_argument("--x", choices=["minutes", "steps"], default="minutes",
                        help="x axis: training minutes (default) or optimizer steps (runs from other hardware)")
    parser.add_argument("--step-seconds", type=float,
                        help="with --x steps: add a top axis of minutes at this many seconds per step")
    args = parser.parse_args()
    unit = "minutes" if args.x == "minutes" else "steps"

    import toolkit
    from toolkit.baselines import fit_baseline
    run_dirs = []
    for item in args.runs:
        if args.train:
            start = time.perf_counter()
            outcome = toolkit.run(item)
            print(f"trained {item} in {(time.perf_counter() - start) / 60:.1f} min (wall, evaluations included)")
            run_dirs.append(Path(outcome.run_dir))
        else:
            run_dirs.append(Path(item))
    curves = [run_points(run_dir, args.x) for run_dir in run_dirs]

    recipe = read_recipe(run_dirs[0] / "recipe.yaml")
    baseline = fit_baseline(recipe, recipe.eval.split, order=args.order)
    baseline_seconds = baseline.seconds  # fit + scoring, as `toolkit baseline` reports it
    ngram = baseline.metrics["perplexity"]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from toolkit.reporting.figures import save_figure

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in curves:
        ax.plot(*zip(*points), marker="o", markersize=3, label=name)
    ax.axhline(ngram, color="black", linestyle="--",
               label=f"Kneser-Ney {args.order}-gram ({ngram:.1f}; fit {baseline_seconds:.0f} s)")
    ax.set_xlabel("training minutes (evaluation left out)" if args.x == "minutes" else "optimizer steps")
    if args.x == "steps" and args.step_seconds:
        per_minute = 60 / args.step_seconds
        top = ax.secondary_xaxis("top", functions=(lambda s: s / per_minute, lambda m: m * per_minute))
        top.set_xlabel(f"minutes at {args.step_seconds:g} s per step")
    ax.set_ylabel(f"validation perplexity ({recipe.data.card})")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, Path(args.out), "perplexity curve", "give --out a writable path")

    levels = [level for level in (150, 100, 80, 70, 60, 55) if level > ngram * 0.9] + [round(ngram, 1)]
    print(f"\nvalidation perplexity, {recipe.data.card}; n-gram baseline {ngram:.2f} "
          f"(order {args.order}, fit {baseline_seconds:.1f} s)")
    header = f"{'run':44s} {unit:>8s} {'ppl':>8s} " + " ".join(f"{'<=' + str(l):>7s}" for l in levels)
    print(header)
    for name, points in curves:
        where, ppl = points[-1]
        marks = " ".join(f"{crossing(points, l):7.1f}" if crossing(points, l) is not None else f"{'-':>7s}" for l in levels)
        print(f"{name[:44]:44s} {where:8.1f} {ppl:8.2f} {marks}")
    print(f"(columns <=N: training {unit} at which the run first reached perplexity N; the last column is the "
          f"n-gram's; figure {args.out})")


if __name__ == "__main__":
    main()
