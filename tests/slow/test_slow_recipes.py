"""Full bundled recipes end to end (minutes each): `python -m pytest -m slow -q`."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


@pytest.mark.parametrize("recipe", ["recipes/gpt2/tiny_pretrain.yaml", "recipes/gpt2/tiny_pretrain_sanguo.yaml"])
def test_bundled_gpt2_recipe_learns(recipe, tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "toolkit", "run", recipe, f"output.dir={out}"],
                          capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    # Far below the vocabulary size: the model learned the corpus, not a uniform guess.
    assert metrics["final"]["perplexity"] < metrics["vocab_size"] / 10
    for sample in metrics["samples"]:
        continuation = sample["text"][len(sample["prompt"]):]
        assert sum(map(_is_cjk, continuation)) >= len(continuation) // 2
        assert len(set(continuation)) > 5, "not one token repeated"
    for args in (["generate", str(out), "--prompt", "中国", "--seed", "0"],
                 ["eval", str(out), "--split", "test"],
                 ["push", str(out), "--repo-id", "someone/tiny", "--dry-run"]):
        step = subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, cwd=REPO, timeout=600)
        assert step.returncode == 0, step.stderr[-2000:]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_bundled_rnn_recipe_leaves_the_unigram_plateau(cell, tmp_path):
    """With small embeddings the tiny LSTM once sat at the unigram perplexity (~730) for all 500
    steps; measured after the fix: rnn 172, lstm 163, gru 154 (GPT-2 tiny: 124)."""
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "toolkit", "run", f"recipes/rnn_lm/tiny_{cell}_pretrain.yaml",
                           f"output.dir={out}"], capture_output=True, text=True, cwd=REPO, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "metrics.json").read_text())["final"]["perplexity"] < 300


def test_bundled_pre_ln_bert_reads_context_and_lifts_the_sentiment_fine_tune(tmp_path):
    """The post-LN tiny BERT's MLM ends its CPU budget at the guess (at [MASK] 0.060 vs 0.058);
    measured for the bundled bert_preln chain (validation, bf16): 0.315 vs 0.066, NSP 0.839, and
    the fine-tune 0.849 (seeds 1 and 2: 0.861 and 0.861; random weights of this shape with an
    earlier 500-step fine-tune: 0.806). Prints each run's wall time (the chain's budget is 20
    minutes of a 2-core CPU: 643 + 186 s measured in bf16, 609 + 187 s in fp32)."""
    pretrained, tuned = tmp_path / "pretrain", tmp_path / "sentiment"
    for recipe, out, extra in (("recipes/bert_preln/tiny_pretrain_mix.yaml", pretrained, []),
                               ("recipes/bert_preln/tiny_sentiment.yaml", tuned, [f"model.init_from={pretrained}"])):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "toolkit", "run", recipe, f"output.dir={out}", *extra],
                              capture_output=True, text=True, cwd=REPO, timeout=3600)
        assert done.returncode == 0, done.stderr[-3000:]
        print(f"{recipe}: {time.perf_counter() - start:.0f} s")
    final = json.loads((pretrained / "metrics.json").read_text())["final"]
    assert final["mlm_accuracy_at_mask"] > 3 * final["mlm_guess_at_mask"]
    assert final["nsp_accuracy"] > 0.82
    assert json.loads((tuned / "metrics.json").read_text())["final"]["accuracy"] > 0.83
