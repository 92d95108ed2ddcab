"""`toolkit sweep` end to end on a tiny word2vec recipe (about a second a trial): results, figure and
best recipe; resuming an interrupted sweep; refusing a changed space; a torch run stopped by a callback."""

from __future__ import annotations

import csv

import pytest

import toolkit
from toolkit.cli import main
from toolkit.errors import SweepError
from toolkit.registry import load_recipe
from toolkit.sweep.pruning import make_pruner
from toolkit.sweep.study import STUDY_FILE, run_sweep

optuna = pytest.importorskip("optuna")

RECIPE = "recipes/word2vec/skipgram_word_pd98.yaml"
# Tiny and deterministic (one gensim worker), as tests/families/word2vec uses.
TINY = ["data.max_rows=300", "model.config.epochs=1", "model.config.vector_size=8", "model.config.workers=1",
        "eval.samples=[中国]"]
SPACE = """\
metric: analogy_ca8_3cosadd
model.config.window: {type: int, low: 2, high: 6}
model.config.min_count: {type: int, low: 1, high: 3}
model.config.sample: {type: float, low: 1e-4, high: 1e-2, log: true}
"""


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(SPACE, encoding="utf-8")
    return path


def _rows(sweep_dir):
    with open(sweep_dir / "results.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_three_trial_sweep_writes_results_figure_and_a_valid_best_recipe(tmp_path, space, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", RECIPE, *TINY, "--space", str(space), "--trials", "3", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    rows = _rows(out)
    assert [r["trial"] for r in rows] == ["0", "1", "2"] and {r["state"] for r in rows} == {"COMPLETE"}
    assert all(0 <= float(r["analogy_ca8_3cosadd"]) <= 1 and float(r["seconds"]) > 0 for r in rows)
    assert len({(r["model.config.window"], r["model.config.min_count"], r["model.config.sample"]) for r in rows}) == 3
    for row in rows:  # each trial a normal run folder with its metrics
        assert (out / row["run_dir"] / "metrics.json").is_file()
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert "[3/3] trial 2 complete" in printed and "model.config.window" in printed.split("Sweep folder")[0]
    best = out / "best_recipe.yaml"
    assert main(["validate", str(best)]) == 0
    recipe = load_recipe(best)
    best_row = max(rows, key=lambda r: float(r["analogy_ca8_3cosadd"]))
    assert recipe.output.dir == "runs/word2vec-sg-word-pd98"  # the base recipe's, not a trial's
    assert recipe.model.config["window"] == int(best_row["model.config.window"])
    assert recipe.data.max_rows == 300  # the command line's overrides are part of the base recipe


def test_an_interrupted_sweep_resumes_without_redoing_finished_trials(tmp_path, space):
    out = tmp_path / "sweep"
    run_sweep(RECIPE, TINY, space, trials=2, out=out, echo=lambda line: None)
    finished = {n: (out / f"trial-00{n}" / "metrics.json").stat().st_mtime_ns for n in (0, 1)}
    # A process killed mid-trial leaves it RUNNING in the study: resuming marks it failed and runs its values again.
    study = optuna.load_study(study_name="sweep", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(out / STUDY_FILE))))
    cut_off = study.ask()
    values = {"window": cut_off.suggest_int("model.config.window", 2, 6),
              "min_count": cut_off.suggest_int("model.config.min_count", 1, 3),
              "sample": cut_off.suggest_float("model.config.sample", 1e-4, 1e-2, log=True)}

    result = run_sweep(RECIPE, TINY, space, trials=3, out=out, resume=True, echo=lambda line: None)
    rows = _rows(out)
    assert [(r["trial"], r["state"]) for r in rows] == [("0", "COMPLETE"), ("1", "COMPLETE"), ("2", "FAIL"), ("3", "COMPLETE")]
    assert rows[3]["note"] == "rerun of trial 2" and int(rows[3]["model.config.window"]) == values["window"]
    assert float(rows[3]["model.config.sample"]) == values["sample"]
    assert {n: (out / f"trial-00{n}" / "metrics.json").stat().st_mtime_ns for n in (0, 1)} == finished
    assert result.trials_run == 1

    again = run_sweep(RECIPE, TINY, space, trials=3, out=out, echo=lambda line: None)  # same sweep: resumed, nothing to do
    assert again.trials_run == 0


