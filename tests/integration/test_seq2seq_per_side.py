"""A tokenizer per side (tokenizer.per_side): English words in, Chinese characters out, on tiny HSK
runs of the three encoder-decoder families. The encoder reads source-tokenizer ids, the decoder
writes target-tokenizer ids; `toolkit translate`, `toolkit eval`, the attention maps, plain
transformers with the folder's text2text pipeline, and init_from all use the right tokenizer per side."""

from __future__ import annotations

import json
import shutil

import pytest

import toolkit
from toolkit import api
from conftest import TINY_SEQ2SEQ

RECIPE = "transformer_seq2seq/tiny_hsk"
TINY_RUN = ["data.max_rows=240", "train.batch_size=8", "train.max_steps=2", "train.eval_every=2", "train.save_every=2",
            "train.mixed_precision=no", "eval.max_batches=1", "eval.generation.max_new_tokens=8"]
PER_SIDE = "tokenizer={kind: word_char, target: {kind: char}}"
SOURCES = ["I like green tea.", "Where is the train station?"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """family -> a tiny per-side run folder (one per family, trained once for the module)."""
    folders = {}
    for family in ("rnn_seq2seq", "transformer_seq2seq", "conv_seq2seq"):
        out = tmp_path_factory.mktemp(family) / "run"
        folders[family] = toolkit.run(RECIPE, [PER_SIDE, f"model.family={family}", *TINY_SEQ2SEQ[family], *TINY_RUN,
                                               f"output.dir={out}"])
    return folders


def _load(run_dir):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    import toolkit.pretrained  # noqa: F401  (registers the toolkit's model types)

    return (AutoModelForSeq2SeqLM.from_pretrained(run_dir).eval(), AutoTokenizer.from_pretrained(run_dir),
            AutoTokenizer.from_pretrained(run_dir / "target_tokenizer"))


@pytest.mark.parametrize("family", ["rnn_seq2seq", "transformer_seq2seq", "conv_seq2seq"])
def test_each_side_has_its_own_vocabulary_and_the_model_is_sized_by_it(runs, family):
    result = runs[family]
    model, source, target = _load(result.run_dir)
    assert result.metrics["vocab_size"] == len(source) == model.config.vocab_size
    assert result.metrics["target_vocab_size"] == len(target) == model.config.decoder_vocab_size
    assert len(source) != len(target)
    assert model.get_input_embeddings().num_embeddings == len(source)
    assert model.get_output_embeddings().out_features == len(target)
    # English words are source tokens, Chinese characters target tokens: neither side knows the other's.
    assert source.unk_token_id not in source("train station", add_special_tokens=False)["input_ids"]
    assert target.unk_token_id not in target("我喜欢", add_special_tokens=False)["input_ids"]
    assert source.unk_token_id in source("我", add_special_tokens=False)["input_ids"]
    assert target.unk_token_id in target("station", add_special_tokens=False)["input_ids"]
    for role in ("bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id"):  # one set of special ids
        assert getattr(source, role) == getattr(target, role)
    assert "target char" in (result.run_dir / "README.md").read_text()


@pytest.mark.parametrize("family", ["rnn_seq2seq", "transformer_seq2seq"])
def test_translate_decodes_with_the_target_tokenizer_as_plain_transformers_does(runs, family, tmp_path):
    """`toolkit translate` equals generate() decoded by the target tokenizer, and plain transformers
    (AutoModelForSeq2SeqLM + the folder's text2text-generation pipeline, which finds target_tokenizer/)
    prints the same."""
    import torch
    from transformers import pipeline

    run_dir = runs[family].run_dir
    model, source, target = _load(run_dir)
    printed = api.translate(run_dir, SOURCES, num_beams=2)
    encoded = [source(text, add_special_tokens=False)["input_ids"] + [source.eos_token_id] for text in SOURCES]
    with torch.no_grad():
        by_hand = [target.decode(model.generate(input_ids=torch.tensor([ids]), num_beams=2)[0], skip_special_tokens=True)
                   for ids in encoded]
    assert printed == by_hand
    assert any(printed) and all(not set(text) & set("abcdefghijklmnopqrstuvwxyz") for text in printed)

    translate = pipeline("text2text-generation", model=str(run_dir), trust_remote_code=True)
    assert [translate(text, num_beams=2)[0]["generated_text"] for text in SOURCES] == printed

    without_target = tmp_path / "no_target"
    shutil.copytree(run_dir, without_target, ignore=shutil.ignore_patterns("target_tokenizer", "checkpoints"))
    with pytest.raises(toolkit.ToolkitError, match="target_tokenizer/"):
        api.translate(without_target, SOURCES[:1])


def test_attention_labels_each_axis_with_its_own_tokenizer_and_eval_scores_as_training(runs):
    from toolkit.tasks.seq2seq_attention import attention_maps, token_labels
    from toolkit.translation import load_seq2seq_run

    result = runs["transformer_seq2seq"]
    model, tokenizer, recipe = load_seq2seq_run(result.run_dir, False, "attention")
    maps = attention_maps(model, tokenizer, SOURCES[0], recipe)
    source_ids = tokenizer(SOURCES[0], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert maps.source_tokens == token_labels(tokenizer, source_ids) and "like" in maps.source_tokens
    target = tokenizer.target_tokenizer
    written = target(maps.output, add_special_tokens=False)["input_ids"]
    assert maps.target_tokens[: len(written)] == token_labels(target, written)
    assert maps.output == api.translate(result.run_dir, SOURCES[:1], num_beams=1)[0]
    assert (result.run_dir / result.metrics["figures"][0]["file"]).is_file()

    again = toolkit.evaluate(result.run_dir, split="validation", max_batches=1)
    for figure, value in result.metrics["final"].items():
        assert again[figure] == pytest.approx(value, rel=1e-5, abs=1e-9), figure


def test_init_from_continues_with_both_tokenizers(runs, tmp_path):
    base = runs["rnn_seq2seq"]
    tuned = toolkit.run(RECIPE, ["model.family=rnn_seq2seq", "tokenizer=null", "model.size=null", "model.config={}",
                                 f"model.init_from={base.run_dir}", *TINY_RUN, f"output.dir={tmp_path / 'tuned'}"])
    assert (tuned.metrics["vocab_size"], tuned.metrics["target_vocab_size"]) == (
        base.metrics["vocab_size"], base.metrics["target_vocab_size"])
    for figure, value in base.metrics["final"].items():  # the loaded model and tokenizers score as the saved ones did
        assert tuned.metrics["before"][figure] == pytest.approx(value, rel=1e-5, abs=1e-9), figure
    saved = tuned.run_dir / "target_tokenizer" / "tokenizer.json"
    assert json.loads(saved.read_text()) == json.loads((base.run_dir / "target_tokenizer" / "tokenizer.json").read_text())


def test_tokenizer_from_a_per_side_folder_gives_each_side_its_own(runs, tmp_path):
    base = runs["rnn_seq2seq"]
    common = ["model.family=rnn_seq2seq", *TINY_SEQ2SEQ["rnn_seq2seq"], *TINY_RUN, "train.max_steps=1",
              "train.eval_every=1", "train.save_every=1", "eval.samples=[]"]
    with pytest.raises(toolkit.ToolkitError, match="tokenizer.per_side: true"):  # one shared tokenizer cannot be both
        toolkit.run(RECIPE, [f"tokenizer={{from: {base.run_dir}}}", *common, f"output.dir={tmp_path / 'shared'}"])
    reused = toolkit.run(RECIPE, [f"tokenizer={{per_side: true, from: {base.run_dir}}}", *common,
                                  f"output.dir={tmp_path / 'reused'}"])
    assert (reused.metrics["vocab_size"], reused.metrics["target_vocab_size"]) == (
        base.metrics["vocab_size"], base.metrics["target_vocab_size"])
