"""`toolkit baseline` and its baselines on tiny data: the Kneser-Ney model is a distribution, each
baseline scores what its task scores, and the command prints a table or a clear error."""

from __future__ import annotations

import json
import random

import pytest
import yaml

from toolkit.baselines.kneser_ney import KneserNeyLM
from toolkit.cli import main
from toolkit.registry import load_recipe

SMALL = ["data.max_rows=300"]


# --------------------------------------------------------------------------- Kneser-Ney


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_kneser_ney_probabilities_sum_to_one_over_the_vocabulary(order):
    rng = random.Random(0)
    vocab = 20  # ids 15..19 never occur: they still get probability
    tokens = [rng.choice([1, 2, 3, 3, 3, 4, 5, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]) for _ in range(2000)]
    lm = KneserNeyLM(order, vocab).fit(tokens)
    for history in ([], [3], [3, 5], [5, 3, 3, 1], [19, 19], tokens[100:110], [0, 0, 0, 0]):
        probs = [lm.prob(history, token) for token in range(vocab)]
        assert sum(probs) == pytest.approx(1.0, abs=1e-9)
        assert min(probs) > 0


def test_kneser_ney_learns_context():
    tokens = [1, 2, 3, 4] * 200 + [1, 2, 5] * 20
    lm = KneserNeyLM(3, 8).fit(tokens)
    assert lm.prob([1, 2], 3) > 0.8 > lm.prob([], 3)  # the bigram context decides, not the unigram rate
    assert lm.prob([2, 3], 4) > lm.prob([2, 3], 1)


def test_kneser_ney_refuses_ids_outside_the_vocabulary():
    with pytest.raises(ValueError, match="token ids"):
        KneserNeyLM(3, 4).fit([1, 2, 9])


# --------------------------------------------------------------------------- the three baselines


def test_tfidf_baseline_on_a_local_labelled_card(tmp_path):
    from toolkit.baselines import fit_baseline

    rows = [{"text": f"{word}{i}号", "label": label} for i in range(40) for word, label in (("很好很满意", 1), ("太差了失望", 0))]
    (tmp_path / "reviews.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    card = {"name": "local", "description": "t", "source": {"files": str(tmp_path / "reviews.jsonl"), "format": "jsonl"},
            "views": ["text", "text_label"], "labels": ["negative", "positive"], "splits": {"validation": 10, "test": 10}}
    (tmp_path / "card.yaml").write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    recipe = load_recipe("bert/tiny_sentiment", [f"data.card={tmp_path / 'card.yaml'}", f"output.dir={tmp_path / 'run'}"])
    found = fit_baseline(recipe, "validation")
    assert found.metrics["accuracy"] == 1.0 and found.metrics["macro_f1"] == 1.0
    assert found.seconds > 0
    capped = recipe.model_copy(update={"eval": recipe.eval.model_copy(update={"max_batches": 1, "batch_size": 4})})
    assert fit_baseline(capped, "validation").notes == ["4 of 10 rows, spread evenly over the split (eval.max_batches=1)"]


