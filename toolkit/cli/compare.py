"""`toolkit compare`: several runs side by side (a table of headline metrics, sizes and times, and a
plot of their training-loss curves; for seq2seq runs also a plot of BLEU and CER per source length)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ToolkitError

HEADLINE = ("perplexity", "forward_perplexity", "backward_perplexity", "accuracy", "f1",
            "bleu", "chrf", "cer", "exact_match", "alignment_accuracy")
# Figures of the last evaluation that a task reports without making them headline metrics.
FROM_LAST_EVAL = ("alignment_accuracy",)


def compare_runs(run_dirs: list[str | Path], plot: str | Path | None = None,
                 bucket_plot: str | Path | None = None, split: str | None = None) -> list[dict]:
    """One row per run (name, family, task, headline metrics, parameters, steps, training time);
    with ``plot``, a PNG of their training-loss curves on shared axes; with ``bucket_plot``, a PNG
    of the seq2seq runs' BLEU and CER per source-length bucket (none when no run has buckets).
    The metrics are the last training evaluation's, or with ``split`` the newest re-evaluation of
    that split (`toolkit eval RUN --split test`)."""
    rows, curves, buckets = compare_rows(run_dirs, split)
    if plot:
        plot_curves(curves, Path(plot))
    if bucket_plot and buckets:
        plot_buckets(buckets, Path(bucket_plot))
    return rows


def compare_rows(run_dirs: list[str | Path], split: str | None = None
                 ) -> tuple[list[dict], list[tuple[str, list[dict]]], list[tuple[str, dict]]]:
    """The table's rows, each run's (name, training-loss log) and each seq2seq run's (name, scores
    per source-length bucket of its last evaluation, or of its newest evaluation on ``split``)."""
    from ..reporting.metrics import read_metrics
    from ..rundir import read_run_recipe

    rows, curves, buckets = [], [], []
    for run_dir in map(Path, run_dirs):
        metrics = read_metrics(run_dir)
        if not metrics:
            raise ToolkitError(f"{run_dir} has no metrics.json: is it a finished toolkit run folder?")
        recipe = read_run_recipe(run_dir)
        family = recipe.model.family
        cell = recipe.model.config.get("cell") if family == "rnn_lm" else None
        train = metrics.get("train", {})
        last_eval = (metrics.get("evals") or [{}])[-1]
        results = {**{k: last_eval[k] for k in FROM_LAST_EVAL if k in last_eval}, **metrics.get("final", {})}
        if split:
            last_eval = split_evaluation(run_dir, metrics, split)
            results = last_eval["metrics"]
        rows.append({
            "run": run_dir.name, "model": f"{family}/{cell}" if cell else family, "task": metrics.get("task", recipe.task),
            **{k: results[k] for k in HEADLINE if k in results},
            "parameters": train.get("parameters"), "steps": train.get("steps"),
            "train_seconds": train.get("train_seconds"),
        })
        curves.append((run_dir.name, metrics.get("log", [])))
        if last_eval.get("buckets"):
            buckets.append((run_dir.name, last_eval["buckets"]))
    return rows, curves, buckets


def split_evaluation(run_dir: Path, metrics: dict, split: str) -> dict:
    """The newest entry of metrics.json's "evaluations" on ``split`` (its scores under "metrics",
    a seq2seq run's per-length scores under "buckets")."""
    found = [e for e in metrics.get("evaluations", []) if e.get("split") == split]
    if not found:
        done = sorted({e.get("split") for e in metrics.get("evaluations", []) if e.get("split")})
        raise ToolkitError(f"{run_dir} has no evaluation on the {split} split (it has: {', '.join(done) or 'none'}); "
                           f"run `toolkit eval {run_dir} --split {split}` first, or leave --split out to compare "
                           f"the runs' last training evaluations.")
    return found[-1]


def plot_curves(curves: list[tuple[str, list[dict]]], path: Path) -> None:
    """Training-loss curves on shared axes, written to ``path`` (a PNG, or any format matplotlib knows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..reporting.figures import save_figure

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for name, log in curves:
        if log:
            ax.plot([r["step"] for r in log], [r["loss"] for r in log], label=name, linewidth=1.2)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        save_figure(fig, path, "loss-curve plot", "give --plot a writable path (such as compare_loss.png) or --plot '' "
                    "for none")
    finally:
        plt.close(fig)


def plot_buckets(buckets: list[tuple[str, dict]], path: Path) -> None:
    """BLEU and CER per source-length bucket, one line per run, to ``path``."""
    from ..reporting.bucket_plot import plot_buckets as draw

    draw(buckets, path, "give --bucket-plot a writable path (such as compare_buckets.png) or --bucket-plot '' for none")


def _format(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def format_table(rows: list[dict]) -> str:
    # The columns in the rows' order, a metric that only some runs have (HSK has no alignment) in its
    # place among the metrics rather than after the sizes and times.
    found = list(dict.fromkeys(key for row in rows for key in row))
    order = ["run", "model", "task", *HEADLINE, "parameters", "steps", "train_seconds"]
    columns = sorted(found, key=lambda c: (order.index(c) if c in order else len(order), found.index(c)))
    cells = [[_format(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def cmd_compare(args) -> int:
    rows, curves, buckets = compare_rows(args.run_dirs, args.split)
    # The table first: a plot path that cannot be written must not cost the user the numbers.
    print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else format_table(rows), flush=True)
    if args.plot:
        plot_curves(curves, Path(args.plot))
        print(f"\nLoss curves: {args.plot}")
    if args.bucket_plot and buckets:
        plot_buckets(buckets, Path(args.bucket_plot))
        print(f"BLEU and CER per source length: {args.bucket_plot}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="table of several runs' metrics, sizes and times, plus a loss-curve plot")
    p.add_argument("run_dirs", nargs="+", help="run folders")
    p.add_argument("--plot", default="compare_loss.png", help="PNG for the loss curves (default compare_loss.png; '' for none)")
    p.add_argument("--bucket-plot", default="compare_buckets.png",
                   help="PNG for seq2seq runs' BLEU and CER per source length (default compare_buckets.png; '' for none)")
    p.add_argument("--split", default=None,
                   help="compare each run's newest `toolkit eval --split SPLIT` scores (default: the last training evaluation)")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    p.set_defaults(func=cmd_compare)
