"""How long `toolkit --help` and `toolkit validate` take, in this checkout and in others side by side.

    python benchmarks/cli_startup.py                      # this checkout only
    python benchmarks/cli_startup.py /path/to/old/checkout ...   # e.g. a `git worktree add` of an older commit

The trees are run alternately, 3 times each, and the median is printed (run it on a quiet machine);
also how many torch / transformers / accelerate / datasets modules `import toolkit.recipe` imports.
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = [["--help"], ["validate", "recipes/gpt2/tiny_pretrain.yaml"], ["validate", "recipes/rnn_lm/tiny_lstm_pretrain.yaml"],
            ["validate", "recipes/elmo/tiny_bilm.yaml"], ["validate", "recipes/bert/tiny_pretrain.yaml"]]
HEAVY = ("torch", "transformers", "accelerate", "datasets")


def run(tree: str, args: list[str]) -> list[str]:
    env = {**os.environ, "PYTHONPATH": tree}
    return subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, check=True).stderr.splitlines()


def main() -> None:
    trees = [str(Path(__file__).resolve().parent.parent), *map(str, sys.argv[1:])]
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(3):
        for tree in trees:
            for command in COMMANDS:
                start = time.perf_counter()
                run(tree, ["-m", "toolkit", *command])
                times.setdefault((tree, " ".join(command)), []).append(time.perf_counter() - start)
    for command in COMMANDS:
        shown = "  ".join(f"{tree}: {statistics.median(times[(tree, ' '.join(command))]):.2f}s" for tree in trees)
        print(f"toolkit {' '.join(command):45s} {shown}")
    for tree in trees:
        lines = run(tree, ["-X", "importtime", "-c", "import toolkit.recipe"])
        heavy = [line for line in lines if line.split("|")[-1].strip().split(".")[0] in HEAVY]
        print(f"import toolkit.recipe in {tree}: {len(heavy)} torch/transformers/accelerate/datasets modules")


if __name__ == "__main__":
    main()
