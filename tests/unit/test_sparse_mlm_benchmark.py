"""benchmarks/sparse_mlm_logits.py runs both sides on a small model and prints their ratio."""

from __future__ import annotations

import re

from conftest import load_benchmark


def test_small_run_prints_both_sides_and_their_ratio(capsys):
    load_benchmark("sparse_mlm_logits").main(["--hidden-size", "32", "--heads", "2", "--vocab-size", "300", "--batch-size", "4",
                                              "--block-size", "16", "--steps", "2", "--rounds", "1"])
    out = capsys.readouterr().out
    assert "| every position |" in out and "| masked positions only |" in out
    assert re.search(r"sparse / dense step time: \d+\.\d\d", out)
