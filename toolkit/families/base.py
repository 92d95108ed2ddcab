"""What every model family declares, so the recipe checker, tokenizer and tasks stay generic.

A family lives in its own folder, ``toolkit/families/<name>/``: ``family.py`` declares its
``ModelFamily`` (imported to check a recipe, so it must not import torch at module level), next to
the family's modeling code, its own tasks, data code, card wording and CLI commands.
"""

from __future__ import annotations

import importlib
import math
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from ..errors import did_you_mean
from ..registry import TaskEntry


@dataclass(frozen=True)
class Allowed:
    """The numbers a config field may hold: within [low, high] (ends open when ``*_open``), an
    integer when ``integer``, and None too when ``optional``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    optional: bool = False

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            text = f"a number in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        else:
            kind = "an integer" if self.integer else "a number"
            text = f"{kind} {'>' if self.low_open else '>='} {self.low:g}" if self.low is not None else kind
        return text + (", or null" if self.optional else "")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.integer and not isinstance(value, int):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below


SIZE = Allowed(1, integer=True)  # layers, widths, heads, positions
DROPOUT = Allowed(0, 1, high_open=True)  # a probability of dropping; 1 would drop everything
POSITIVE = Allowed(0, low_open=True)  # epsilons
NON_NEGATIVE = Allowed(0)  # standard deviations and ranges of initialisation


# The fields every transformers config has (PreTrainedConfig's own); a recipe may set them too.
# Listed here so checking a recipe needs no transformers import (tests compare it with transformers').
PRETRAINED_CONFIG_FIELDS = frozenset({
    "_name_or_path", "architectures", "chunk_size_feed_forward", "dtype", "id2label", "is_encoder_decoder",
    "label2id", "model_type", "output_attentions", "output_hidden_states", "problem_type", "return_dict",
    "transformers_version",
})


@dataclass(frozen=True)
class DeclaredConfig:
    """A family's config class as plain data (its ``config_fields_<model>.py``): the class's own
    fields with their types and defaults, the values its text fields may hold, and ``check``, which
    raises ValueError for values that break a rule of the class (the class calls it too).

    The recipe checker reads this instead of importing the class, whose transformers base class
    imports torch (seconds per ``toolkit validate``); the class stays the truth when a model is built.
    """

    fields: dict[str, tuple[Any, Any]]  # name -> (type, default)
    choices: dict[str, tuple[str, ...]]
    check: Callable[[Mapping[str, Any]], None]

    @classmethod
    def of(cls, module) -> DeclaredConfig:
        """The declaration in a ``config_fields_<model>`` module (FIELDS, CHOICES, check)."""
        return cls(module.FIELDS, module.CHOICES, module.check)

    def values(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Every field: the defaults with ``fields`` on top."""
        return {name: default for name, (_, default) in self.fields.items()} | fields


def _has_type(value: Any, kind: Any) -> bool:
    """isinstance, except that true/false are no numbers and a whole number is a float."""
    options = get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    if isinstance(value, bool):
        return bool in options
    if isinstance(value, int) and float in options:
        return True
    return isinstance(value, tuple(type(None) if option is None else option for option in options))


def _type_name(kind: Any) -> str:
    options = get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "text", type(None): "null"}
    return " or ".join(names.get(option, getattr(option, "__name__", str(option))) for option in options)


