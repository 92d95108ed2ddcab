"""Every torch task, on every family that does it, reports the same figures when `toolkit eval`
re-evaluates its saved run folder as the run itself reported: data preparation, collation and
scoring are declared once (a TorchTask) and serve both paths. Also: run folders of the old ELMo
task names (elmo_classify, elmo_ner) still evaluate, and model folders without a recipe are
evaluated by the task of their architecture."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

import toolkit
from conftest import TINY_SEQ2SEQ
from toolkit.cli import main

# A few steps of tiny models on a few hundred rows: the figures need not be good, only reproducible.
COMMON = ["data.max_rows=120", "data.block_size=32", "train.batch_size=8", "train.max_steps=2",
          "train.eval_every=2", "train.save_every=2", "train.mixed_precision=no", "eval.max_batches=2"]
RUNS = {
    "gpt2": ("gpt2/tiny_pretrain", ["model.config={n_layer: 1, n_head: 2, n_embd: 32, n_positions: 64}",
                                    "eval.samples=[]"]),
    "rnn_lm": ("rnn_lm/tiny_lstm_pretrain", ["model.config={cell: lstm, num_layers: 1, hidden_size: 16, embedding_size: 16}",
                                             "eval.samples=[]"]),
    "bert_pretrain": ("bert/tiny_pretrain_wwm", ["model.config={num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 2, "
                                                 "intermediate_size: 64}"]),
    "bert_preln_pretrain": ("bert_preln/tiny_pretrain_mix", ["model.config={num_hidden_layers: 1, hidden_size: 32, "
                                                             "num_attention_heads: 2, intermediate_size: 64}"]),
    "bilm": ("elmo/tiny_bilm", ["model.config={num_layers: 1, embedding_size: 16, hidden_size: 16}"]),
    **{family: (f"{family}/tiny_pinyin", [*TINY_SEQ2SEQ[family], "eval.generation.max_new_tokens=8"])
       for family in TINY_SEQ2SEQ},
}
# Heads over a pretrained run (the key of RUNS it starts from).
HEADS = {
    "bert_sentiment": ("bert/tiny_sentiment", "bert_pretrain"),
    "bert_ner": ("bert/tiny_ner", "bert_pretrain"),
    "bert_preln_sentiment": ("bert_preln/tiny_sentiment", "bert_preln_pretrain"),
    "elmo_sentiment": ("elmo/tiny_sentiment", "bilm"),
    "elmo_ner": ("elmo/tiny_ner", "bilm"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run folders by name, trained on first use and shared by every test of this file."""
    root = tmp_path_factory.mktemp("reevaluation")
    done = {}

    def get(name):
        if name not in done:
            if name in RUNS:
                recipe, extra = RUNS[name]
            else:
                recipe, base = HEADS[name]
                extra = [f"model.init_from={get(base)}"]
            done[name] = toolkit.run(recipe, overrides=[*COMMON, *extra, f"output.dir={root / name}"]).run_dir
        return done[name]

    return get


def _reported(run_dir) -> tuple[dict, dict]:
    return json.loads((run_dir / "metrics.json").read_text()), yaml.safe_load((run_dir / "recipe.yaml").read_text())


@pytest.mark.parametrize("name", [*RUNS, *HEADS])
def test_eval_of_a_saved_run_gives_the_figures_the_run_reported(runs, name, capsys):
    run_dir = runs(name)
    metrics, recipe = _reported(run_dir)
    split, max_batches = recipe["eval"]["split"], recipe["eval"]["max_batches"]
    assert main(["eval", str(run_dir), "--split", split, "--max-batches", str(max_batches)]) == 0
    again = json.loads((run_dir / "metrics.json").read_text())["evaluations"][-1]
    assert again["split"] == split
    assert set(metrics["final"]) <= set(again["metrics"])
    for figure, value in metrics["final"].items():
        assert again["metrics"][figure] == pytest.approx(value, rel=1e-5), f"{name}: {figure} drifted"
    printed = capsys.readouterr().out
    assert all(figure in printed for figure in metrics["final"])


def test_elmo_heads_report_their_layer_mix_and_card_wording(runs):
    for name in ("elmo_sentiment", "elmo_ner"):
        metrics, _ = _reported(runs(name))
        assert set(metrics["layer_weights"]) == {"embedding", "lstm_1", "gamma"}
        assert metrics["evals"][-1]["layer_weights"] == metrics["layer_weights"]
        card = (runs(name) / "README.md").read_text(encoding="utf-8")
        assert "a new head over the frozen biLM's learned mix of layers" in card and "import toolkit" in card
        assert "| Task | sequence_classification: Text classification" in card or "| Task | token_classification: Char" in card
    assert json.loads((runs("elmo_ner") / "metrics.json").read_text())["tags"] == "ner"


@pytest.mark.parametrize("name, old_task", [("elmo_sentiment", "elmo_classify"), ("elmo_ner", "elmo_ner")])
def test_a_run_folder_of_an_old_elmo_task_name_still_evaluates(runs, tmp_path, name, old_task, capsys):
    """Folders trained before ELMo's heads joined the shared tasks say task: elmo_classify / elmo_ner
    (and no data.tags) in their recipe.yaml."""
    folder = shutil.copytree(runs(name), tmp_path / name)
    recipe = yaml.safe_load((folder / "recipe.yaml").read_text())
    recipe["task"] = old_task
    recipe["data"].pop("tags", None)
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    metrics, _ = _reported(folder)
    result = toolkit.evaluate(folder, split=recipe["eval"]["split"], max_batches=recipe["eval"]["max_batches"])
    for figure, value in metrics["final"].items():
        assert result[figure] == pytest.approx(value, rel=1e-5)
    assert f"names task {old_task}, now task" in capsys.readouterr().err
    assert toolkit.load_recipe(folder / "recipe.yaml").task == (
        "sequence_classification" if old_task == "elmo_classify" else "token_classification")


@pytest.mark.parametrize("name, expected", [("bert_sentiment", {"accuracy", "macro_f1"}),
                                            ("bert_preln_sentiment", {"accuracy", "macro_f1"}),
                                            ("elmo_sentiment", {"accuracy", "macro_f1"}),
                                            ("elmo_ner", {"f1", "precision", "recall", "accuracy"})])
def test_a_classifier_folder_without_recipe_is_evaluated_by_its_architecture_task(runs, tmp_path, name, expected):
    folder = tmp_path / "model"
    folder.mkdir()
    for path in runs(name).iterdir():
        if path.is_file() and path.suffix in (".json", ".safetensors", ".py"):
            shutil.copy(path, folder)
    (folder / "metrics.json").unlink()
    card = yaml.safe_load((runs(name) / "recipe.yaml").read_text())["data"]["card"]
    result = toolkit.evaluate(folder, card=card, split="validation", max_batches=1)
    assert expected <= set(result), result
