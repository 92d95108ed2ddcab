"""What a second hostile-user probe of issue 14's hardening still found: tracebacks (T), silently
wrong results (S) and vague messages (V). Each bad input ends as one clear paragraph with exit
code 2, or works with a notice, and nothing outside the run folder changes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from integration.bad_inputs.conftest import assert_clear_error, snapshot
from conftest import TINY_GPT2

# Overrides that shrink recipes/elmo/tiny_bilm.yaml (as tests/families/elmo/test_elmo.py does).
TINY_BILM = ["data.block_size=32", "train.batch_size=8", "train.log_every=1", "train.mixed_precision=no",
             "eval.max_batches=2", "model.config={num_layers: 1, embedding_size: 8, hidden_size: 16}",
             "data.max_rows=200", "train.max_steps=2", "train.eval_every=2", "train.save_every=2"]


@pytest.fixture
def gpt2_copy(gpt2_run, tmp_path) -> Path:
    """A copy of the shared tiny GPT-2 run, free to damage."""
    return Path(shutil.copytree(gpt2_run, tmp_path / "run"))


def _bert_folder(folder: Path, auto_class: str, **head) -> Path:
    """A tiny untrained BERT of ``auto_class`` with a char tokenizer of product reviews, saved as a
    plain model folder: its weights do not matter here, its architecture and sizes do."""
    import transformers
    from transformers import BertConfig

    from toolkit.data import load_corpus
    from toolkit.families.bert.family import SPECIAL_TOKENS
    from toolkit.recipe import TokenizerSection
    from toolkit.tokenization import train_tokenizer

    texts = load_corpus("product_reviews_sentiment", view="text", max_rows=300)["train"]["text"]
    tokenizer = train_tokenizer(TokenizerSection(kind="char"), texts, SPECIAL_TOKENS)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id, **head)
    getattr(transformers, auto_class)(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def bert_classifier(tmp_path_factory) -> Path:
    return _bert_folder(tmp_path_factory.mktemp("probe_cls") / "model", "BertForSequenceClassification", num_labels=2,
                        id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})


@pytest.fixture(scope="module")
def bert_masked_lm(tmp_path_factory) -> Path:
    return _bert_folder(tmp_path_factory.mktemp("probe_mlm") / "model", "BertForMaskedLM")


@pytest.fixture(scope="module")
def bert_pretraining(tmp_path_factory) -> Path:
    return _bert_folder(tmp_path_factory.mktemp("probe_pre") / "model", "BertForPreTraining")


@pytest.fixture(scope="module")
def elmo_bilm(tmp_path_factory) -> Path:
    import toolkit

    out = tmp_path_factory.mktemp("probe_elmo") / "bilm"
    return toolkit.run("elmo/tiny_bilm", overrides=[*TINY_BILM, f"output.dir={out}"]).run_dir


@pytest.fixture
def vectors_file(tmp_path) -> Path:
    """word2vec text-format vectors of four ASCII words: no Chinese benchmark question is covered."""
    path = tmp_path / "vectors.txt"
    path.write_text("4 3\napple 0.1 0.2 0.3\npear 0.2 0.1 0.3\nplum 0.3 0.3 0.1\nfig 0.1 0.1 0.1\n", encoding="utf-8")
    return path


# --- T1: launch.accelerate_config -----------------------------------------------------------------

@pytest.mark.parametrize("content, problem", [("compute_environment: LOCAL_MACHINE\nnum_processes: [2\n", "line"),
                                             ("- a list\n- not a mapping\n", "mapping")])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_accelerate_config_that_is_not_a_yaml_mapping_is_refused_before_launching(
        cli, tmp_path, monkeypatch, command, content, problem):
    config = tmp_path / "accel.yaml"
    config.write_text(content, encoding="utf-8")
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("accelerate was launched"))
    before = snapshot(tmp_path)
    result = cli(command, "gpt2/tiny_pretrain", *TINY_GPT2, f"output.dir={tmp_path / 'run'}",
                 f"launch.accelerate_config={config}")
    assert_clear_error(result, "launch.accelerate_config", str(config), problem)
    assert snapshot(tmp_path) == before


def test_validate_refuses_a_missing_accelerate_config(cli, tmp_path):
    result = cli("validate", "gpt2/tiny_pretrain", f"output.dir={tmp_path / 'run'}",
                 f"launch.accelerate_config={tmp_path / 'nowhere.yaml'}")
    assert_clear_error(result, "launch.accelerate_config", "nowhere.yaml")


# --- T2: generate --seed --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", ["99999999999999999999", "4294967296", "-1"])
def test_generate_seed_out_of_range_names_the_flag(cli, gpt2_run, seed):
    assert_clear_error(cli("generate", gpt2_run, "--prompt", "中国", "--seed", seed), "--seed", seed, "2**32")


# --- T3, T4: eval on a card without what the task needs -------------------------------------------

@pytest.mark.parametrize("model, card, missing", [
    ("bert_classifier", "peoples_daily_1998", "text_label"),
    ("bert_pretraining", "product_reviews_sentiment", "documents"),
])
def test_eval_on_a_card_without_what_the_task_needs_names_card_and_view(cli, request, model, card, missing):
    folder = request.getfixturevalue(model)
    before = snapshot(folder)
    assert_clear_error(cli("eval", folder, "--card", card, "--max-batches", "1"), card, missing)
    assert snapshot(folder) == before


# --- T5, S10: fill-mask --top-k ---------------------------------------------------------------------

@pytest.mark.parametrize("top_k", ["-3", "0"])
def test_fill_mask_top_k_below_one_names_the_flag(cli, bert_masked_lm, top_k):
    assert_clear_error(cli("fill-mask", bert_masked_lm, "今天[MASK]气很好", "--top-k", top_k), "--top-k", top_k)


def test_fill_mask_top_k_above_the_vocabulary_is_capped_with_a_note(cli, bert_masked_lm):
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(bert_masked_lm))
    result = cli("fill-mask", bert_masked_lm, "今天[MASK]气很好", "--top-k", "99999")
    assert result.code == 0, result.err
    assert "--top-k 99999" in result.err and str(vocab) in result.err
    assert len(result.out.strip().splitlines()) == vocab


# --- T6: text longer than the model's positions -------------------------------------------------------

def test_predict_long_text_keeps_its_start_with_a_note(cli, bert_classifier):
    result = cli("predict", bert_classifier, "很好" * 200)
    assert result.code == 0, result.err
    assert "400" in result.err and "64" in result.err
    assert result.out.split("\t")[0] in ("negative", "positive")


def test_fill_mask_long_text_is_cut_after_the_mask_with_a_note(cli, bert_masked_lm):
    result = cli("fill-mask", bert_masked_lm, "今天[MASK]气很好" + "很好" * 200, "--top-k", "2")
    assert result.code == 0, result.err
    assert "64" in result.err and len(result.out.strip().splitlines()) == 2


def test_fill_mask_with_the_mask_past_the_model_length_is_refused(cli, bert_masked_lm):
    assert_clear_error(cli("fill-mask", bert_masked_lm, "很好" * 200 + "[MASK]"), "[MASK]", "64")


# --- T7, S11: empty text and characters outside the vocabulary ----------------------------------------

@pytest.mark.parametrize("command, model", [("embed", "elmo_bilm"), ("predict", "bert_classifier")])
@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_is_refused(cli, request, command, model, text):
    assert_clear_error(cli(command, request.getfixturevalue(model), text), "empty")


@pytest.mark.parametrize("command, model", [("embed", "elmo_bilm"), ("predict", "bert_classifier")])
def test_unknown_characters_get_the_note_generate_prints(cli, request, command, model):
    result = cli(command, request.getfixturevalue(model), "好😀😀")
    assert result.code == 0, result.err
    assert "does not know '😀'" in result.err


# --- T8, T9, T10: damaged checkpoints on --resume ------------------------------------------------------

def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGES = {
    "negative step": ("loop_state.json", lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "step": -4}))),
    "step not a number": ("loop_state.json", lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "step": "six"}))),
    "truncated loop state": ("loop_state.json", _truncate),
    "garbage loop state": ("loop_state.json", lambda p: p.write_bytes(b"\x00\xff garbage")),
    "truncated optimizer": ("optimizer.bin", _truncate),
    "truncated weights": ("model.safetensors", _truncate),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_resume_from_a_damaged_checkpoint_names_folder_file_and_the_older_one(cli, gpt2_copy, tmp_path, damage):
    name, spoil = DAMAGES[damage]
    damaged = gpt2_copy / "checkpoints" / "step-6"
    spoil(damaged / name)
    before = snapshot(tmp_path, skip=gpt2_copy)
    result = cli("run", "gpt2/tiny_pretrain", *TINY_GPT2, f"output.dir={gpt2_copy}", "train.max_steps=9", "--resume")
    assert_clear_error(result, "Damaged checkpoint", str(damaged), name, "step-3")
    assert snapshot(tmp_path, skip=gpt2_copy) == before
    assert (gpt2_copy / "checkpoints" / "step-3").is_dir()


def test_checkpoint_folders_with_other_names_are_ignored(gpt2_copy):
    from toolkit.training import checkpoint_dirs

    root = gpt2_copy / "checkpoints"
    for odd in ("step-abc", "step--2", "step-3-copy", "step-"):
        shutil.copytree(root / "step-3", root / odd)
    assert [p.name for p in checkpoint_dirs(gpt2_copy)] == ["step-3", "step-6"]


# --- S1: booleans for whole numbers -------------------------------------------------------------------

@pytest.mark.parametrize("override, key", [("train.batch_size=yes", "train.batch_size"), ("seed=true", "seed"),
                                          ("train.max_steps=on", "train.max_steps"),
                                          ("eval.generation.top_k=false", "eval.generation.top_k")])
def test_booleans_are_not_whole_numbers(cli, tmp_path, override, key):
    result = cli("validate", "gpt2/tiny_pretrain", f"output.dir={tmp_path / 'run'}", override)
    assert_clear_error(result, key, "whole number")


def test_yaml_numbers_still_work_for_whole_numbers(cli, tmp_path):
    result = cli("validate", "gpt2/tiny_pretrain", f"output.dir={tmp_path / 'run'}", "train.batch_size=5", "seed=0")
    assert result.code == 0, result.err


# --- S2: hub.repo_id ---------------------------------------------------------------------------------

@pytest.mark.parametrize("repo_id", ["bad id with spaces", "user/name/extra", "user/-name"])
def test_hub_repo_id_push_would_refuse_is_refused_at_validate(cli, tmp_path, repo_id):
    result = cli("validate", "gpt2/tiny_pretrain", f"output.dir={tmp_path / 'run'}", f"hub.repo_id={repo_id}")
    assert_clear_error(result, "hub.repo_id", repo_id)


# --- S3: empty sample prompts ------------------------------------------------------------------------

@pytest.mark.parametrize("samples", ["['中国', '']", "['   ']"])
def test_empty_sample_prompts_are_refused_at_validate(cli, tmp_path, samples):
    result = cli("validate", "gpt2/tiny_pretrain", f"output.dir={tmp_path / 'run'}", f"eval.samples={samples}")
    assert_clear_error(result, "eval.samples", "empty")


# --- S4: card split sizes ----------------------------------------------------------------------------

def _local_card(root: Path, lines: list[str], **extra) -> Path:
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    card = {"name": "probe_local", "description": "a local test corpus", "source": {"files": str(corpus)}, **extra}
    path = root / "card.yaml"
    path.write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("value", [1.5, 2.25])
def test_split_size_that_is_neither_fraction_nor_row_count_is_refused(cli, tmp_path, value):
    card = _local_card(tmp_path, ["今天天气很好"] * 50, splits={"validation": value})
    assert_clear_error(cli("data", "show", card), str(card), "splits.validation", str(value))


# --- S5: the corpus changed between the start and --resume ---------------------------------------------

def test_resume_after_the_corpus_changed_is_refused(cli, tmp_path):
    from toolkit.data import load_corpus

    texts = load_corpus("peoples_daily_1998", view="text", max_rows=300)["train"]["text"]
    card = _local_card(tmp_path, texts, splits={"validation": 0.1, "test": 0.1})
    run_dir = tmp_path / "run"
    recipe = ["gpt2/tiny_pretrain", *TINY_GPT2, f"data.card={card}", f"output.dir={run_dir}"]
    assert cli("run", *recipe, "train.max_steps=3").code == 0
    (tmp_path / "corpus.txt").write_text("\n".join(reversed(texts)) + "\n", encoding="utf-8")
    result = cli("run", *recipe, "train.max_steps=6", "--resume")
    assert_clear_error(result, str(card), "changed")
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step-3"]


# --- S6: word2vec --topn ---------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["neighbors", "apple"], ["analogy", "apple", "pear", "plum"]])
@pytest.mark.parametrize("topn", ["0", "-5"])
def test_word2vec_topn_below_one_names_the_flag(cli, vectors_file, command, topn):
    assert_clear_error(cli(command[0], vectors_file, *command[1:], "--topn", topn), "--topn", topn)


# --- S7: word2vec-eval without a covered question ------------------------------------------------------

def test_word2vec_eval_without_coverage_prints_no_accuracy(cli, vectors_file):
    result = cli("word2vec-eval", vectors_file, "--no-record")
    assert result.code == 0, result.err
    ca8 = next(line for line in result.out.splitlines() if "CA8 rule" in line)
    assert "3CosAdd n/a, 3CosMul n/a" in ca8 and "0.000" not in ca8


def test_ca8_accuracy_without_coverage_is_nan():
    import math

    from toolkit.families.word2vec.evaluation import AnalogyScore

    summary = AnalogyScore(questions=3).summary()
    assert math.isnan(summary["ca8_3cosadd"]) and math.isnan(summary["ca8_3cosmul"])


# --- S8: special tokens typed in a prompt ------------------------------------------------------------------

@pytest.mark.parametrize("prompt", ["[UNK][PAD]<|endoftext|>", "<|endoftext|>", "中国[PAD]"])
def test_special_tokens_typed_in_a_prompt_are_text(cli, gpt2_run, prompt):
    result = cli("generate", gpt2_run, "--prompt", prompt, "--max-new-tokens", "3", "--seed", "0")
    assert result.code == 0, result.err
    missing = [c for c in prompt if c not in result.out]
    assert all(repr(c) in result.err for c in missing), (missing, result.err)
    assert result.out.strip(), "nothing printed"


# --- S9: eval --card "" ------------------------------------------------------------------------------------

@pytest.mark.parametrize("card", ["", "  "])
def test_eval_with_an_empty_card_name_is_refused(cli, gpt2_copy, card):
    before = snapshot(gpt2_copy)
    assert_clear_error(cli("eval", gpt2_copy, "--card", card, "--max-batches", "1"), "--card")
    assert snapshot(gpt2_copy) == before


# --- V1: data show --max-rows ---------------------------------------------------------------------------

@pytest.mark.parametrize("rows", ["0", "-2"])
def test_data_show_max_rows_below_one_names_the_flag(cli, rows):
    assert_clear_error(cli("data", "show", "sanguo_yanyi", "--max-rows", rows), "--max-rows", rows)


# --- V2: generate on an ELMo folder ----------------------------------------------------------------------

def test_generate_on_an_elmo_folder_points_to_embed(cli, elmo_bilm):
    assert_clear_error(cli("generate", elmo_bilm, "--prompt", "中国"), "ElmoModel", "toolkit embed")


# --- V3: overrides after flags ---------------------------------------------------------------------------

def test_overrides_may_follow_flags(cli, tmp_path):
    result = cli("validate", "gpt2/tiny_pretrain", f"output.dir={tmp_path / 'run'}", "--show", "train.max_steps=6")
    assert result.code == 0, result.err
    assert "max_steps: 6" in result.out


def test_resume_flag_may_come_before_overrides(cli, gpt2_copy):
    result = cli("run", "gpt2/tiny_pretrain", "--resume", *TINY_GPT2, f"output.dir={gpt2_copy}", "train.max_steps=7")
    assert result.code == 0, result.err
    assert json.loads((gpt2_copy / "metrics.json").read_text())["train"]["steps"] == 7


@pytest.mark.parametrize("seed", [-1, 2**32, 10**20, 1.5])
def test_api_generate_seed_out_of_range_is_refused(gpt2_run, seed):
    """The Python API checks the seed as the --seed flag does (torch would overflow or take a float)."""
    import toolkit

    with pytest.raises(toolkit.ToolkitError, match="seed"):
        toolkit.generate(gpt2_run, ["中国"], seed=seed, max_new_tokens=2)
