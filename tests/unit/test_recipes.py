"""Recipes: every bundled recipe validates; mistakes give one readable paragraph."""

from __future__ import annotations

import pytest
import yaml

from toolkit.errors import RecipeError
from toolkit.paths import bundled_dir
from toolkit.recipe import bundled_recipes
from toolkit.registry import checked_recipe_from_dict, load_recipe

RECIPES = bundled_recipes()


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(bundled_dir("recipes"))))
def test_every_bundled_recipe_validates_and_round_trips(path):
    recipe = load_recipe(path)
    assert recipe.description, "every recipe needs a one-line description for `toolkit recipes`"
    # Through the registry too: a task's own sections (mlm) are validated by the task's section class.
    again = checked_recipe_from_dict(yaml.safe_load(recipe.to_yaml()))
    assert again == recipe


def test_recipes_are_found_by_bundled_name():
    assert load_recipe("gpt2/tiny_pretrain").model.family == "gpt2"


def test_overrides_are_typed_and_nested():
    recipe = load_recipe("gpt2/tiny_pretrain", ["train.max_steps=7", "train.optimizer.lr=0.01", "eval.samples=[天下]"])
    assert recipe.train.max_steps == 7 and recipe.train.optimizer.lr == 0.01 and recipe.eval.samples == ["天下"]


def _error(overrides):
    with pytest.raises(RecipeError) as caught:
        load_recipe("gpt2/tiny_pretrain", overrides)
    message = str(caught.value)
    assert "\n" not in message  # one paragraph
    return message


def test_misspelled_key_gets_did_you_mean():
    message = _error(["train.max_step=5"])
    assert "train.max_step" in message and "did you mean 'max_steps'" in message


def test_wrong_type_names_key_and_type():
    message = _error(["train.batch_size=lots"])
    assert "train.batch_size" in message and "integer" in message


def test_bert_task_for_gpt2_is_refused():
    message = _error(["task=causal_lm", "model.family=gtp2"])
    assert "did you mean 'gpt2'" in message


def test_task_family_mismatch_is_refused(monkeypatch):
    from toolkit import registry

    # A task gpt2 does not do (registered for this test only, as a BERT task would be).
    monkeypatch.setitem(registry.TASKS, "masked_lm", registry.TaskEntry("toolkit.tasks.masked_lm:TASK"))
    message = _error(["task=masked_lm"])
    assert "gpt2" in message and "cannot do task 'masked_lm'" in message


def test_unknown_task_lists_allowed():
    assert "allowed: " in _error(["task=pretrain_bert"])


def test_unknown_model_config_field():
    message = _error(["model.config.n_layers=2"])
    assert "n_layers" in message and "did you mean 'n_layer'" in message


def test_block_size_longer_than_context_is_refused():
    assert "n_positions" in _error(["data.block_size=4096"])


def test_bad_override_syntax():
    with pytest.raises(RecipeError, match="dotted.key=value"):
        load_recipe("gpt2/tiny_pretrain", ["train.max_steps"])


def test_missing_recipe_suggests_bundled_names():
    with pytest.raises(RecipeError, match="gpt2/tiny_pretrain"):
        load_recipe("gpt2/tiny_pretrian")


def test_invalid_yaml_names_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: causal_lm\ndata: [unclosed\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="line"):
        load_recipe(bad)


# --------------------------------------------------------------------------- registry, recipes and CLI in sync


def test_registry_knows_every_bundled_recipe_and_every_entry_imports():
    from toolkit import api, registry
    from toolkit.families.base import ModelFamily
    from toolkit.tasks.base import Task, TorchTask

    entries = registry.task_entries()
    for path in RECIPES:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["task"] in entries and data["model"]["family"] in registry.FAMILIES, path
    for name in registry.FAMILIES:
        family = registry.family(name)
        assert isinstance(family, ModelFamily) and family.name == name
        assert set(family.tasks) <= set(entries), f"{name} does a task the registry lacks"
        assert set(family.own_tasks) <= set(family.tasks), f"{name} owns a task it does not list in its tasks"
        family.config_class  # noqa: B018  (the config class path imports)
    owners = [task for name in registry.FAMILIES for task in registry.family(name).own_tasks]
    assert len(owners) == len(set(owners)) and not set(owners) & set(registry.TASKS), "a task declared twice"
    for name in entries:
        task = registry.task(name)
        assert isinstance(task, (Task, TorchTask)) and task.name == name
    doers = {task for name in registry.FAMILIES for task in registry.family(name).tasks}
    assert doers == set(entries), "a registered task no family does"
    # The registry's TASKS are the shared ones: a task only one family does is that family's own.
    shared = {name: [f for f in registry.FAMILIES if name in registry.family(f).tasks] for name in registry.TASKS}
    assert all(len(families) >= 2 for families in shared.values()), shared
    # `toolkit eval` on a folder without a recipe picks its task by architecture
    assert {t for tasks in api.TASK_FOR_ARCHITECTURE.values() for t in tasks} <= set(entries)


def test_cli_validates_every_bundled_recipe(capsys):
    from toolkit.cli import main

    for path in RECIPES:
        assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.count(": valid (") == len(RECIPES)


def test_every_size_preset_builds_a_valid_config():
    # check_config skips the config class for a preset without overrides: this is why it may.
    from toolkit import registry

    for name in registry.FAMILIES:
        family = registry.family(name)
        for size in family.sizes:
            family.check_config_values(family.config_fields(size, {}))
            family.config_class(**family.config_fields(size, {}))


def test_recipe_schema_alone_needs_no_family():
    # The schema loads a recipe of a family it has never heard of; the registry refuses it.
    from toolkit.recipe import read_recipe

    recipe = read_recipe("gpt2/tiny_pretrain", ["model.family=gtp2"])
    assert recipe.model.family == "gtp2"
    with pytest.raises(RecipeError, match="did you mean 'gpt2'"):
        load_recipe("gpt2/tiny_pretrain", ["model.family=gtp2"])


@pytest.mark.parametrize("overrides, expected", [
    (["task=causal_lm", "mlm.probability=0.2"], "the mlm section belongs to task bert_pretrain, not causal_lm"),
    (["task=causal_lm", "model.family=bert"], "model.family 'bert' cannot do task 'causal_lm'"),
    (["model.embeddings_from=x", "task=word2vec", "model.family=word2vec", "model.size=null"],
     "the word2vec family has no torch token embeddings"),
])
def test_task_and_family_parts_are_checked_by_the_registry(overrides, expected):
    assert expected in _error(overrides)


def test_a_task_section_left_out_gets_its_defaults():
    from toolkit.families.bert.mlm_section import MlmSection

    assert load_recipe("bert/tiny_pretrain", ["mlm=null"]).mlm == MlmSection()
    assert load_recipe("gpt2/tiny_pretrain").task_sections == {}  # no task section of another task
