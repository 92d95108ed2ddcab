"""Issue 14, recipe validation and data inputs: every value that `toolkit run` would crash on is a
clear `toolkit validate` error, and bad card / corpus files are named with their path and line.

Recipe mistakes are tried through both `validate` and `run`; `run` must stop before the output
folder exists. Corpus-content mistakes (a bad JSONL line, an over-long line) can only be found
while reading the corpus, so they are tried through `data show`, which reads it.
"""

from __future__ import annotations

import json

import pytest

from integration.bad_inputs.conftest import assert_clear_error, snapshot  # tests/ is on sys.path (rootdir conftest)

GPT2 = "gpt2/tiny_pretrain"  # n_embd 256, n_positions 512
BERT = "bert/tiny_pretrain"  # hidden_size 256, max_position_embeddings 512
RNN = "rnn_lm/tiny_lstm_pretrain"
ELMO = "elmo/tiny_bilm"
W2V = "word2vec/skipgram_char_pd98"

# (recipe, override, what the error must name). Each passed `validate` and crashed `run`, or
# trained silently on nonsense, before the fix (see the report for which did which).
BAD_VALUES = [
    (GPT2, "train.optimizer.betas=[2,-1]", "train.optimizer.betas"),
    (GPT2, "train.optimizer.betas=[0.9, 1.0]", "train.optimizer.betas"),
    (GPT2, "seed=99999999999999999999", "seed"),
    (GPT2, "seed=-1", "seed"),
    (GPT2, "model.config.n_layer=-3", "model.config.n_layer"),
    (GPT2, "model.config.n_layer=abc", "model.config.n_layer"),
    (GPT2, "model.config.n_layer=2.5", "model.config.n_layer"),
    (GPT2, "model.config.n_head=7", "model.config.n_head"),
    (GPT2, "model.config.n_embd=0", "model.config.n_embd"),
    (GPT2, "model.config.resid_pdrop=1.5", "model.config.resid_pdrop"),
    (GPT2, "model.config.attn_pdrop=-0.1", "model.config.attn_pdrop"),
    (GPT2, "model.config.activation_function=gelu_fast_typo", "model.config.activation_function"),
    (GPT2, "model.config.layer_norm_epsilon=1e-5", "model.config.layer_norm_epsilon"),  # YAML: a string
    (GPT2, "model.config.layer_norm_epsilon=.inf", "model.config.layer_norm_epsilon"),
    (GPT2, "model.config.initializer_range=.nan", "model.config.initializer_range"),
    (GPT2, "data.block_size=1024", "data.block_size"),
    (BERT, "model.config.num_attention_heads=7", "model.config.num_attention_heads"),
    (BERT, "model.config.num_hidden_layers=0", "model.config.num_hidden_layers"),
    (BERT, "model.config.hidden_dropout_prob=1.0", "model.config.hidden_dropout_prob"),
    (BERT, "model.config.intermediate_size=big", "model.config.intermediate_size"),
    (BERT, "model.config.hidden_act=relu2_typo", "model.config.hidden_act"),
    (BERT, "data.block_size=600", "data.block_size"),
    (RNN, "model.config.num_layers=0", "model.config.num_layers"),
    (RNN, "model.config.num_layers=abc", "model.config.num_layers"),
    (RNN, "model.config.hidden_size=-8", "model.config.hidden_size"),
    (RNN, "model.config.dropout=1.2", "model.config.dropout"),
    (RNN, "model.config.embedding_size=true", "model.config.embedding_size"),
    (ELMO, "model.config.num_layers=-1", "model.config.num_layers"),
    (ELMO, "model.config.embedding_size=abc", "model.config.embedding_size"),
    (ELMO, "model.config.dropout=.nan", "model.config.dropout"),
    (ELMO, "model.config.head_dropout=2", "model.config.head_dropout"),
    (ELMO, "model.config.head_hidden=-5", "model.config.head_hidden"),
    (W2V, "model.config.alpha=.inf", "model.config.alpha"),
    (W2V, "model.config.sample=.nan", "model.config.sample"),
    (W2V, "model.config.vector_size=abc", "model.config.vector_size"),
]

# Item 11: every float of the schema must be finite.
NOT_FINITE = [
    (GPT2, "train.optimizer.lr=.inf", "train.optimizer.lr"),
    (GPT2, "train.optimizer.lr=.nan", "train.optimizer.lr"),
    (GPT2, "train.optimizer.eps=.inf", "train.optimizer.eps"),
    (GPT2, "train.optimizer.weight_decay=.inf", "train.optimizer.weight_decay"),
    (GPT2, "train.optimizer.betas=[.nan, 0.9]", "train.optimizer.betas"),
    (GPT2, "train.max_grad_norm=.inf", "train.max_grad_norm"),
    (GPT2, "eval.generation.temperature=.inf", "eval.generation.temperature"),
    (GPT2, "eval.generation.repetition_penalty=.inf", "eval.generation.repetition_penalty"),
    ("bert/tiny_sentiment_lora", "peft.dropout=.nan", "peft.dropout"),
]


