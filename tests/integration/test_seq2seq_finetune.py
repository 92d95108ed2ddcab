"""A seq2seq run folder is a starting point like any other: `model.init_from` continues it (the
model brings its tokenizer; the run reports how it did before), and a `peft` section adapts it
with LoRA, for each of the three encoder-decoder families."""

from __future__ import annotations

import pytest

import toolkit
from conftest import TINY_SEQ2SEQ

# Greedy decoding and no sample sentences (so no attention figures): this file checks init_from and
# LoRA, and each of its 9 runs scores twice; beam search and the maps are tested per family and in
# test_seq2seq_inspect.py. (With the recipes' 5 beams and samples this file took 20% of the suite.)
COMMON = ["data.max_rows=120", "train.batch_size=8", "train.max_steps=2", "train.eval_every=2", "train.save_every=2",
          "train.mixed_precision=no", "eval.max_batches=1", "eval.generation.max_new_tokens=8",
          "eval.generation.num_beams=1", "eval.samples=[]"]
# What a fine-tuning run leaves out: the pretrained folder brings its architecture and tokenizer.
FROM_PRETRAINED = ["tokenizer=null", "model.size=null", "model.config={}"]


@pytest.mark.parametrize("family", sorted(TINY_SEQ2SEQ))
def test_a_seq2seq_run_continues_from_init_from_and_with_lora(family, tmp_path):
    base = toolkit.run(f"{family}/tiny_pinyin", overrides=[*COMMON, *TINY_SEQ2SEQ[family], f"output.dir={tmp_path / 'base'}"])

    full = toolkit.run(f"{family}/tiny_pinyin", overrides=[
        *COMMON, *FROM_PRETRAINED, f"model.init_from={base.run_dir}", f"output.dir={tmp_path / 'full'}"])
    assert full.metrics["before"]["step"] == 0  # scored before the first step, as every fine-tuning run is
    for figure, value in base.metrics["final"].items():  # the loaded model scores as the saved one did
        assert full.metrics["before"][figure] == pytest.approx(value, rel=1e-5, abs=1e-9), figure
    assert full.metrics["vocab_size"] == base.metrics["vocab_size"]  # the pretrained tokenizer came along

    lora = toolkit.run(f"{family}/tiny_pinyin", overrides=[
        *COMMON, *FROM_PRETRAINED, f"model.init_from={base.run_dir}", "peft={r: 4, alpha: 8}",
        f"output.dir={tmp_path / 'lora'}"])
    counts = lora.metrics["train"]
    assert 0 < counts["trainable_parameters"] < counts["parameters"]
    assert (lora.run_dir / "adapter_model.safetensors").is_file()
    assert set(lora.metrics["final"]) == {"bleu", "chrf", "cer", "exact_match"}
