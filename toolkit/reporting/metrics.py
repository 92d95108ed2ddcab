"""metrics.json and the loss-curve PNG of a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..rundir import LOSS_PLOT, METRICS_FILE, write_atomic


def read_metrics(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / METRICS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_metrics(run_dir: Path, metrics: dict[str, Any]) -> None:
    write_atomic(Path(run_dir) / METRICS_FILE, json.dumps(metrics, ensure_ascii=False, indent=2))


def plot_loss_curve(run_dir: Path, log: list[dict], evals: list[dict]) -> Path | None:
    """Training loss per logged step, with evaluation loss as points."""
    if not log:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot([r["step"] for r in log], [r["loss"] for r in log], label="train loss", linewidth=1.2)
    points = [(e["step"], e["loss"]) for e in evals if "loss" in e]
    if points:
        ax.plot(*zip(*points), "o-", label="validation loss", markersize=4)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(run_dir) / LOSS_PLOT
    fig.savefig(path)
    plt.close(fig)
    return path