@pytest.mark.parametrize(("recipe", "override", "culprit"), BAD_VALUES + NOT_FINITE,
                         ids=[f"{r}:{o}" for r, o, _ in BAD_VALUES + NOT_FINITE])
def test_bad_value_fails_validate_and_run_before_the_output_folder(cli, tmp_path, recipe, override, culprit):
    out = tmp_path / "run"
    assert_clear_error(cli("validate", recipe, override), culprit)
    assert_clear_error(cli("run", recipe, override, f"output.dir={out}"), culprit)
    assert not out.exists()


def test_bad_value_message_says_what_is_allowed(cli):
    heads = cli("validate", GPT2, "model.config.n_head=7").err
    assert "n_embd" in heads and "256" in heads and "divisor" in heads
    assert ">= 1" in cli("validate", GPT2, "model.config.n_layer=-3").err
    assert "[0, 1)" in cli("validate", RNN, "model.config.dropout=1.2").err
    assert "1.0e-5" in cli("validate", GPT2, "model.config.layer_norm_epsilon=1e-5").err
    assert "finite" in cli("validate", GPT2, "train.optimizer.lr=.inf").err
    assert "gelu" in cli("validate", GPT2, "model.config.activation_function=gelu_fast_typo").err


def test_good_values_still_validate(cli):
    for recipe, override in [(GPT2, "model.config.n_head=8"), (BERT, "model.config.num_attention_heads=8"),
                             (GPT2, "model.config.resid_pdrop=0"), (GPT2, "model.config.layer_norm_epsilon=1.0e-5"),
                             (GPT2, "model.config.n_inner=null"), (GPT2, "train.optimizer.betas=[0, 0.999]"),
                             (ELMO, "model.config.head_hidden=0"), (GPT2, "seed=4294967295")]:
        result = cli("validate", recipe, override)
        assert result.code == 0, (override, result.err)


# --------------------------------------------------------------------------- duplicate YAML keys


def write_recipe(folder, text: str):
    path = folder / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


RECIPE_HEAD = "task: causal_lm\ndata: {card: peoples_daily_1998}\nmodel: {family: gpt2}\n"


@pytest.mark.parametrize(("body", "key", "line"), [
    ("train: {max_steps: 5}\noutput: {dir: OUT}\ntrain: {batch_size: 4}\n", "train", "line 6"),
    ("train:\n  max_steps: 5\n  batch_size: 4\n  max_steps: 7\noutput: {dir: OUT}\n", "max_steps", "line 7"),
    ("output: {dir: OUT, dir: OUT2}\n", "dir", "line 4"),
])
def test_duplicate_recipe_key_is_refused(cli, tmp_path, body, key, line):
    out = tmp_path / "run"
    path = write_recipe(tmp_path, RECIPE_HEAD + body.replace("OUT", str(out)))
    for command in ("validate", "run"):
        result = cli(command, path)
        assert_clear_error(result, str(path), line, f"'{key}'", "duplicate")
    assert not out.exists()


def test_duplicate_key_in_an_override_value_is_refused(cli):
    assert_clear_error(cli("validate", GPT2, "model.config={n_layer: 1, n_layer: 2}"), "n_layer", "duplicate")


def test_yaml_merge_keys_are_not_duplicates(cli, tmp_path):
    # `<<: *anchor` then an explicit key is YAML's way to override a shared block, not a duplicate.
    path = write_recipe(tmp_path, RECIPE_HEAD + f"output: {{dir: {tmp_path / 'run'}}}\n"
                        + "train:\n  <<: {max_steps: 5, batch_size: 4}\n  max_steps: 7\n")
    result = cli("validate", path, "--show")
    assert result.code == 0, result.err
    assert "max_steps: 7" in result.out and "batch_size: 4" in result.out


def write_card(folder, text: str):
    path = folder / "card.yaml"
    path.write_text(text, encoding="utf-8")
    return path


CARD = "name: mine\ndescription: a test card\nsource: {files: FILES, format: FORMAT}\nsplits: {validation: 1, test: 1}\n"


def card_for(folder, files, fmt="text", extra=""):
    return write_card(folder, CARD.replace("FILES", json.dumps(str(files))).replace("FORMAT", fmt) + extra)


def test_duplicate_card_key_is_refused(cli, tmp_path):
    (tmp_path / "a.txt").write_text("一句话。\n" * 5, encoding="utf-8")
    card = card_for(tmp_path, tmp_path / "a.txt", extra="name: other\n")
    assert_clear_error(cli("data", "show", card), str(card), "line 5", "'name'", "duplicate")
    out = tmp_path / "run"
    assert_clear_error(cli("run", GPT2, f"data.card={card}", f"output.dir={out}"), str(card), "'name'")
    assert not out.exists()


# --------------------------------------------------------------------------- card files


