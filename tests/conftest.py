"""Shared test setup: offline, quiet, and tiny recipes that run in seconds on 2 CPU cores."""

from __future__ import annotations

import os

# Tests never reach the network: the Hub is offline, as on CI.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("TQDM_DISABLE", "1")
# One worker process per core (pytest-xdist): each computes on one thread (and so do the Python
# processes its tests start), or the workers' OpenMP threads wait on each other's cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def load_benchmark(name: str):
    """A script of benchmarks/ imported as a module (benchmarks/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

# A GPT-2 small enough to train a few steps in a second or two.
TINY_GPT2 = [
    "model.config={n_layer: 1, n_head: 2, n_embd: 32, n_positions: 64}",
    "data.block_size=32",
    "data.max_rows=300",
    "train.batch_size=8",
    "train.max_steps=6",
    "train.eval_every=3",
    "train.save_every=3",
    "train.log_every=1",
    "eval.max_batches=2",
    "eval.generation.max_new_tokens=8",
]


# Seq2seq families shrunk to a few thousand parameters (overrides of recipes/<family>/tiny_pinyin.yaml).
TINY_SEQ2SEQ = {
    "transformer_seq2seq": ["model.config={d_model: 32, encoder_layers: 1, decoder_layers: 1, encoder_attention_heads: 2, "
                            "decoder_attention_heads: 2, encoder_ffn_dim: 64, decoder_ffn_dim: 64}"],
    "rnn_seq2seq": ["model.config={cell: gru, num_layers: 1, hidden_size: 16, embedding_size: 16, attention: luong_general}"],
    "conv_seq2seq": ["model.config={embedding_size: 16, hidden_size: 16, encoder_layers: 1, decoder_layers: 1}"],
}


@pytest.fixture
def tiny_gpt2(tmp_path):
    """Overrides that shrink recipes/gpt2/tiny_pretrain.yaml, writing into a fresh folder."""
    return [*TINY_GPT2, f"output.dir={tmp_path / 'run'}"]


@pytest.fixture(scope="session")
def gpt2_run(tmp_path_factory) -> Path:
    """A finished tiny GPT-2 run folder (TINY_GPT2), trained once per session and shared by the tests
    that read one (test_causal_lm, test_finetune, test_cli, bad_inputs): copy it (shutil.copytree)
    before changing anything in it, `toolkit eval` included (it appends to metrics.json)."""
    import toolkit

    out = tmp_path_factory.mktemp("shared_gpt2") / "run"
    return toolkit.run("gpt2/tiny_pretrain", overrides=[*TINY_GPT2, f"output.dir={out}"]).run_dir
