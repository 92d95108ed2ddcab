"""benchmarks/mlm_plain_loop.py: its MLM accuracy counts only [MASK]ed targets, its causal accuracy
every next token, and a few steps of either loop (and of the MLM loop with the other encoders of
mlm_encoders.py) print and return one row per evaluation."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace

import pytest
import torch

from conftest import load_benchmark
from toolkit.families.bert.family import SPECIAL_TOKENS
from toolkit.recipe import TokenizerSection
from toolkit.tokenization import train_tokenizer

TEXTS = ["今天天气很好，我们一起去公园散步吧。", "这个酒店的服务很好，房间也很干净。"] * 20


def _masked_batch(tokenizer, seed=1):
    from toolkit.families.bert.masking import MaskingCollator

    encoded = [tokenizer(text) for text in TEXTS]
    rows = [{**e, "token_type_ids": [0] * len(e["input_ids"]), "word_ids": [-1, *range(len(e["input_ids"]) - 2), -1]}
            for e in encoded]
    return MaskingCollator(tokenizer, 0.3, seed=seed)(rows)


def test_accuracy_at_mask_scores_only_the_masked_targets():
    bench = load_benchmark("mlm_plain_loop")
    tokenizer = train_tokenizer(TokenizerSection(kind="char"), TEXTS, SPECIAL_TOKENS)
    batch = _masked_batch(tokenizer)
    vocab = len(tokenizer)

    def answering(ids):  # a model whose logits pick ``ids`` everywhere
        return lambda **_: SimpleNamespace(logits=torch.nn.functional.one_hot(ids, vocab).float())

    oracle = answering(batch["labels"].clamp(min=0))
    copier = answering(batch["input_ids"])
    for model, expected in ((oracle, 1.0), (copier, 0.0)):
        model.eval = model.train = lambda *a: None
        accuracy, guess = bench.accuracy_and_guess(model, [batch], partial(bench.at_mask, mask_id=tokenizer.mask_token_id))
        assert accuracy == expected
        assert 0 < guess <= 1


def test_causal_accuracy_scores_each_next_token_and_skips_padding():
    bench = load_benchmark("mlm_plain_loop")
    tokenizer = train_tokenizer(TokenizerSection(kind="char"), TEXTS, SPECIAL_TOKENS)
    rows = [{**tokenizer(text), "token_type_ids": [0] * len(tokenizer(text)["input_ids"])} for text in ("你好。", "今天天气很好。")]
    batch = bench.unmasked_batch(rows, tokenizer.pad_token_id)
    assert batch["labels"][0, -1] == -100 and batch["input_ids"][0, -1] == tokenizer.pad_token_id
    vocab = len(tokenizer)
    # An oracle of the next token: logits at position t pick the token at t + 1.
    following = torch.cat([batch["input_ids"][:, 1:], batch["input_ids"][:, :1]], dim=1)
    oracle = lambda **_: SimpleNamespace(logits=torch.nn.functional.one_hot(following, vocab).float())
    oracle.eval = oracle.train = lambda *a: None
    accuracy, guess = bench.accuracy_and_guess(oracle, [batch], bench.next_tokens)
    targets = [token for row in rows for token in row["input_ids"][1:]]  # each row's tokens after its first
    assert accuracy == 1.0
    assert guess == max(map(targets.count, targets)) / len(targets)


def test_a_few_plain_steps_print_a_row_per_evaluation(tmp_path, capsys):
    import toolkit

    run = toolkit.run("bert/tiny_pretrain_mix", overrides=[
        "model.config={num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64}",
        "data.max_rows=300", "data.block_size=32", "train.batch_size=4", "train.max_steps=1", "train.eval_every=1",
        "train.save_every=1", "eval.max_batches=1", f"output.dir={tmp_path / 'bert'}"])
    bench = load_benchmark("mlm_plain_loop")
    common = ["--tokenizer", str(run.run_dir), "--max-rows", "300", "--steps", "4", "--eval-every", "2",
              "--block-size", "32"]
    for choice, header in ((["--objective", "mlm"], "at [MASK]"), (["--objective", "causal"], "next token"),
                           (["--encoder", "torch-pre"], "at [MASK]"), (["--encoder", "cbow"], "at [MASK]")):
        rows = bench.main(choice + common)
        assert [row["step"] for row in rows] == [2, 4]
        assert all(0 <= row["accuracy"] <= 1 and 0 < row["guess"] <= 1 for row in rows)
        assert header in capsys.readouterr().out
    with pytest.raises(SystemExit):  # the causal objective trains the BERT itself
        bench.main(["--objective", "causal", "--encoder", "cbow"] + common)
