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

from pydantic import ValidationError

from .errors import RecipeError, did_you_mean
from .recipe import Recipe, describe_errors, find_recipe, read_recipe, recipe_from_dict, unknown_key

@dataclass(frozen=True)
class TaskEntry:
    """Where a task lives, and the recipe parts that are the task's own (checked without importing it)."""

    target: str  # "module:attribute" of its Task
    # Top-level recipe sections only this task may have -> "module:Class" of the section, a
    # toolkit.recipe.Section kept light (no torch); its defaults fill the section when a recipe leaves it out.
    sections: dict[str, str] = field(default_factory=dict)
    needs: tuple[tuple[str, str], ...] = ()  # (dotted recipe key that must be set, what to say when it is not)
    # "module:function" of function(recipe, family) raising ValueError when the task's own parts of a
    # checked recipe do not fit the family (light: imported by the recipe checker).
    check: str | None = None
    # Reads source/target pairs, so a recipe may give each side a tokenizer of its own (tokenizer.per_side).
    sides: bool = False
    # Trains from a stream (data.streaming, or a card with source.streaming; its TorchTask has stream_encode).
    streams: bool = False


# family name -> "module:attribute" of its ModelFamily. A family's own tasks (those no other family
# does) are declared by the family itself (``ModelFamily.own_tasks``).
FAMILIES: dict[str, str] = {
    "gpt2": "toolkit.families.gpt2.family:FAMILY",
    "bert": "toolkit.families.bert.family:FAMILY",
    "bert_preln": "toolkit.families.bert_preln.family:FAMILY",
    "rnn_lm": "toolkit.families.rnn_lm.family:FAMILY",
    "word2vec": "toolkit.families.word2vec.family:FAMILY",
    "elmo": "toolkit.families.elmo.family:FAMILY",
    "rnn_seq2seq": "toolkit.families.rnn_seq2seq.family:FAMILY",
    "conv_seq2seq": "toolkit.families.conv_seq2seq.family:FAMILY",
    "transformer_seq2seq": "toolkit.families.transformer_seq2seq.family:FAMILY",
}

# Tasks that two or more families share.
TASKS: dict[str, TaskEntry] = {
    "causal_lm": TaskEntry("toolkit.tasks.causal_lm:TASK", streams=True),
    "sequence_classification": TaskEntry("toolkit.tasks.classify:TASK"),
    "token_classification": TaskEntry("toolkit.tasks.token_classify:TASK",
                                      needs=(("data.tags", "task token_classification needs data.tags: ner, pos or cws"),)),
    # BERT's MLM + NSP objective (bert, and bert_preln's pre-LN model of the same shape).
    "bert_pretrain": TaskEntry("toolkit.families.bert.pretrain:TASK",
                               sections={"mlm": "toolkit.families.bert.mlm_section:MlmSection"}, streams=True),
    "seq2seq": TaskEntry("toolkit.tasks.seq2seq:TASK", sections={"seq2seq": "toolkit.tasks.seq2seq_section:Seq2SeqSection"},
                         check="toolkit.tasks.seq2seq_section:check_seq2seq", sides=True),
}


# Task names of older recipes and run folders -> the task that does the same work now, and the
# recipe keys the old name implied. ELMo's heads were tasks of their own (elmo_classify,
# elmo_ner) before they became the elmo family's side of the shared tasks; their run folders'
# recipe.yaml still say so, and must keep working with `toolkit eval`.
RENAMED_TASKS: dict[str, tuple[str, dict[str, Any]]] = {
    "elmo_classify": ("sequence_classification", {}),
    "elmo_ner": ("token_classification", {"tags": "ner"}),
}


