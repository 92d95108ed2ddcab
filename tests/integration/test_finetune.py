"""Fine-tuning: init_from a run folder, full or LoRA (peft), layer freezing, and clear refusals."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import toolkit
from toolkit.errors import RecipeError, ToolkitError

FINETUNE = ["data.card=sanguo_yanyi", "data.block_size=32", "data.max_rows=300", "train.batch_size=8",
            "train.max_steps=4", "train.eval_every=2", "train.save_every=2", "eval.max_batches=2",
            "eval.samples=[天下]", "eval.generation.max_new_tokens=6"]


@pytest.fixture(scope="module")
def base_run(gpt2_run):
    """The session's shared tiny GPT-2 run folder (tests/conftest.py): only read here."""
    return gpt2_run


def test_lora_saves_adapter_merged_model_and_counts(base_run, tmp_path):
    from huggingface_hub import ModelCard
    from peft import AutoPeftModelForCausalLM

    out = tmp_path / "lora"
    result = toolkit.run("gpt2/tiny_lora_sanguo", overrides=[*FINETUNE, f"model.init_from={base_run}",
                                                              "peft.r=2", f"output.dir={out}"])
    assert (out / "adapter_model.safetensors").is_file() and (out / "adapter_config.json").is_file()
    assert not (out / "model.safetensors").exists()
    assert (out / "merged" / "model.safetensors").is_file()
    train = result.metrics["train"]
    assert 0 < train["trainable_parameters"] < train["parameters"] / 5
    assert result.metrics["before"]["step"] == 0 and result.metrics["before"]["samples"]
    model = AutoPeftModelForCausalLM.from_pretrained(out)
    assert model.peft_config["default"].r == 2
    card = ModelCard.load(out / "README.md").data.to_dict()
    assert card["library_name"] == "peft" and "lora" in card["tags"]


def test_continued_pretraining_with_frozen_embeddings(base_run, tmp_path):
    out = tmp_path / "full"
    result = toolkit.run("gpt2/tiny_continue_sanguo", overrides=[*FINETUNE, f"model.init_from={base_run}",
                                                                  "train.freeze=[embeddings]", f"output.dir={out}"])
    before, after = load_file(base_run / "model.safetensors"), load_file(out / "model.safetensors")
    assert torch.equal(before["transformer.wte.weight"], after["transformer.wte.weight"])
    assert not torch.equal(before["transformer.h.0.mlp.c_fc.weight"], after["transformer.h.0.mlp.c_fc.weight"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["before"]["perplexity"] > 0 and metrics["samples"]
    assert result.metrics["train"]["trainable_parameters"] < result.metrics["train"]["parameters"]


def test_init_from_refuses_a_new_tokenizer(base_run):
    with pytest.raises(RecipeError, match="brings its own tokenizer"):
        toolkit.load_recipe("gpt2/tiny_lora_sanguo", [f"model.init_from={base_run}", "tokenizer.kind=char"])


def test_lora_needs_a_pretrained_model():
    with pytest.raises(RecipeError, match="set model.init_from"):
        toolkit.load_recipe("gpt2/tiny_pretrain", ["peft.r=4"])


def test_unknown_freeze_group():
    with pytest.raises(RecipeError, match="did you mean 'embeddings'"):
        toolkit.load_recipe("gpt2/tiny_pretrain", ["train.freeze=[embedings]"])


def test_offline_hub_id_is_a_clear_error(tmp_path):
    with pytest.raises(ToolkitError, match="offline"):
        toolkit.run("gpt2/tiny_continue_sanguo", overrides=[*FINETUNE, "model.init_from=uer/gpt2-chinese-cluecorpussmall",
                                                             f"output.dir={tmp_path / 'x'}"])


def test_init_from_a_model_of_another_family_is_refused(tmp_path):
    from transformers import BertConfig, BertForMaskedLM

    bert_dir = tmp_path / "bert"
    BertForMaskedLM(BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=32)).save_pretrained(bert_dir)
    with pytest.raises(ToolkitError, match="is a bert model, but model.family is gpt2"):
        toolkit.run("gpt2/tiny_continue_sanguo", overrides=[*FINETUNE, f"model.init_from={bert_dir}",
                                                             f"output.dir={tmp_path / 'x'}"])


def test_eval_of_a_plain_model_folder_needs_a_card_and_works_with_one(base_run, tmp_path, capsys):
    import shutil

    from toolkit.cli import main

    plain = tmp_path / "plain"
    shutil.copytree(base_run, plain, ignore=shutil.ignore_patterns("recipe.yaml", "metrics.json", "checkpoints", "logs"))
    assert main(["eval", str(plain)]) == 2
    assert "give --card" in capsys.readouterr().err
    assert main(["eval", str(plain), "--card", "sanguo_yanyi", "--split", "validation", "--max-batches", "1"]) == 0
    assert "perplexity" in capsys.readouterr().out
    assert not (plain / "metrics.json").exists()  # not a run folder: nothing is written into it
