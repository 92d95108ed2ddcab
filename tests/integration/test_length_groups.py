"""train.group_by_length: batches of similar lengths, a fresh order each epoch, the same order
again on resume."""

from __future__ import annotations

import random

import pytest

import toolkit
from toolkit.training.length_groups import LengthGroupedEpochSampler

TINY_CLASSIFIER = [
    "model.family=bert_preln", "model.init_from=null",
    "model.config={num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64}",
    "tokenizer={kind: char, min_frequency: 2}",
    # 180 training rows: 22 batches an epoch, grouped 5 batches at a time (HF's mega-batches)
    "data.max_rows=200", "data.block_size=64", "train.batch_size=8", "train.max_steps=26",
    "train.eval_every=13", "train.save_every=8", "train.log_every=1", "eval.max_batches=2",
    "train.group_by_length=true",
]


def _padded_tokens(order: list[int], lengths: list[int], batch_size: int) -> int:
    batches = [order[i:i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]
    return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)


def test_grouped_order_pads_less_and_depends_only_on_seed_and_epoch():
    rng = random.Random(0)
    lengths = [rng.choice([rng.randint(5, 40), rng.randint(100, 128)]) for _ in range(2000)]
    sampler = LengthGroupedEpochSampler(lengths, batch_size=32, seed=7)
    first = list(sampler)
    assert sorted(first) == list(range(2000)), "every example exactly once an epoch"
    assert list(sampler) == first, "the same epoch gives the same order"
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first and sorted(second) == sorted(first)
    again = LengthGroupedEpochSampler(lengths, batch_size=32, seed=7)
    again.set_epoch(1)
    assert list(again) == second, "a resumed run sees the uninterrupted run's order"

    shuffled = list(range(2000))
    rng.shuffle(shuffled)
    assert _padded_tokens(first, lengths, 32) < 0.75 * _padded_tokens(shuffled, lengths, 32)


def test_a_grouped_run_stopped_and_resumed_matches_the_straight_run(tmp_path, monkeypatch):
    import toolkit.tasks.runner as runner

    iterated: list[tuple[str, int]] = []  # (which run, epoch) of every pass over the grouped order

    class Recording(LengthGroupedEpochSampler):
        def __iter__(self):
            iterated.append((current[0], self.epoch))
            return super().__iter__()

    monkeypatch.setattr(runner, "LengthGroupedEpochSampler", Recording)
    current = ["straight"]
    straight = toolkit.run("bert_preln/tiny_sentiment", overrides=[*TINY_CLASSIFIER, f"output.dir={tmp_path / 'a'}"])
    assert {row["epoch"] for row in straight.metrics["log"]} == {0, 1}, "the run should cross an epoch"

    def fail_after_step_25(state):
        if state.step == 25:  # the step-24 checkpoint (epoch 1) is on disk
            raise RuntimeError("stopped by the test")

    cut = [*TINY_CLASSIFIER, f"output.dir={tmp_path / 'b'}"]
    current[0] = "cut"
    with pytest.raises(RuntimeError, match="stopped by the test"):
        toolkit.run("bert_preln/tiny_sentiment", overrides=cut, callbacks=[fail_after_step_25])
    current[0] = "resumed"
    resumed = toolkit.run("bert_preln/tiny_sentiment", overrides=cut, resume=True)
    assert ("straight", 1) in iterated and ("resumed", 1) in iterated and ("resumed", 0) not in iterated
    straight_curve = [row["loss"] for row in straight.metrics["log"]]
    resumed_curve = [row["loss"] for row in resumed.metrics["log"]]
    assert resumed_curve == pytest.approx(straight_curve, abs=1e-5)


def test_a_streaming_run_refuses_length_grouping(tmp_path):
    with pytest.raises(toolkit.ToolkitError, match="group_by_length"):
        toolkit.run("gpt2/tiny_pretrain", overrides=["data.streaming=true", "train.group_by_length=true",
                                                     f"output.dir={tmp_path / 'run'}"])