def test_folder_in_card_files_is_named(cli, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("一句话。\n" * 5, encoding="utf-8")
    card = card_for(tmp_path, folder)
    out = tmp_path / "run"
    for args in (("validate", GPT2, f"data.card={card}"), ("run", GPT2, f"data.card={card}", f"output.dir={out}"),
                 ("data", "show", card)):
        assert_clear_error(cli(*args), str(card), str(folder), "folder")
    assert not out.exists()


def test_glob_in_card_files_skips_folders_but_not_only_folders(cli, tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("一句话。\n" * 5, encoding="utf-8")
    result = cli("validate", GPT2, f"data.card={card_for(tmp_path, folder / '**')}")
    assert result.code == 0, result.err
    only_folders = card_for(tmp_path, folder / "*")
    assert_clear_error(cli("validate", GPT2, f"data.card={only_folders}"), str(only_folders), "only folders")


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", b"name: x\x00\x00\x00\n",
                                     b"name: \xc4\xe3\xba\xc3\n"], ids=["png", "nul_bytes", "gbk"])
def test_binary_card_file_is_named(cli, tmp_path, content):
    card = tmp_path / "card.yaml"
    card.write_bytes(content)
    out = tmp_path / "run"
    assert_clear_error(cli("data", "show", card), str(card))
    assert_clear_error(cli("validate", GPT2, f"data.card={card}"), str(card))
    assert_clear_error(cli("run", GPT2, f"data.card={card}", f"output.dir={out}"), str(card))
    assert not out.exists()


def test_binary_corpus_file_is_named(cli, tmp_path):
    corpus = tmp_path / "a.txt"
    corpus.write_bytes("一句话。\n".encode() * 3 + b"PK\x03\x04\x00\x00\x08\x00\n")
    assert_clear_error(cli("data", "show", card_for(tmp_path, corpus)), str(corpus), "line 4")


# --------------------------------------------------------------------------- corpus contents


def test_malformed_jsonl_line_is_named(cli, tmp_path):
    corpus = tmp_path / "d.jsonl"
    corpus.write_text('{"text": "一句话。"}\n{"text": "第二句。"}\n{"text": "坏了\n{"text": "第四句。"}\n', encoding="utf-8")
    assert_clear_error(cli("data", "show", card_for(tmp_path, corpus, "jsonl")), str(corpus), "line 3")


def test_malformed_jsonl_line_is_named_by_run(cli, tmp_path):
    corpus = tmp_path / "d.jsonl"
    corpus.write_text('{"text": "一句话。"}\n[1, 2\n', encoding="utf-8")
    card = card_for(tmp_path, corpus, "jsonl")
    before = snapshot(tmp_path, skip=tmp_path / "run")
    result = cli("run", GPT2, f"data.card={card}", f"output.dir={tmp_path / 'run'}")
    assert_clear_error(result, str(corpus), "line 2")
    assert snapshot(tmp_path, skip=tmp_path / "run") == before


def test_jsonl_line_without_the_text_field_is_named(cli, tmp_path):
    corpus = tmp_path / "d.jsonl"
    corpus.write_text('{"text": "一句话。"}\n{"text": "第二句。"}\n{"body": "第三句。"}\n{"text": "四。"}\n',
                      encoding="utf-8")
    assert_clear_error(cli("data", "show", card_for(tmp_path, corpus, "jsonl")), str(corpus), "line 3", "'text'")


def test_jsonl_text_field_follows_the_column_mapping(cli, tmp_path):
    corpus = tmp_path / "d.jsonl"
    corpus.write_text('{"body": "一句话。"}\n{"body": "第二句。"}\n{"text": "第三句。"}\n', encoding="utf-8")
    card = card_for(tmp_path, corpus, "jsonl").read_text(encoding="utf-8").replace("format: jsonl", "format: jsonl, columns: {body: text}")
    path = write_card(tmp_path, card)
    assert_clear_error(cli("data", "show", path), str(corpus), "line 3", "'body'")


@pytest.mark.parametrize("fmt", ["text", "jsonl"])
def test_over_long_line_is_refused(cli, tmp_path, monkeypatch, fmt):
    from toolkit.data import sources

    monkeypatch.setattr(sources, "MAX_LINE_BYTES", 1000)
    corpus = tmp_path / f"big.{fmt}"
    long_line = "长" * 400  # 1200 bytes in UTF-8
    lines = ["一句话。", "第二句。", long_line, "第四句。"]
    if fmt == "jsonl":
        lines = [json.dumps({"text": line}, ensure_ascii=False) for line in lines]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_clear_error(cli("data", "show", card_for(tmp_path, corpus, fmt)), str(corpus), "line 3", "MB")


def test_line_at_the_limit_is_read(tmp_path, monkeypatch):
    from toolkit.data import sources

    monkeypatch.setattr(sources, "MAX_LINE_BYTES", 1000)
    corpus = tmp_path / "ok.txt"
    corpus.write_text("长" * 333 + "\n" + "短句。\n", encoding="utf-8")  # 999 bytes + newline
    assert [text for _, text in sources.read_lines(corpus)] == ["长" * 333, "短句。"]
