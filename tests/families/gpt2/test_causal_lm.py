"""GPT-2 causal LM: a tiny CPU run end to end, and what its run folder offers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import toolkit
from toolkit.cli import main
from toolkit.training import TrainingInterrupted, checkpoint_dirs


@pytest.fixture(scope="module")
def finished_run(gpt2_run):
    """The session's shared tiny GPT-2 run folder (tests/conftest.py), trained once for the suite."""
    return gpt2_run


def test_run_folder_is_a_complete_hf_model_folder(finished_run):
    run_dir = finished_run
    for name in ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json",
                 "tokenizer_config.json", "recipe.yaml", "metrics.json", "loss_curve.png", "README.md"):
        assert (run_dir / name).is_file(), name
    assert not list(run_dir.glob("*.bin")), "weights must be safetensors"
    assert list((run_dir / "logs").rglob("events.out.tfevents*")), "TensorBoard logs (tensorboard is a test extra)"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train"]["steps"] == 6 and len(metrics["evals"]) == 2
    assert metrics["final"]["perplexity"] > 1 and metrics["samples"][0]["prompt"] == "中国经济"
    # The resolved recipe is itself a valid recipe.
    again = toolkit.load_recipe(run_dir / "recipe.yaml")
    assert again.train.max_steps == 6


def test_model_card_metadata_parses(finished_run):
    from huggingface_hub import ModelCard

    card = ModelCard.load(finished_run / "README.md")
    data = card.data.to_dict()
    assert data["language"] == "zh" and data["pipeline_tag"] == "text-generation"
    assert data["datasets"] == ["peoples_daily_1998"] and data["license"] == "apache-2.0"
    results = data["model-index"][0]["results"][0]
    assert results["metrics"][0]["type"] == "perplexity"
    assert "## Recipe" in card.text and "loss_curve.png" in card.text


@pytest.mark.heavy
def test_plain_transformers_pipeline_loads_the_folder(finished_run):
    """No toolkit import in the child: the folder is an ordinary Hugging Face model."""
    code = (
        "from transformers import pipeline;"
        f"g = pipeline('text-generation', model={str(finished_run)!r});"
        "print(g('中国', max_new_tokens=5, do_sample=False)[0]['generated_text'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("中国")


def test_generate_and_eval_commands(finished_run, tmp_path, capsys):
    import shutil

    # A copy: `eval` appends to metrics.json, and the shared folder must stay as trained for other files.
    copy = Path(shutil.copytree(finished_run, tmp_path / "run"))
    run_dir = str(copy)
    assert main(["generate", run_dir, "--prompt", "中国", "--max-new-tokens", "5", "--seed", "1", "--top-k", "5"]) == 0
    assert capsys.readouterr().out.startswith("中国")
    assert main(["eval", run_dir, "--split", "validation", "--max-batches", "1"]) == 0
    assert "perplexity" in capsys.readouterr().out
    metrics = json.loads((copy / "metrics.json").read_text())
    assert metrics["evaluations"][-1]["split"] == "validation"
    assert metrics["evaluations"][-1]["card"] == "peoples_daily_1998"


def test_existing_run_folder_is_not_overwritten(finished_run, capsys):
    from conftest import TINY_GPT2

    code = main(["run", "gpt2/tiny_pretrain", *TINY_GPT2, f"output.dir={finished_run}"])
    assert code == 2
    assert "already holds files" in capsys.readouterr().err


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(tiny_gpt2):
    def interrupt_at_step_4(state):
        if state.step == 4:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted) as caught:
        toolkit.run("gpt2/tiny_pretrain", overrides=tiny_gpt2, callbacks=[interrupt_at_step_4])
    run_dir = Path(caught.value.checkpoint).parents[1]
    assert caught.value.step == 4 and checkpoint_dirs(run_dir)[-1].name == "step-4"
    assert not (run_dir / "model.safetensors").exists()
    result = toolkit.run("gpt2/tiny_pretrain", overrides=tiny_gpt2, resume=True)
    assert result.metrics["train"]["steps"] == 6


def test_resume_refuses_a_changed_model(finished_run, capsys):
    from conftest import TINY_GPT2

    code = main(["run", "gpt2/tiny_pretrain", *TINY_GPT2, "model.config.n_embd=64",
                 f"output.dir={finished_run}", "--resume"])
    assert code == 2 and "model" in capsys.readouterr().err


def test_byte_bpe_tokenizer_recipe_runs(tiny_gpt2):
    result = toolkit.run("gpt2/tiny_pretrain", overrides=[*tiny_gpt2, "tokenizer.kind=byte_bpe",
                                                          "tokenizer.vocab_size=400", "train.max_steps=2"])
    saved = yaml.safe_load((result.run_dir / "recipe.yaml").read_text())
    assert saved["tokenizer"]["kind"] == "byte_bpe" and result.metrics["vocab_size"] % 64 == 0
