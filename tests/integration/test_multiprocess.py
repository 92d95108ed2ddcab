"""The same recipe under `accelerate launch` with 2 CPU processes (launch.accelerate_config)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO, TINY_GPT2


def test_two_cpu_processes(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "toolkit", "run", "gpt2/tiny_pretrain", *TINY_GPT2, f"output.dir={out}",
               "launch.accelerate_config=accelerate_configs/multi_cpu.yaml", "train.mixed_precision=no"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["processes"] == 2
    assert metrics["train"]["steps"] == 6
    # Both processes saved their RNG state in the checkpoints, so the run can resume exactly.
    assert (out / "checkpoints" / "step-6" / "random_states_1.pkl").is_file()
    assert done.stdout.count("Run folder:") == 1
