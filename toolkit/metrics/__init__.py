"""`evaluate` metric modules that ship inside the package and load offline by local path.

`evaluate.load("accuracy")` would fetch the module from the Hub at run time; these are loaded
from this folder instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import ToolkitError

METRICS_DIR = Path(__file__).resolve().parent


def available_metrics() -> list[str]:
    return sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file())


@lru_cache(maxsize=None)
def load_metric(name: str):
    """An `evaluate` module from toolkit/metrics/<name>/<name>.py.

    Kept in memory: by default each `compute` writes its predictions to an Arrow file in evaluate's
    shared cache under a file lock named after the metric, and a second process evaluating at the
    same time (two runs, a sweep, test workers) waits a second on that lock for every `compute`, or
    for ever on a lock left held by a `compute` that raised. The toolkit gathers across processes
    itself (Accelerate's gather_for_metrics) and computes on one, so the file buys nothing."""
    import evaluate

    if name not in available_metrics():
        raise ToolkitError(f"Unknown metric '{name}'; the toolkit ships: {', '.join(available_metrics())}.")
    return evaluate.load(str(METRICS_DIR / name), keep_in_memory=True)
