"""Family and task names -> the modules that implement them, imported only when asked for.

The tables are plain strings, so reading or checking a recipe imports the recipe's own family and
nothing else: no task, no other family, and no torch unless that family's config class needs it.
A new family or task is one line here (and its module).

``check_recipe`` is the half of recipe validation that needs a family or a task; the schema half
(types, ranges, unknown keys) is ``toolkit.recipe``. ``load_recipe`` does both.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RecipeError, did_you_mean
from .recipe import Recipe, find_recipe, read_recipe, recipe_from_dict

# family name -> "module:attribute" of its ModelFamily
FAMILIES: dict[str, str] = {
    "gpt2": "toolkit.models.gpt2:FAMILY",
    "bert": "toolkit.models.bert:FAMILY",
    "rnn_lm": "toolkit.models.rnn_lm:FAMILY",
    "word2vec": "toolkit.models.word2vec:FAMILY",
    "elmo": "toolkit.models.elmo:FAMILY",
}


@dataclass(frozen=True)
class TaskEntry:
    """Where a task lives, and the recipe parts that are the task's own (checked without importing it)."""

    target: str  # "module:attribute" of its Task
    # Top-level recipe sections only this task may have -> "module:Class" of the section (its
    # defaults fill the section when a recipe leaves it out).
    sections: dict[str, str] = field(default_factory=dict)
    needs: tuple[tuple[str, str], ...] = ()  # (dotted recipe key that must be set, what to say when it is not)


TASKS: dict[str, TaskEntry] = {
    "causal_lm": TaskEntry("toolkit.tasks.causal_lm:TASK"),
    "bert_pretrain": TaskEntry("toolkit.tasks.bert_pretrain:TASK", sections={"mlm": "toolkit.recipe:MlmSection"}),
    "sequence_classification": TaskEntry("toolkit.tasks.classify:TASK"),
    "token_classification": TaskEntry("toolkit.tasks.token_classify:TASK",
                                      needs=(("data.tags", "task token_classification needs data.tags: ner, pos or cws"),)),
    "word2vec": TaskEntry("toolkit.tasks.word2vec:TASK"),
    "bilm": TaskEntry("toolkit.tasks.bilm:TASK"),
    "elmo_classify": TaskEntry("toolkit.tasks.elmo_downstream:CLASSIFY"),
    "elmo_ner": TaskEntry("toolkit.tasks.elmo_downstream:NER"),
}


def _import_target(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def family(name: str):
    """The ModelFamily called ``name`` (KeyError for an unknown one; recipes are checked first)."""
    return _import_target(FAMILIES[name])


def task(name: str):
    """The Task called ``name`` (imports its module, and with it torch)."""
    return _import_target(TASKS[name].target)


def all_families() -> list:
    """Every family, each module imported (for questions across families, such as who loads a model type)."""
    return [family(name) for name in FAMILIES]


def check_recipe(recipe: Recipe, source: str = "<recipe>") -> Recipe:
    """Raise RecipeError (one paragraph, as for schema errors) when the recipe's task or family is
    unknown, they do not fit together, or either one refuses its part of the recipe; then fill in
    the task's own sections that the recipe left out (bert_pretrain's mlm) with their defaults."""
    try:
        _check_task_and_family(recipe)
    except ValueError as exc:
        raise RecipeError(f"Recipe {source} is not valid: {exc}.") from None
    return recipe


def load_recipe(name_or_path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a recipe file (path or bundled name): schema, family and task."""
    path = find_recipe(name_or_path)
    return check_recipe(read_recipe(path, overrides), str(path))


def checked_recipe_from_dict(data: Any, source: str = "<recipe>") -> Recipe:
    """A plain dict validated as a recipe: schema, family and task."""
    return check_recipe(recipe_from_dict(data, source), source)


def _check_task_and_family(recipe: Recipe) -> None:
    entry = TASKS.get(recipe.task)
    if entry is None:
        raise ValueError(f"task: unknown task '{recipe.task}'{did_you_mean(recipe.task, TASKS)}; "
                         f"allowed: {', '.join(sorted(TASKS))}")
    if recipe.model.family not in FAMILIES:
        raise ValueError(f"model.family: unknown family '{recipe.model.family}'"
                         f"{did_you_mean(recipe.model.family, FAMILIES)}; allowed: {', '.join(sorted(FAMILIES))}")
    chosen = family(recipe.model.family)
    if recipe.task not in chosen.tasks:
        able = sorted(other.name for other in all_families() if recipe.task in other.tasks)
        raise ValueError(f"model.family '{chosen.name}' cannot do task '{recipe.task}': it does "
                         f"{', '.join(chosen.tasks)}; families for '{recipe.task}': {', '.join(able) or 'none yet'}")
    chosen.check_recipe(recipe)
    _check_task_parts(recipe, entry)


def _check_task_parts(recipe: Recipe, entry: TaskEntry) -> None:
    """Sections that belong to another task, and keys this task needs; the task's own sections
    get their defaults."""
    for name, other in TASKS.items():
        for section in other.sections:
            if name != recipe.task and getattr(recipe, section) is not None and section not in entry.sections:
                raise ValueError(f"the {section} section belongs to task {name}, not {recipe.task}")
    for key, message in entry.needs:
        value: Any = recipe
        for part in key.split("."):
            value = getattr(value, part)
        if value is None:
            raise ValueError(message)
    for section, section_class in entry.sections.items():
        if getattr(recipe, section) is None:
            setattr(recipe, section, _import_target(section_class)())
