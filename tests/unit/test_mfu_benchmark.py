"""benchmarks/mfu.py on the CPU with tiny sizes: it trains through the recipe, prints a
self-explaining header, and its GFLOP/s is 6 x parameters x the tokens/s it measured."""

from __future__ import annotations

import re

import pytest

from conftest import load_benchmark


def load_mfu():
    return load_benchmark("mfu")


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA H100 80GB HBM3", 989.4), ("NVIDIA H100 PCIe", 756.0), ("NVIDIA H200", 989.4),
    ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L4", 121.0), ("NVIDIA GeForce RTX 4090", 165.2),
    ("NVIDIA L40S", None),  # not an L4
])
def test_peak_table(name, peak):
    assert load_mfu().peak_for(name) == peak


def test_tiny_run_on_cpu(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    mfu = load_mfu()
    assert mfu.main(["--sizes", "tiny", "--models", "gpt2", "--steps", "4", "--warmup", "2", "--keep", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    report = out[out.index("== benchmarks/mfu.py"):]
    assert "device: CPU; peak: none (no MFU)" in report
    assert "the first 2 left out (warm-up)" in report and "attention's own products not included" in report
    assert "measured: 2 steps after 2 warm-up steps" in report
    parameters = int(re.search(r"gpt2: gpt2/tiny_pretrain, ([\d,]+) parameters", report).group(1).replace(",", ""))
    tokens_per_second = float(re.search(r"tokens/s \(real tokens, all processes\): ([\d,]+)", report).group(1).replace(",", ""))
    gflops = float(re.search(r"achieved: ([\d.,]+) GFLOP/s", report).group(1).replace(",", ""))
    assert gflops == pytest.approx(6 * parameters * tokens_per_second / 1e9, rel=0.01, abs=0.006)
    assert "no MFU: a CPU has no tensor-core peak" in report
