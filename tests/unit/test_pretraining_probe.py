"""benchmarks/pretraining_probe.py on a tiny BERT run: it probes both encoders with every pooling,
and a probe fitted on features that carry the label scores above one fitted on noise."""

from __future__ import annotations

import numpy as np

import toolkit
from conftest import load_benchmark

TINY_BERT = ["model.config={num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64}",
             "data.max_rows=120", "data.block_size=32", "train.batch_size=8", "train.max_steps=2", "train.eval_every=2",
             "train.save_every=2", "train.mixed_precision=no", "eval.max_batches=1"]


def test_probe_prints_both_encoders_for_each_pooling(tmp_path, capsys):
    run_dir = toolkit.run("bert/tiny_pretrain_wwm", overrides=[*TINY_BERT, f"output.dir={tmp_path / 'bert'}"]).run_dir
    probe = load_benchmark("pretraining_probe")
    rows = probe.main([str(run_dir), "--train-rows", "60", "--eval-rows", "30", "--max-length", "32"])
    assert [row["pooling"] for row in rows] == list(probe.POOLINGS)
    assert all(0.0 <= row[side] <= 1.0 for row in rows for side in ("pretrained", "random"))
    out = capsys.readouterr().out
    assert "random weights" in out and "embeddings_mean" in out and "gain" in out


def test_probe_accuracy_separates_signal_from_noise():
    probe = load_benchmark("pretraining_probe")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    signal = rng.normal(size=(400, 8)) + labels[:, None] * 2.0
    noise = rng.normal(size=(400, 8))
    assert probe.probe_accuracy(signal[:300], labels[:300], signal[300:], labels[300:]) > 0.9
    assert probe.probe_accuracy(noise[:300], labels[:300], noise[300:], labels[300:]) < 0.7
