"""BLEU and CER per source-length bucket of seq2seq runs, one line per run: drawn by `toolkit
compare --bucket-plot` for several runs, and by `toolkit eval` for one run's evaluation."""

from __future__ import annotations

from pathlib import Path

from .figures import save_figure

BUCKET_METRICS = (("bleu", "BLEU"), ("cer", "CER (character error rate)"))


def bucket_order(name: str) -> int:
    """Buckets sort by their shortest source: "1-10", "11-15", ..., "21+"."""
    return int(name.split("-")[0].rstrip("+"))


def plot_buckets(buckets: list[tuple[str, dict]], path: Path, hint: str) -> Path:
    """BLEU and CER per source-length bucket (shortest sources left), one line per (label, scores
    per bucket), to ``path``; ``hint`` says how to choose another path when this one cannot be written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({name for _, scores in buckets for name in scores}, key=bucket_order)
    fig, axes = plt.subplots(1, len(BUCKET_METRICS), figsize=(5 * len(BUCKET_METRICS), 4), dpi=100, layout="constrained")
    for ax, (key, label) in zip(axes, BUCKET_METRICS):
        for run, scores in buckets:
            shown = [name for name in names if key in scores.get(name, {})]
            ax.plot([names.index(name) for name in shown], [scores[name][key] for name in shown], marker="o",
                    label=run, linewidth=1.2)
        ax.set_xticks(range(len(names)), names)
        ax.set_xlabel("source length (tokens)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    try:
        save_figure(fig, Path(path), "per-length plot", hint)
    finally:
        plt.close(fig)
    return Path(path)