def test_a_changed_space_or_recipe_is_refused(tmp_path, space):
    out = tmp_path / "sweep"
    run_sweep(RECIPE, TINY, space, trials=1, out=out, echo=lambda line: None)
    space.write_text(SPACE.replace("high: 6", "high: 7"), encoding="utf-8")
    with pytest.raises(SweepError, match=r"different search space \(keys model.config.window\)") as caught:
        run_sweep(RECIPE, TINY, space, trials=2, out=out, echo=lambda line: None)
    assert "\n" not in str(caught.value)
    space.write_text(SPACE, encoding="utf-8")
    with pytest.raises(SweepError, match=r"different recipe \(model.config.epochs\)"):
        run_sweep(RECIPE, [*TINY, "model.config.epochs=2"], space, trials=2, out=out, echo=lambda line: None)
    with pytest.raises(SweepError, match="holds no sweep"):
        run_sweep(RECIPE, TINY, space, trials=2, out=tmp_path / "new", resume=True, echo=lambda line: None)


def test_a_callback_returning_true_ends_a_torch_run_there_with_its_metrics(tiny_gpt2):
    # What a pruned trial does: the loop stops after the evaluation at step 3 of 6, and the run
    # folder still gets its model and metrics.json (describing the model at step 3).
    result = toolkit.run("gpt2/tiny_pretrain", overrides=tiny_gpt2, callbacks=[lambda state: state.step == 3])
    assert result.metrics["train"]["steps"] == 3
    assert [e["step"] for e in result.metrics["evals"]] == [3]
    assert (result.run_dir / "model.safetensors").is_file()


def test_a_space_varying_max_steps_compares_torch_trials_at_their_end(tmp_path, tiny_gpt2, capsys, monkeypatch):
    from toolkit.sweep import study

    pruners = []

    def recording(*args, **kwargs):
        pruners.append(make_pruner(*args, **kwargs))
        return pruners[-1]

    monkeypatch.setattr(study, "make_pruner", recording)
    space = tmp_path / "space.yaml"
    space.write_text("train.max_steps: {type: categorical, choices: [2, 4]}\n", encoding="utf-8")
    overrides = [o for o in tiny_gpt2 if not o.startswith("output.dir=")] + ["train.eval_every=1"]
    code = main(["sweep", "gpt2/tiny_pretrain", *overrides, "--space", str(space), "--trials", "2",
                 "--out", str(tmp_path / "sweep")])
    assert code == 0
    assert "no trial is pruned" in capsys.readouterr().out
    assert [type(p).__name__ for p in pruners] == ["NopPruner"]
    assert {r["state"] for r in _rows(tmp_path / "sweep")} == {"COMPLETE"}


def test_a_trial_stopped_by_ctrl_c_runs_again_first_on_resume(tmp_path, space, monkeypatch):
    out = tmp_path / "sweep"
    from toolkit import api

    real_run, calls = api.run, []

    def run_then_ctrl_c(recipe, **kwargs):
        calls.append(recipe.output.dir)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run(recipe, **kwargs)

    monkeypatch.setattr(api, "run", run_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(RECIPE, TINY, space, trials=3, out=out, echo=lambda line: None)
    assert [(r["trial"], r["state"]) for r in _rows(out)] == [("0", "COMPLETE"), ("1", "FAIL")]

    run_sweep(RECIPE, TINY, space, trials=3, out=out, echo=lambda line: None)
    rows = _rows(out)
    assert [(r["trial"], r["state"]) for r in rows] == [("0", "COMPLETE"), ("1", "FAIL"), ("2", "COMPLETE"), ("3", "COMPLETE")]
    keys = ("model.config.window", "model.config.min_count", "model.config.sample")
    assert rows[2]["note"] == "rerun of trial 1" and [rows[2][k] for k in keys] == [rows[1][k] for k in keys]