def _whitespace_dropping_tokenizer(texts):
    """A word-level tokenizer that gives a space no token, as WordPiece does: the task then leaves
    that character unscored (the char tokenizers of the bundled recipes give every character one)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, **{char: i + 1 for i, char in enumerate(sorted(set("".join(texts)) - {" "}))}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")


def test_crf_scores_the_characters_the_task_scores(tmp_path):
    from toolkit import registry
    from toolkit.baselines.crf import scored_masks
    from toolkit.data import load_corpus
    from toolkit.tasks.base import IGNORE
    from toolkit.tasks.token_classify import encode, tag_rows

    recipe = load_recipe("bert/tiny_ner", [*SMALL, "data.block_size=32", f"output.dir={tmp_path / 'run'}"])
    rows = load_corpus("peoples_daily_1998", view="pos_tags", max_rows=300)["validation"]
    rows = rows.map(lambda row: {"words": [w.replace("中", " ") for w in row["words"]], "pos": row["pos"]})
    tokenizer = _whitespace_dropping_tokenizer(["".join(words) for words in rows["words"]])
    chunks = tag_rows(rows, "ner", 32)["chars"]
    labels = registry.task("token_classification").labels(recipe, None, rows)
    encoded = encode(rows, tokenizer, recipe, labels)
    scored_by_task = sum(label != IGNORE for row in encoded["labels"] for label in row)
    assert sum(map(sum, scored_masks(tokenizer, chunks, 32))) == scored_by_task < sum(map(len, chunks))


def test_crf_baseline_tags_ner_chunks(tmp_path):
    from toolkit.baselines import fit_baseline

    recipe = load_recipe("bert/tiny_ner", [*SMALL, "data.block_size=32", f"output.dir={tmp_path / 'run'}"])
    found = fit_baseline(recipe, "validation")
    assert 0.3 < found.metrics["f1"] <= 1 and 0.8 < found.metrics["accuracy"] <= 1
    assert "chunks of 30 characters" in found.notes[0]  # block_size minus [CLS] and [SEP]


def test_ngram_baseline_scores_the_packed_blocks_of_the_lm(tmp_path):
    from toolkit.baselines import fit_baseline

    recipe = load_recipe("gpt2/tiny_pretrain", [*SMALL, "data.max_rows=1500", "data.block_size=32", "eval.max_batches=2", "train.batch_size=4",
                                                f"output.dir={tmp_path / 'run'}"])
    found = fit_baseline(recipe, "validation", order=3)
    # 2 batches of 4 blocks, each predicting its last 31 tokens (the first has no history).
    assert "248 validation tokens scored" in found.notes[0]
    assert found.notes[1].startswith("8 of ") and found.notes[1].endswith(" blocks, spread evenly over the split (eval.max_batches=2)")
    assert 1 < found.metrics["perplexity"] < 1536  # far better than uniform over the vocabulary


# --------------------------------------------------------------------------- the command


def _small_recipe(tmp_path, name: str, source: str, *overrides: str) -> str:
    recipe = load_recipe(source, [*SMALL, f"output.dir={tmp_path / name}", *overrides])
    path = tmp_path / f"{name}.yaml"
    path.write_text(recipe.to_yaml(), encoding="utf-8")
    return str(path)


def test_cli_prints_a_table_with_a_trained_and_a_not_trained_recipe(tmp_path, capsys):
    trained = _small_recipe(tmp_path, "lm", "gpt2/tiny_pretrain", "data.block_size=32")
    # A finished run folder as the runner leaves it: the recipe and metrics.json with its evaluation.
    run_dir = tmp_path / "lm"
    run_dir.mkdir()
    (run_dir / "recipe.yaml").write_text((tmp_path / "lm.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    metrics = {"task": "causal_lm", "final": {"perplexity": 321.5}, "train": {"train_seconds": 42.0},
               "evaluations": [{"split": "validation", "card": "peoples_daily_1998", "step": 6,
                                "metrics": {"perplexity": 321.5, "loss": 5.77}}]}
    (run_dir / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    untrained = _small_recipe(tmp_path, "sentiment", "bert/tiny_sentiment")
    skipped = _small_recipe(tmp_path, "w2v", "word2vec/skipgram_char_pd98")
    markdown = tmp_path / "table.md"

    assert main(["baseline", trained, untrained, skipped, "--order", "3", "--markdown", str(markdown)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith(str(tmp_path))}
    assert set(lines) == {trained, untrained}  # word2vec has no row
    assert "321.5" in lines[trained] and "42" in lines[trained] and "Kneser-Ney 3-gram" in lines[trained]
    assert "not trained" in lines[untrained] and "TF-IDF" in lines[untrained]
    table = markdown.read_text(encoding="utf-8").splitlines()
    assert table[0].startswith("| recipe | task | metric") and len(table) == 4


def test_cli_bad_recipe_path_is_a_clear_error(tmp_path, capsys):
    assert main(["baseline", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Recipe") and "not found" in err and "Traceback" not in err
