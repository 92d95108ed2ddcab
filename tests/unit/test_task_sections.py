"""A task's own recipe sections (bert_pretrain's mlm): declared by the task, not by the schema, and
checked with the schema's error style; run folders written before still load."""

from __future__ import annotations

import pytest
import yaml
from pydantic import Field

from toolkit import registry
from toolkit.errors import RecipeError, ToolkitError
from toolkit.recipe import Recipe, Section
from toolkit.registry import checked_recipe_from_dict, load_recipe


def _error(recipe: str, *overrides: str) -> str:
    with pytest.raises(RecipeError) as caught:
        load_recipe(recipe, list(overrides))
    message = str(caught.value)
    assert "\n" not in message  # one paragraph, as schema errors
    return message


def test_the_schema_has_no_task_section():
    # recipe.py knows no task: the mlm section lives with BERT (toolkit/families/bert/mlm_section.py).
    assert "mlm" not in Recipe.model_fields


def test_misspelt_key_of_a_task_section_gets_did_you_mean_and_the_allowed_keys():
    message = _error("bert/tiny_pretrain", "mlm.probabilty=0.2")
    assert ("unknown key 'mlm.probabilty' (did you mean 'probability'?); allowed here: probability, whole_word_mask, nsp_weight"
            in message)


@pytest.mark.parametrize(("override", "expected"), [
    ("mlm.probability=abc", "'mlm.probability': input should be a valid number"),
    ("mlm.probability=1.5", "'mlm.probability': input should be less than 1 (got 1.5)"),
    ("mlm.whole_word_mask=sometimes", "'mlm.whole_word_mask'"),
    ("mlm=3", "'mlm': input should be a valid dictionary"),
])
def test_wrong_values_in_a_task_section_name_the_dotted_key(override, expected):
    assert expected in _error("bert/tiny_pretrain", override)


def test_unknown_top_level_key_lists_the_schema_and_the_tasks_own_sections():
    bert = _error("bert/tiny_pretrain", "trian.max_steps=3")
    assert "unknown key 'trian' (did you mean 'train'?); allowed here: task, description," in bert
    assert bert.rstrip(".").endswith("hub, peft, mlm")
    gpt2 = _error("gpt2/tiny_pretrain", "trian.max_steps=3")
    assert "did you mean 'train'?" in gpt2 and "mlm" not in gpt2  # not a section causal_lm may have


def test_another_tasks_section_is_refused():
    assert "the mlm section belongs to task bert_pretrain, not causal_lm" in _error("gpt2/tiny_pretrain", "mlm={}")


def test_task_section_is_a_typed_section_after_the_check_and_round_trips():
    recipe = load_recipe("bert/tiny_pretrain", ["mlm.probability=0.2"])
    assert recipe.mlm.probability == 0.2 and recipe.mlm.whole_word_mask is False
    assert yaml.safe_load(recipe.to_yaml())["mlm"] == {"probability": 0.2, "whole_word_mask": False, "nsp_weight": 1.0}
    assert checked_recipe_from_dict(yaml.safe_load(recipe.to_yaml())) == recipe


def _run_recipe_written_before(recipe: str, **changes) -> dict:
    """A run folder's recipe.yaml as the toolkit wrote it before task sections left the schema:
    every recipe had an mlm key, null where the task was not bert_pretrain."""
    data = yaml.safe_load(load_recipe(recipe).to_yaml())
    data["mlm"] = None
    data.update(changes)
    return data


def test_run_folder_recipes_written_before_still_load():
    gpt2 = checked_recipe_from_dict(_run_recipe_written_before("gpt2/tiny_pretrain"))
    assert gpt2.task_sections == {} and "mlm" not in yaml.safe_load(gpt2.to_yaml())
    bert = checked_recipe_from_dict(_run_recipe_written_before(
        "bert/tiny_pretrain", mlm={"probability": 0.25, "whole_word_mask": True}))
    assert bert.mlm.probability == 0.25 and bert.mlm.whole_word_mask
    assert checked_recipe_from_dict(_run_recipe_written_before("bert/tiny_pretrain")).mlm.probability == 0.15


class BeamSection(Section):
    """A section as a seq2seq task would declare one (test only)."""

    width: int = Field(4, ge=1)


@pytest.fixture
def causal_lm_with_a_section(monkeypatch):
    entry = registry.TASKS["causal_lm"]
    monkeypatch.setitem(registry.TASKS, "causal_lm",
                        registry.TaskEntry(entry.target, sections={"beam": f"{__name__}:BeamSection"}))


def test_a_new_task_section_needs_no_change_to_the_schema(causal_lm_with_a_section):
    assert load_recipe("gpt2/tiny_pretrain", ["beam.width=8"]).beam == BeamSection(width=8)
    assert load_recipe("gpt2/tiny_pretrain").beam == BeamSection()  # left out: its defaults
    assert "unknown key 'beam.widht' (did you mean 'width'?)" in _error("gpt2/tiny_pretrain", "beam.widht=8")
    assert "'beam.width': input should be greater than or equal to 1" in _error("gpt2/tiny_pretrain", "beam.width=0")
    assert "the beam section belongs to task causal_lm, not bert_pretrain" in _error("bert/tiny_pretrain", "beam={}")


def _run_folder(folder, recipe):
    """A run folder with the recipe and a checkpoint, as far as the resume check reads it."""
    from toolkit.rundir import RECIPE_FILE
    from toolkit.training.checkpoints import CHECKPOINTS, LOOP_STATE

    folder.mkdir(parents=True, exist_ok=True)
    (folder / RECIPE_FILE).write_text(recipe.to_yaml(), encoding="utf-8")
    step = folder / CHECKPOINTS / "step-2"
    step.mkdir(parents=True)
    (step / LOOP_STATE).write_text("{}", encoding="utf-8")
    return folder


def test_resume_refuses_a_changed_task_section(tmp_path, causal_lm_with_a_section):
    from toolkit.rundir import check_resumable

    run_dir = _run_folder(tmp_path / "gpt2", load_recipe("gpt2/tiny_pretrain", ["beam.width=8"]))
    with pytest.raises(ToolkitError, match="the recipe's beam section"):
        check_resumable(run_dir, load_recipe("gpt2/tiny_pretrain", ["beam.width=2"]))
    bert_dir = _run_folder(tmp_path / "bert", load_recipe("bert/tiny_pretrain"))
    with pytest.raises(ToolkitError, match="the recipe's mlm section"):
        check_resumable(bert_dir, load_recipe("bert/tiny_pretrain", ["mlm.whole_word_mask=true"]))
