"""The same recipe under `accelerate launch` with 2 CPU processes (launch.accelerate_config)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import yaml

from conftest import REPO, TINY_GPT2, TINY_SEQ2SEQ
from toolkit.cli import main

pytestmark = pytest.mark.heavy  # each test launches 2 fresh processes (20-30 s)


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


# Run under `accelerate launch` (each process is one of these): records the texts this process's
# stream loader reads in its first pass, then writes them to seen_<rank>.json.
STREAM_SPY = textwrap.dedent("""
    import atexit, json, os, sys
    from toolkit.tasks import stream_blocks
    import toolkit

    seen = []
    made = stream_blocks.StreamLoader.__init__

    def spying(self, blocks, *args, **kwargs):
        made(self, blocks, *args, **kwargs)
        tokenizer = blocks.tokenizer

        def recording(texts, **options):
            if self.passes == 0:
                seen.extend(texts)
            return tokenizer(texts, **options)

        blocks.tokenizer = recording

    stream_blocks.StreamLoader.__init__ = spying
    out = sys.argv[1]
    atexit.register(lambda: open(os.path.join(out, f"seen_{os.environ['RANK']}.json"), "w").write(json.dumps(seen)))
    toolkit.run("gpt2/tiny_pretrain", overrides=sys.argv[2:])
""")


def test_two_cpu_processes_stream_disjoint_shards(tmp_path):
    """3 jsonl files for 2 processes (not whole files each, so the stream is split row by row):
    in their first pass the processes read no document in common, and together every training one."""
    documents = [f"第{i}篇文章。" + "新华社北京电" * (i % 4 + 1) for i in range(90)]
    for part in range(3):
        lines = [json.dumps({"text": text}, ensure_ascii=False) for text in documents[part * 30 : part * 30 + 30]]
        (tmp_path / f"part{part}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    card = tmp_path / "stream.yaml"
    card.write_text(f"name: spied\ndescription: 90 documents\nsource: {{files: '{tmp_path}/part*.jsonl', format: jsonl}}\n"
                    "splits: {validation: 4, test: 0}\n", encoding="utf-8")
    out = tmp_path / "run"
    overrides = [*TINY_GPT2[:1], "data.block_size=32", "train.batch_size=4", "train.max_steps=16", "train.eval_every=16",
                 "train.save_every=16", "eval.max_batches=1", "eval.samples=[]", "train.mixed_precision=no",
                 f"data.card={card}", "data.streaming=true", f"output.dir={out}"]
    spy = tmp_path / "spy.py"
    spy.write_text(STREAM_SPY, encoding="utf-8")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", "accelerate_configs/multi_cpu.yaml",
               "--main_process_port", "29533", str(spy), str(tmp_path), *overrides]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "metrics.json").read_text())["train"]["processes"] == 2
    seen = [json.loads((tmp_path / f"seen_{rank}.json").read_text()) for rank in range(2)]
    assert seen[0] and seen[1]
    assert not set(seen[0]) & set(seen[1])
    assert len(seen[0]) == len(set(seen[0])) and len(seen[1]) == len(set(seen[1]))
    assert set(seen[0]) | set(seen[1]) == set(documents[4:]), "both passes read to the end, and held-out rows stay out"
    assert (out / "checkpoints" / "step-16" / "data_state_1.json").is_file()


# Tiny models of four tasks whose scoring gathers per example in different ways: masked tokens
# (BERT pretraining), tagged characters (NER), both directions of the ELMo biLM, and decoded texts
# (seq2seq). 2 processes evaluate,
# and accelerate repeats examples from the start of the split to even out their last batches, which
# the scores must leave out: for BERT 3 whole batches of 2 (the fourth repeats the first; masks
# depend on a batch's content, so a partly repeated batch would be masked differently), for NER all
# 63 chunks in batches of 40 (the second process's one batch holds 23 real chunks and 17 repeated:
# a batch's mean loss would be mostly theirs; the biLM's blocks alike) and for seq2seq all 15
# pairs in batches of 2 (the last holds one real pair and one repeated). 40 steps at a high rate,
# so that examples score differently (an untrained model scores every example alike, repeated or not).
UNEVEN_EVAL = ["data.max_rows=400", "data.block_size=32", "train.batch_size=8", "train.max_steps=40",
               "train.eval_every=40", "train.save_every=40", "train.mixed_precision=no",
               "train.optimizer.lr=3e-3", "eval.batch_size=2"]
TINY_BERT_CONFIG = "model.config={num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64}"
SCORED_ALIKE = {
    "bert_preln_pretrain": ("bert_preln/tiny_pretrain_mix", [TINY_BERT_CONFIG, "eval.max_batches=3"]),
    "bert_ner": ("bert/tiny_ner", [TINY_BERT_CONFIG, "model.init_from=null", "eval.max_batches=null",
                                   "eval.batch_size=40"]),
    "elmo_bilm": ("elmo/tiny_bilm", ["model.config={num_layers: 1, embedding_size: 16, hidden_size: 16}",
                                     "eval.max_batches=null", "eval.batch_size=40", "eval.samples=[]"]),
    "rnn_seq2seq": ("rnn_seq2seq/tiny_pinyin", [*TINY_SEQ2SEQ["rnn_seq2seq"], "eval.generation.max_new_tokens=8",
                                                "eval.max_batches=null"]),
}


@pytest.mark.parametrize("name", SCORED_ALIKE)
def test_two_processes_score_what_one_process_scores(tmp_path, name, capsys):
    """A run trained and evaluated by 2 processes reports the figures a one-process `toolkit eval`
    of its saved model gives: the examples repeated to even out the last batch are not scored."""
    recipe, extra = SCORED_ALIKE[name]
    out = tmp_path / "run"
    command = [sys.executable, "-m", "toolkit", "run", recipe, *UNEVEN_EVAL, *extra, f"output.dir={out}",
               "launch.accelerate_config=accelerate_configs/multi_cpu.yaml"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    reported = json.loads((out / "metrics.json").read_text())
    assert reported["train"]["processes"] == 2
    capped = yaml.safe_load((out / "recipe.yaml").read_text())["eval"]["max_batches"]  # the run's own cap, if any
    assert main(["eval", str(out), "--split", "validation", *(["--max-batches", str(capped)] if capped else [])]) == 0
    again = json.loads((out / "metrics.json").read_text())["evaluations"][-1]["metrics"]
    last = reported["evals"][-1]  # the final figures and the loss
    assert set(reported["final"]) <= set(last)
    for figure in set(last) & set(again):
        assert again[figure] == pytest.approx(last[figure], rel=1e-5), f"{name}: {figure} differs in one process"
