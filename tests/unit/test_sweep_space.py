"""`toolkit sweep`'s search space and pruning: bad spaces refused in one paragraph, the metric
reported at each evaluation, a trial worse than the median stopped at its first evaluation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import REPO

from toolkit.cli import main
from toolkit.errors import SweepError
from toolkit.recipe import SWEEP_SPACE_SUFFIX, recipe_data
from toolkit.registry import load_recipe
from toolkit.sweep.pruning import EvaluationReporter, make_pruner, schedule_length_keys
from toolkit.sweep.space import check_against_recipe, load_space, objective

WORD_RECIPE = "recipes/word2vec/skipgram_word_pd98.yaml"


def _space(tmp_path, text):
    path = tmp_path / "space.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, expected", [
    ("model.config.windw: {type: int, low: 2, high: 8}", "did you mean 'window'"),
    ("train.max_stepz: {type: int, low: 2, high: 8}", "unknown key 'train.max_stepz'"),
    ("model.config.window: {type: int, low: 0, high: 8}", "model.config.window=0"),
    ("model.config.window: {type: int, low: 8, high: 2}", "'low' (8) must be below 'high' (2)"),
    ("model.config.window: {type: int, low: 2, high: 8.5}", "must be a whole number"),
    ("model.config.window: {type: integer, low: 2, high: 8}", "'type' must be one of float, int, categorical"),
    ("model.config.window: {type: int, low: 2}", "needs 'low' and 'high'"),
    ("model.config.window: {type: int, low: 2, high: 8, stepp: 2}", "did you mean 'step'"),
    ("model.config.window: {type: int, low: 2, high: 9, step: 2}", "multiple of 'step'"),
    ("model.config.sample: {type: float, low: 0, high: 1e-3, log: true}", "a log scale needs 'low' above 0"),
    ("model.config.sg: {type: categorical, choices: []}", "non-empty list"),
    ("model.config.sg: {type: categorical, choices: [0, 0]}", "listed twice"),
    ("model.config.sg: {type: categorical, choices: [0, 2]}", "model.config.sg=2"),
    ("model.config.window: 5", "expected a mapping"),
    ("output.dir: {type: categorical, choices: [a, b]}", "the sweep sets"),
    ("metric: accuracy\ndirection: up\nmodel.config.window: {type: int, low: 2, high: 8}", "minimize or maximize"),
    ("metric: accuracy", "names no recipe key"),
    ("[1, 2]", "expected a YAML mapping"),
])
def test_bad_spaces_are_refused_naming_file_and_key(tmp_path, text, expected):
    path = _space(tmp_path, text)
    source, base = recipe_data(WORD_RECIPE)
    with pytest.raises(SweepError) as caught:
        check_against_recipe(load_space(path), base, str(source))
    message = str(caught.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_bad_space_on_the_command_line_exits_non_zero_without_traceback(tmp_path, capsys):
    path = _space(tmp_path, "model.config.windw: {type: int, low: 2, high: 8}")
    code = main(["sweep", WORD_RECIPE, "--space", str(path), "--trials", "2", "--out", str(tmp_path / "sweep")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: Search space") and "Traceback" not in err
    assert not (tmp_path / "sweep").exists()  # refused before the sweep folder was made


def test_space_reads_exponent_numbers_and_defaults_the_metric_to_the_headline(tmp_path):
    # PyYAML reads 1e-4 as a string; a space means the number.
    space = load_space(_space(tmp_path, "model.config.sample: {type: float, low: 1e-5, high: 1e-3, log: true}"))
    assert (space.params[0].low, space.params[0].high) == (1e-5, 1e-3)
    assert objective(space, load_recipe(WORD_RECIPE)) == ("analogy_3cosadd", "maximize")
    assert objective(space, load_recipe("gpt2/tiny_pretrain")) == ("perplexity", "minimize")


# Each space kept in recipes/ (next to the recipe it tunes) and the objective it declares.
BUNDLED_SPACES = {
    "recipes/word2vec/skipgram_word_pd98.sweep.yaml": ("analogy_ca8_3cosadd", "maximize"),
    "recipes/gpt2/tiny_pretrain.sweep.yaml": ("perplexity", "minimize"),
    "recipes/bert_preln/tiny_sentiment.sweep.yaml": ("accuracy", "maximize"),
}


@pytest.mark.parametrize("space_file", sorted(BUNDLED_SPACES))
def test_the_bundled_spaces_validate_against_their_recipes(space_file):
    recipe = space_file.removesuffix(SWEEP_SPACE_SUFFIX) + ".yaml"
    source, base = recipe_data(recipe)
    space = load_space(space_file)
    check_against_recipe(space, base, str(source))
    assert objective(space, load_recipe(recipe)) == BUNDLED_SPACES[space_file]


def test_every_bundled_space_is_checked_above():
    found = {p.relative_to(REPO).as_posix() for p in (REPO / "recipes").rglob("*" + SWEEP_SPACE_SUFFIX)}
    assert found == set(BUNDLED_SPACES)


def test_a_sweep_space_is_not_taken_for_a_recipe():
    from toolkit.errors import RecipeError

    with pytest.raises(RecipeError, match="search space of `toolkit sweep`"):
        load_recipe("recipes/word2vec/skipgram_word_pd98.sweep.yaml")


def _state(step, evals):
    return SimpleNamespace(step=step, evals=[{"step": s, "perplexity": v} for s, v in evals])


def test_a_trial_worse_than_the_median_is_stopped_at_its_first_evaluation():
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="minimize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    good = study.ask()
    reporter = EvaluationReporter(good, "perplexity", max_steps=9, space_file="space.yaml")
    for step, value in ((3, 10.0), (6, 8.0), (9, 7.0)):
        assert reporter(_state(step, [(step, value)])) is False
    assert reporter(_state(4, [(3, 10.0)])) is False  # no new evaluation at step 4: nothing reported
    study.tell(good, 7.0)
    assert good.number == 0 and study.trials[0].intermediate_values == {3: 10.0, 6: 8.0, 9: 7.0}

    bad = study.ask()
    reporter = EvaluationReporter(bad, "perplexity", max_steps=9, space_file="space.yaml")
    assert reporter(_state(3, [(3, 50.0)])) is True  # stop the loop here
    assert reporter.pruned_at == 3

    last = study.ask()  # at the last step the run is finished anyway: never pruned there
    reporter = EvaluationReporter(last, "perplexity", max_steps=3, space_file="space.yaml")
    assert reporter(_state(3, [(3, 50.0)])) is False and reporter.pruned_at is None


@pytest.mark.parametrize("keys, pruned", [(["train.optimizer.lr"], True), (["train.optimizer.lr", "train.max_steps"], False)])
def test_a_space_that_varies_the_schedule_length_never_prunes(keys, pruned):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    lengths = schedule_length_keys(keys)
    assert lengths == ([] if pruned else ["train.max_steps"])
    study = optuna.create_study(direction="minimize", pruner=make_pruner(optuna, trials=4, prune=not lengths))
    good = study.ask()
    EvaluationReporter(good, "perplexity", max_steps=9, space_file="space.yaml")(_state(3, [(3, 10.0)]))
    study.tell(good, 7.0)
    worse = study.ask()  # far worse at step 3 (early in a longer schedule, when max_steps varies)
    reporter = EvaluationReporter(worse, "perplexity", max_steps=30, space_file="space.yaml")
    assert reporter(_state(3, [(3, 50.0)])) is pruned
    assert study.trials[1].intermediate_values == {3: 50.0}  # reported either way, for the results table


def test_a_missing_metric_names_the_ones_there_are():
    reporter = EvaluationReporter(SimpleNamespace(), "accuracy", max_steps=9, space_file="space.yaml")
    with pytest.raises(SweepError, match=r"'accuracy' is not among .*\(perplexity\).*space.yaml"):
        reporter(_state(3, [(3, 10.0)]))