def import_target(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def family(name: str):
    """The ModelFamily called ``name`` (KeyError for an unknown one; recipes are checked first)."""
    return import_target(FAMILIES[name])


def task_entries() -> dict[str, TaskEntry]:
    """Every task, shared and family-owned, by name (imports each family's light declaration module)."""
    entries = dict(TASKS)
    for chosen in all_families():
        entries.update(chosen.own_tasks)
    return entries


def task(name: str):
    """The Task called ``name`` (imports its module, and with it torch)."""
    return import_target(task_entries()[name].target)


def all_families() -> list:
    """Every family, each module imported (for questions across families, such as who loads a model type)."""
    return [family(name) for name in FAMILIES]


def check_recipe(recipe: Recipe, source: str = "<recipe>") -> Recipe:
    """Raise RecipeError (one paragraph, as for schema errors) when the recipe's task or family is
    unknown, they do not fit together, or either one refuses its part of the recipe; then fill in
    the task's own sections that the recipe left out (bert_pretrain's mlm) with their defaults."""
    if recipe.task in RENAMED_TASKS:
        _rename_task(recipe, source)
    try:
        _check_task_and_family(recipe)
    except ValueError as exc:
        raise RecipeError(f"Recipe {source} is not valid: {exc}.") from None
    return recipe


def _rename_task(recipe: Recipe, source: str) -> None:
    """Read an old task name as the task that does its work now (with the data keys it implied)."""
    import sys

    old = recipe.task
    recipe.task, data_keys = RENAMED_TASKS[old]
    for key, value in data_keys.items():
        if getattr(recipe.data, key) is None:
            setattr(recipe.data, key, value)
    implied = "".join(f", data.{key}: {getattr(recipe.data, key)}" for key in data_keys)
    print(f"note: {source} names task {old}, now task {recipe.task}{implied}; it is read as such.", file=sys.stderr)


def load_recipe(name_or_path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a recipe file (path or bundled name): schema, family and task."""
    path = find_recipe(name_or_path)
    return check_recipe(read_recipe(path, overrides), str(path))


def checked_recipe_from_dict(data: Any, source: str = "<recipe>") -> Recipe:
    """A plain dict validated as a recipe: schema, family and task."""
    return check_recipe(recipe_from_dict(data, source), source)


def _check_task_and_family(recipe: Recipe) -> None:
    entries = task_entries()
    _check_top_level_keys(recipe, entries)
    entry = entries.get(recipe.task)
    if entry is None:
        raise ValueError(f"task: unknown task '{recipe.task}'{did_you_mean(recipe.task, entries)}; "
                         f"allowed: {', '.join(sorted(entries))}")
    if recipe.model.family not in FAMILIES:
        raise ValueError(f"model.family: unknown family '{recipe.model.family}'"
                         f"{did_you_mean(recipe.model.family, FAMILIES)}; allowed: {', '.join(sorted(FAMILIES))}")
    chosen = family(recipe.model.family)
    if recipe.task not in chosen.tasks:
        able = sorted(other.name for other in all_families() if recipe.task in other.tasks)
        raise ValueError(f"model.family '{chosen.name}' cannot do task '{recipe.task}': it does "
                         f"{', '.join(chosen.tasks)}; families for '{recipe.task}': {', '.join(able) or 'none yet'}")
    chosen.check_recipe(recipe)
    _check_task_parts(recipe, entry, entries)


def _check_top_level_keys(recipe: Recipe, entries: dict[str, TaskEntry]) -> None:
    """A top-level key the schema does not have must be some task's own section; the schema's
    unknown-key error otherwise (the schema passes such keys on, as it knows no task)."""
    sections = {section for entry in entries.values() for section in entry.sections}
    for key in recipe.task_sections:
        if key not in sections:
            own = list(entries[recipe.task].sections) if recipe.task in entries else []
            raise ValueError(unknown_key(key, [*(f.alias or name for name, f in Recipe.model_fields.items()), *own]))


def _check_task_parts(recipe: Recipe, entry: TaskEntry, entries: dict[str, TaskEntry]) -> None:
    """Sections that belong to another task, keys this task needs, and the task's own sections,
    validated by the section class the task declares (left out or null: its defaults)."""
    for name, other in entries.items():
        for section in other.sections:
            if name == recipe.task or section not in recipe.task_sections or section in entry.sections:
                continue
            if recipe.task_sections[section] is not None:
                raise ValueError(f"the {section} section belongs to task {name}, not {recipe.task}")
            delattr(recipe, section)  # `mlm: null`, as run folders of other tasks wrote it before
    if recipe.tokenizer is not None and recipe.tokenizer.per_side and not entry.sides:
        able = sorted(name for name, other in entries.items() if other.sides)
        raise ValueError(f"tokenizer.per_side (or tokenizer.source / tokenizer.target) trains one tokenizer per side of "
                         f"source/target pairs, and task {recipe.task} reads no pairs; it is for task "
                         f"{', '.join(able)}: give one tokenizer (remove per_side, source and target)")
    if recipe.data.streaming and not entry.streams:
        raise ValueError(f"data.streaming: task {recipe.task} does not train from a stream; tasks that do: "
                         f"{', '.join(sorted(name for name, other in entries.items() if other.streams))} "
                         f"(remove data.streaming to build the corpus whole)")
    for key, message in entry.needs:
        value: Any = recipe
        for part in key.split("."):
            value = getattr(value, part)
        if value is None:
            raise ValueError(message)
    for section, target in entry.sections.items():
        section_class = import_target(target)
        given = recipe.task_sections.get(section)
        try:
            setattr(recipe, section, section_class.model_validate({} if given is None else given))
        except ValidationError as exc:
            raise ValueError("; ".join(describe_errors(exc, section_class, (section,)))) from None
    if entry.check:
        import_target(entry.check)(recipe, family(recipe.model.family))
