"""Bad inputs to the commands that load a saved model folder: generate, eval, predict, fill-mask,
embed, compare. Each ends as one clear paragraph with exit code 2, or works with a notice, and
nothing is silently wrong."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from integration.bad_inputs.conftest import assert_clear_error, snapshot
from conftest import TINY_GPT2

PROMPT = ["--prompt", "中国", "--seed", "0"]


@pytest.fixture
def gpt2_copy(gpt2_run, tmp_path) -> Path:
    """A copy of the shared tiny GPT-2 run, free to damage."""
    return Path(shutil.copytree(gpt2_run, tmp_path / "run"))


@pytest.fixture(scope="module")
def bert_classifier(tmp_path_factory) -> Path:
    """A tiny BERT sentiment classifier saved as a plain model folder (no recipe.yaml), built
    without training: its weights do not matter, its architecture does."""
    from transformers import BertConfig, BertForSequenceClassification

    from toolkit.data import load_corpus
    from toolkit.families.bert.family import SPECIAL_TOKENS
    from toolkit.recipe import TokenizerSection
    from toolkit.tokenization import train_tokenizer

    folder = tmp_path_factory.mktemp("bert_classifier") / "model"
    texts = load_corpus("product_reviews_sentiment", view="text", max_rows=300)["train"]["text"]
    tokenizer = train_tokenizer(TokenizerSection(kind="char"), texts, SPECIAL_TOKENS)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id,
                        num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# --- generate settings -------------------------------------------------------------------------

@pytest.mark.parametrize("flag, value, allowed", [
    ("--max-new-tokens", "0", ">= 1"), ("--max-new-tokens", "-5", ">= 1"),
    ("--temperature", "0", "> 0"), ("--temperature", "-1", "> 0"), ("--temperature", "nan", "> 0"),
    ("--temperature", "inf", "> 0"), ("--top-p", "0", "<= 1"), ("--top-p", "2", "<= 1"),
    ("--top-k", "-3", ">= 0"), ("--repetition-penalty", "0", "> 0"),
])
def test_generate_setting_out_of_range_names_the_flag(cli, gpt2_run, flag, value, allowed):
    assert_clear_error(cli("generate", gpt2_run, *PROMPT, flag, value), flag, value, allowed)


def test_greedy_ignores_temperature(cli, gpt2_run):
    result = cli("generate", gpt2_run, *PROMPT, "--greedy", "--temperature", "0", "--max-new-tokens", "4")
    assert result.code == 0, result.err
    assert result.out.startswith("中国") and "--temperature" in result.err


def test_generate_long_prompt_is_cut_from_the_left(cli, gpt2_run):
    result = cli("generate", gpt2_run, "--prompt", "中国人民" * 2500, "--max-new-tokens", "5", "--seed", "0")
    assert result.code == 0, result.err
    assert "10000 tokens" in result.err and "last" in result.err


def test_generate_more_tokens_than_the_context_are_capped(cli, gpt2_run):
    result = cli("generate", gpt2_run, *PROMPT, "--max-new-tokens", "100000000")
    assert result.code == 0, result.err
    assert "context of 64 tokens" in result.err and "generating 62" in result.err


def test_rnn_models_have_no_context_cap():
    from toolkit.generation import context_length, fit_to_context
    from toolkit.families.rnn_lm.modeling_rnn_lm import RnnLMConfig

    class Model:
        config = RnnLMConfig()

    assert context_length(Model()) is None
    assert fit_to_context(5000, 100000, None) == (5000, 100000)
    assert fit_to_context(10, 10, 64) == (10, 10)


def test_generate_without_tokenizer_files(cli, gpt2_copy):
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (gpt2_copy / name).unlink()
    assert_clear_error(cli("generate", gpt2_copy, *PROMPT), "no tokenizer files in", str(gpt2_copy))


def test_generate_warns_about_characters_the_tokenizer_drops(cli, gpt2_run):
    result = cli("generate", gpt2_run, "--prompt", "中国abc☃", "--greedy", "--max-new-tokens", "2")
    assert result.code == 0, result.err
    assert "'a', 'b', 'c', '☃'" in result.err


# --- damaged weights --------------------------------------------------------------------------

def _damage(weights: Path, how: str) -> None:
    if how == "empty":
        weights.write_bytes(b"")
    elif how == "truncated":
        os.truncate(weights, weights.stat().st_size // 2)
    else:
        weights.write_bytes(b"not a safetensors file at all" * 8)


@pytest.mark.parametrize("how", ["empty", "truncated", "garbage"])
def test_damaged_weights_in_generate_and_eval(cli, gpt2_copy, how):
    _damage(gpt2_copy / "model.safetensors", how)
    before = snapshot(gpt2_copy)
    assert_clear_error(cli("generate", gpt2_copy, *PROMPT), "model.safetensors", str(gpt2_copy), "damaged or incomplete")
    assert_clear_error(cli("eval", gpt2_copy, "--max-batches", "1"), "model.safetensors", "damaged or incomplete")
    assert snapshot(gpt2_copy) == before


def test_damaged_weights_in_init_from(cli, gpt2_copy, tmp_path):
    _damage(gpt2_copy / "model.safetensors", "truncated")
    result = cli("run", "gpt2/tiny_continue_sanguo", *TINY_GPT2[1:], f"model.init_from={gpt2_copy}",
                 f"output.dir={tmp_path / 'out'}")
    assert_clear_error(result, "model.safetensors", str(gpt2_copy), "damaged or incomplete")


# --- not a model folder -------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    ["generate", "{dir}", "--prompt", "x"], ["eval", "{dir}"], ["predict", "{dir}", "x"],
    ["fill-mask", "{dir}", "今[MASK]"], ["embed", "{dir}", "x"],
])
def test_missing_or_empty_folder_is_not_a_model_folder(cli, tmp_path, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clear_error(cli(*[a.format(dir=empty) for a in command]), str(empty), "not a model folder (no config.json)")
    missing = tmp_path / "missing"
    assert_clear_error(cli(*[a.format(dir=missing) for a in command]), str(missing), "not a model folder")


def test_hub_id_offline_is_a_clear_error(cli):
    # conftest sets HF_HUB_OFFLINE=1: the real Hub code runs and cannot reach the Hub.
    assert_clear_error(cli("generate", "someone/no-such-model", "--prompt", "x"), "someone/no-such-model", "offline")
    assert_clear_error(cli("predict", "someone/no-such-model", "x"), "someone/no-such-model", "offline")


# --- predict / fill-mask on the wrong kind of model --------------------------------------------

def test_predict_refuses_a_language_model(cli, gpt2_run):
    result = cli("predict", gpt2_run, "这本书写得真好")
    assert_clear_error(result, "GPT2LMHeadModel", "toolkit generate")
    assert "LABEL_" not in result.out


def test_fill_mask_refuses_a_causal_language_model(cli, gpt2_run):
    assert_clear_error(cli("fill-mask", gpt2_run, "今天[MASK]气很好"), "GPT2LMHeadModel", "masked language model",
                       "toolkit generate")


def test_classifier_predicts_and_refuses_fill_mask(cli, bert_classifier):
    result = cli("predict", bert_classifier, "这本书写得真好")
    assert result.code == 0, result.err
    assert result.out.split("\t")[0] in ("negative", "positive")
    assert_clear_error(cli("fill-mask", bert_classifier, "今天[MASK]气很好"), "BertForSequenceClassification",
                       "toolkit predict")


def test_eval_of_a_classifier_folder_uses_the_classification_task(cli, bert_classifier):
    before = snapshot(bert_classifier)
    result = cli("eval", bert_classifier, "--card", "product_reviews_sentiment", "--split", "validation",
                 "--max-batches", "1")
    assert result.code == 0, result.err
    assert "accuracy" in result.out and "mlm" not in result.out
    assert snapshot(bert_classifier) == before


# --- eval and compare: flags and metrics.json -------------------------------------------------

@pytest.mark.parametrize("value", ["0", "-1"])
def test_eval_max_batches_below_one(cli, gpt2_run, value):
    assert_clear_error(cli("eval", gpt2_run, "--max-batches", value), "--max-batches", value)


@pytest.mark.parametrize("content", ['{"final": ', "[1, 2]", "\xff\xfe garbage"])
def test_corrupt_metrics_json_is_refused_and_kept(cli, gpt2_copy, content):
    metrics = gpt2_copy / "metrics.json"
    metrics.write_bytes(content.encode("latin-1"))
    before = snapshot(gpt2_copy)
    assert_clear_error(cli("eval", gpt2_copy, "--max-batches", "1"), str(metrics))
    assert_clear_error(cli("compare", gpt2_copy, "--plot", ""), str(metrics))
    assert snapshot(gpt2_copy) == before


def test_compare_plot_to_unwritable_path_prints_the_table_first(cli, gpt2_run, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for plot in ("/proc/x.png", str(blocker / "x.png")):
        result = cli("compare", gpt2_run, "--plot", plot)
        assert_clear_error(result, plot, "--plot")
        assert "perplexity" in result.out and gpt2_run.name in result.out
    assert blocker.read_text() == "x"


def test_eval_appends_to_a_good_metrics_json(cli, gpt2_copy):
    result = cli("eval", gpt2_copy, "--split", "validation", "--max-batches", "1")
    assert result.code == 0, result.err
    evaluations = json.loads((gpt2_copy / "metrics.json").read_text())["evaluations"]
    assert len(evaluations) == 2 and evaluations[-1]["split"] == "validation"