def _yaml_text_number_hint(value: Any) -> str:
    """YAML 1.1 reads 1e-5 (no decimal point) as text; say how to write it as a number."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        written = re.sub(r"^([+-]?\d+)([eE])", r"\1.0\2", value.strip())
        return f"; YAML reads {value} as text, write {written} for a number"
    return ""


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def register_model_type(config_class: type, models: dict[str, type]) -> None:
    """Register a model type of the toolkit's own with transformers: ``AutoConfig`` and each Auto
    model class named in ``models`` (e.g. {"AutoModelForSeq2SeqLM": the model class}) load its
    folders, and ``save_pretrained`` writes ``auto_map`` plus the model code into each folder, so
    plain transformers loads it with trust_remote_code. Imports transformers (and torch)."""
    import transformers

    transformers.AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    config_class.register_for_auto_class("AutoConfig")
    for auto_name, model_class in models.items():
        getattr(transformers, auto_name).register(config_class, model_class, exist_ok=True)
        model_class.register_for_auto_class(auto_name)


@dataclass(frozen=True)
class ModelFamily:
    """A model family: which tasks it serves, its config class, named sizes and special tokens.

    ``build(config)`` returns a freshly initialised model (families whose tasks need different
    heads leave it None and each task's Auto class builds from the config); ``special_tokens`` maps tokenizer roles
    (bos_token, eos_token, pad_token, unk_token, ...) to the strings a tokenizer trained for this
    family must contain.
    """

    name: str
    tasks: tuple[str, ...]
    config_class_path: str  # "module:Class"; imported when a config is built or checked (it may import torch)
    sizes: dict[str, dict[str, Any]]
    default_size: str
    special_tokens: dict[str, str]
    build: Callable[[Any], Any] | None  # None: the task's Auto class builds the model from the config
    positions_key: str | None = None  # config field holding the longest sequence the model takes
    fixed_config_keys: tuple[str, ...] = field(default=())  # set from the tokenizer, not by users
    model_types: tuple[str, ...] = field(default=())  # config.model_type values init_from may load
    lora_targets: tuple[str, ...] = field(default=())  # default LoRA target modules (empty: no LoRA)
    lora_options: dict[str, Any] = field(default_factory=dict)  # extra LoraConfig arguments
    # Adjusts a model after it is built or loaded (for both, unlike build).
    prepare: Callable[[Any], Any] = field(default=lambda model: model)
    freeze_groups: dict[str, str] = field(default_factory=dict)  # name -> regex over parameter names
    # Config fields a recipe may still set on top of model.init_from (head options, not the architecture).
    finetune_config_keys: tuple[str, ...] = field(default=())
    has_token_embeddings: bool = True  # model.embeddings_from can initialise them from word vectors
    # Checked at recipe load, so a value the model cannot be built (or trained) with fails in a
    # second: the numbers each config field may hold, (whole, part) pairs where part must divide
    # whole (attention heads split the width), and fields naming an activation function.
    config_ranges: dict[str, Allowed] = field(default_factory=dict)
    divisible: tuple[tuple[str, str], ...] = field(default=())
    activation_keys: tuple[str, ...] = field(default=())
    # Config fields set to a special token's id besides bos/eos/pad_token_id (field -> token role),
    # e.g. an encoder-decoder's decoder_start_token_id.
    token_id_fields: dict[str, str] = field(default_factory=dict)
    # Config fields of a model whose sides have a tokenizer each (tokenizer.per_side): the target
    # vocabulary's size field, and fields set because the sides share no tokens (Marian's shared embeddings).
    target_vocab_key: str | None = None
    per_side_config: dict[str, Any] = field(default_factory=dict)
    # Tasks only this family does (the registry's TASKS holds the shared ones); each is also in ``tasks``.
    own_tasks: dict[str, TaskEntry] = field(default_factory=dict)
    # Registers the family's own model classes with transformers' Auto classes (families whose
    # models are transformers' own leave it None); called by ``toolkit.families.ensure_registered``.
    register_auto_classes: Callable[[], None] | None = None
    # "module:function" adding the family's own commands to the `toolkit` parser (function(subparsers)).
    cli_commands: str | None = None
    # Shared tasks this family builds its own way: task name -> "module:function" of
    # function(recipe, auto_class, head, accelerator) -> model (ELMo: a head over a frozen biLM).
    # Other tasks build from scratch or load model.init_from through the task's Auto class.
    task_models: dict[str, str] = field(default_factory=dict)
    # Recipe keys a task needs with this family: task name -> ((dotted key, what to say when unset), ...).
    task_needs: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # "module:function" of function(model) -> dict: metrics of the family's own added to every
    # evaluation and copied to metrics.json's top level (ELMo: the learned layer weights).
    evaluation_extras: str | None = None
    # The model card's wording for how a model.init_from run was trained, or None for the usual
    # ("full fine-tuning", or LoRA): function(recipe) -> str | None.
    fine_tuning: Callable[[Any], str | None] = field(default=lambda recipe: None)
    # The config class's fields as plain data: recipes are checked without importing the class (and
    # torch). None: the class itself is built to check a recipe's model.config.
    declared_config: DeclaredConfig | None = None

    @property
    def config_class(self) -> type:
        module, _, name = self.config_class_path.partition(":")
        return getattr(importlib.import_module(module), name)

    def check_recipe(self, recipe) -> None:
        """Raise ValueError when the recipe's model, training or peft sections ask for something
        this family cannot build or train (the family's part of ``toolkit.registry.check_recipe``)."""
        if recipe.model.init_from:
            tunable = self.finetune_config_keys
            extra = sorted(set(recipe.model.config) - set(tunable))
            if recipe.model.size or extra:
                raise ValueError(
                    "model.size and model.config describe a model trained from scratch; with model.init_from "
                    "the architecture comes from the pretrained model"
                    + (f" (model.config may set only {', '.join(tunable)} here; got {extra[0]})" if tunable and extra else "")
                )
            self.check_config_values(recipe.model.config)
        else:
            self.check_config(recipe.model.size, recipe.model.config, recipe.data.block_size)
        for key, message in self.task_needs.get(recipe.task, ()):
            value: Any = recipe
            for part in key.split("."):
                value = getattr(value, part)
            if value is None:
                raise ValueError(message)
        if recipe.model.embeddings_from and not self.has_token_embeddings:
            raise ValueError(f"model.embeddings_from: the {self.name} family has no torch token embeddings to initialise")
        self.check_training(recipe)

    def check_training(self, recipe) -> None:
        """Raise ValueError when train.freeze or peft asks for something this family lacks."""
        for entry in recipe.train.freeze:
            if entry not in self.freeze_groups and "." not in entry:
                raise ValueError(
                    f"train.freeze: '{entry}' is not a parameter group of {self.name}"
                    f"{did_you_mean(entry, self.freeze_groups)}; groups: {', '.join(self.freeze_groups) or 'none'} "
                    f"(or give a parameter-name prefix such as transformer.h.0.)"
                )
        if recipe.peft is not None and not (self.lora_targets or recipe.peft.target_modules):
            raise ValueError(f"peft: the {self.name} family has no default LoRA target modules; set peft.target_modules")

    def check_config_values(self, fields: dict[str, Any]) -> None:
        """Raise ValueError naming model.config.KEY and what it allows when a value would fail to
        build or train the model: out of range, not finite, rejected by the config class itself
        (cell: lstmm, mix: middle), heads that do not divide the width, unknown activations."""
        if not fields:
            return
        for key, value in fields.items():
            allowed = self.config_ranges.get(key)
            if allowed is None and isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"model.config.{key}: got {value}; allowed: a finite number")
            if allowed is not None and not allowed.accepts(value):
                raise ValueError(f"model.config.{key}: got {_shown(value)}; allowed: {allowed.describe()}"
                                 f"{_yaml_text_number_hint(value)}")
        declared = self.declared_config
        if declared is not None and set(fields) <= set(declared.fields):
            values = self._check_declared_values(fields)
        else:  # no declaration, or a field of transformers' base config (the class checks it)
            values = self._construct_config(fields).to_dict()
        for whole, part in self.divisible:
            self._check_divides(values, whole, part)
        for key in self.activation_keys:
            self._check_activation(key, values[key])

    def _check_declared_values(self, fields: dict[str, Any]) -> dict[str, Any]:
        """What ``_construct_config`` finds, from the family's declaration (no import of the class):
        types, the values a text field may hold, and the class's rules between fields; also refuses
        a wrongly typed value the class would take (freeze_bilm: maybe)."""
        declared = self.declared_config
        for key, value in fields.items():
            kind = declared.fields[key][0]
            if not _has_type(value, kind):
                raise ValueError(f"model.config.{key}: got {_shown(value)}; allowed: {_type_name(kind)}"
                                 f"{_yaml_text_number_hint(value)}")
            allowed = declared.choices.get(key)
            if allowed is not None and value not in allowed:
                raise ValueError(f"model.config.{key}: got {_shown(value)}{did_you_mean(str(value), allowed)}; "
                                 f"allowed: {', '.join(allowed)}")
        values = declared.values(fields)
        try:
            declared.check(values)
        except ValueError as exc:
            raise ValueError(f"model.config: {' '.join(str(exc).split())}") from None
        return values

    def _construct_config(self, fields: dict[str, Any]) -> Any:
        from huggingface_hub.errors import StrictDataclassError

        try:
            return self.config_class(**fields)
        except StrictDataclassError as exc:  # transformers' typed configs: "field 'x' expected float, got str"
            found = re.search(r"field '(\w+)'", str(exc))
            key = found.group(1) if found else ""
            detail = " ".join(str(exc).split()).split(": ", 1)[-1]
            raise ValueError(f"model.config.{key}: {detail}{_yaml_text_number_hint(fields.get(key))}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"model.config: {' '.join(str(exc).split())}") from None

    @staticmethod
    def _check_divides(values: Mapping[str, Any], whole: str, part: str) -> None:
        total, share = values[whole], values[part]
        if total % share:
            divisors = [d for d in range(1, total + 1) if total % d == 0]
            shown = ", ".join(map(str, divisors[:16])) + (", ..." if len(divisors) > 16 else "")
            raise ValueError(
                f"model.config.{part}: {share} does not divide model.config.{whole} {total} (each of the "
                f"{part} gets an equal slice of it); allowed: a divisor of {total} ({shown})"
            )

    @staticmethod
    def _check_activation(key: str, name: Any) -> None:
        from transformers.activations import ACT2CLS

        if name not in ACT2CLS:
            raise ValueError(f"model.config.{key}: unknown activation {_shown(name)}{did_you_mean(str(name), ACT2CLS)}; "
                             f"allowed: {', '.join(sorted(ACT2CLS))}")

    def check_config(self, size: str | None, overrides: dict[str, Any], block_size: int) -> None:
        """Raise ValueError for an unknown size, unknown config field, a value the model cannot be
        built with (check_config_values) or too short a context."""
        if size is not None and size not in self.sizes:
            raise ValueError(
                f"model.size: '{size}' is not a size of {self.name}{did_you_mean(size, self.sizes)}; "
                f"allowed: {', '.join(self.sizes)}"
            )
        # A size preset alone is the toolkit's own (tests build every one): only a recipe's own
        # fields need the config class, whose import costs seconds (transformers' configs load torch).
        if overrides:
            known = self.config_field_names()
            for key in overrides:
                if key not in known:
                    raise ValueError(
                        f"model.config.{key}: not a field of {self.config_class_path.rpartition(':')[2]}"
                        f"{did_you_mean(key, known)}"
                    )
                if key in self.fixed_config_keys:
                    raise ValueError(
                        f"model.config.{key}: set from the tokenizer; remove it from the recipe"
                    )
            self.check_config_values(self.config_fields(size, overrides))
        if self.positions_key:
            positions = self.config_fields(size, overrides).get(self.positions_key)
            if positions is not None and block_size > positions:
                raise ValueError(
                    f"data.block_size {block_size} is longer than model.config.{self.positions_key} "
                    f"{positions}; raise {self.positions_key} or lower block_size"
                )

    def config_field_names(self) -> set[str]:
        """The fields a recipe's model.config may name (the config class's, with transformers' common ones)."""
        if self.declared_config is not None:
            return set(self.declared_config.fields) | PRETRAINED_CONFIG_FIELDS
        return set(self.config_class().to_dict())

    def config_fields(self, size: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """The size preset with the recipe's overrides on top; a whole number given for a float
        field (dropout: 0) becomes a float, as transformers' typed configs require."""
        fields = {**self.sizes[size or self.default_size], **overrides}
        return {key: float(value) if self._wants_float(key, value) else value for key, value in fields.items()}

    def _wants_float(self, key: str, value: Any) -> bool:
        allowed = self.config_ranges.get(key)
        return allowed is not None and not allowed.integer and isinstance(value, int) and not isinstance(value, bool)

    def make_config(self, size: str | None, overrides: dict[str, Any], tokenizer) -> Any:
        """A config for a model that uses ``tokenizer`` (vocabulary size and special token ids)."""
        roles = {f"{role.removesuffix('_token')}_token_id": role for role in ("bos_token", "eos_token", "pad_token")}
        roles.update(self.token_id_fields)
        ids = {field: tokenizer.convert_tokens_to_ids(self.special_tokens[role])
               for field, role in roles.items() if role in self.special_tokens}
        # A target tokenizer of its own (tokenizer.per_side) travels with the source one; see toolkit.tokenizer_sides.
        fields = {**self.config_fields(size, overrides), "vocab_size": len(tokenizer), **ids}
        target = getattr(tokenizer, "target_tokenizer", None)
        if target is not None:
            if self.target_vocab_key is None:
                raise ValueError(f"family {self.name} has one vocabulary for its inputs and outputs, so it cannot "
                                 f"use a tokenizer per side")
            fields.update(self.per_side_config, **{self.target_vocab_key: len(target)})
        return self.config_class(**fields)
