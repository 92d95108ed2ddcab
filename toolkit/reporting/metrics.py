"""metrics.json and the loss-curve PNG of a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ToolkitError
from ..rundir import LOSS_PLOT, METRICS_FILE, write_atomic


def read_metrics(run_dir: Path) -> dict[str, Any]:
    """A run's metrics.json ({} when there is none yet); a damaged one is a clear error, never
    read as empty, since callers append to it and write it back."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return {}
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ToolkitError(
            f"{path} is not valid JSON ({exc}); it was left as it is. Restore it from a copy, or move it "
            f"away to start a new metrics file."
        ) from None
    if not isinstance(metrics, dict):
        raise ToolkitError(f"{path} holds a JSON {type(metrics).__name__}, not the object of a run's metrics; "
                           f"it was left as it is. Restore it from a copy, or move it away.")
    return metrics


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
