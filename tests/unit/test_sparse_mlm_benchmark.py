"""benchmarks/sparse_mlm_logits.py runs both sides of each comparison on a small model and prints their ratio."""

from __future__ import annotations

import re

import pytest
from conftest import load_benchmark

SMALL = ["--hidden-size", "32", "--heads", "2", "--vocab-size", "300", "--batch-size", "4", "--block-size", "16",
         "--steps", "2", "--rounds", "1"]


def test_small_run_prints_both_sides_and_their_ratio(capsys):
    load_benchmark("sparse_mlm_logits").main(SMALL)
    out = capsys.readouterr().out
    assert "| every position |" in out and "| masked positions only |" in out
    assert re.search(r"sparse / dense step time: \d+\.\d\d", out)


def test_dropout_comparison_prints_both_sides_and_their_ratio(capsys):
    load_benchmark("sparse_mlm_logits").main(["--compare", "dropout", *SMALL])
    out = capsys.readouterr().out
    assert "| 0.1 (BERT's) |" in out and "| none |" in out
    assert re.search(r"no dropout / dropout 0.1 step time: \d+\.\d\d", out)


def test_unknown_comparison_is_refused(capsys):
    with pytest.raises(SystemExit):
        load_benchmark("sparse_mlm_logits").main(["--compare", "width", *SMALL])
    assert "invalid choice: 'width'" in capsys.readouterr().err
