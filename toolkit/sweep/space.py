"""The search space of `toolkit sweep`, read from YAML and checked in full before any trial runs.

The file maps recipe keys, dotted as on the command line (``train.optimizer.lr``,
``model.config.window``), to the values to try, plus two optional settings::

    metric: analogy_3cosadd          # a metrics.json name; default: the task's headline metric
    direction: maximize              # default: minimize for perplexity/loss/error rates, else maximize
    model.config.window: {type: int, low: 2, high: 10}
    model.config.alpha: {type: float, low: 1.0e-3, high: 5.0e-2, log: true}
    model.config.sg: {type: categorical, choices: [0, 1]}

Every key is tried with its extreme values (low and high, each choice) in the base recipe and the
result validated as `toolkit validate` would, so a typo or an impossible value fails at once,
naming the space file and key, instead of in trial 7.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RecipeError, SweepError, did_you_mean
from ..yamlfile import read_user_yaml

SETTINGS = ("metric", "direction")
DIRECTIONS = ("minimize", "maximize")
# The fields each type of search dimension takes; `type` is required, and so are low/high or choices.
FIELDS = {
    "float": ("type", "low", "high", "log", "step"),
    "int": ("type", "low", "high", "log", "step"),
    "categorical": ("type", "choices"),
}
# Sections the sweep decides for every trial: where it writes, that it runs in this process, no pushes.
SWEEP_OWNED = ("output", "launch", "hub")
# Metric names where lower is better; every other metric (accuracy, F1, BLEU, 3CosAdd ...) is maximised.
LOWER_IS_BETTER = re.compile(r"perplexity|loss|(^|_)(cer|wer|error)($|_)")
# YAML 1.1 (PyYAML) reads 1e-4 as the string '1e-4' (it wants 1.0e-4); in a space it means the number.
EXPONENT_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


@dataclass(frozen=True)
class Param:
    """One dimension of the search: a recipe key and the values Optuna may give it."""

    key: str
    type: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        """This dimension's value for an Optuna trial (a fixed one when the trial was enqueued)."""
        if self.type == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(self.key, self.low, self.high, log=self.log, step=self.step or 1)
        return trial.suggest_categorical(self.key, list(self.choices))

    def probes(self) -> list:
        """The values the recipe is validated with before the sweep starts."""
        return list(self.choices) if self.type == "categorical" else [self.low, self.high]

    def describe(self) -> str:
        if self.type == "categorical":
            return f"one of {', '.join(map(str, self.choices))}"
        extra = ", log scale" if self.log else f", step {self.step}" if self.step else ""
        return f"{self.type} {self.low:g} to {self.high:g}{extra}"

    def as_dict(self) -> dict[str, Any]:
        """The dimension as the space file would write it (what a resumed sweep must match)."""
        if self.type == "categorical":
            return {"type": self.type, "choices": list(self.choices)}
        return {"type": self.type, "low": self.low, "high": self.high, "log": self.log, "step": self.step}


@dataclass(frozen=True)
class SearchSpace:
    source: Path
    params: tuple[Param, ...]
    metric: str | None = None  # None: the task's headline metric
    direction: str | None = None  # None: from the metric's name

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "direction": self.direction, "params": {p.key: p.as_dict() for p in self.params}}


def load_space(path: str | Path) -> SearchSpace:
    """Read a search-space file and check its form (types, bounds, choices); the keys are checked
    against a recipe by ``check_against_recipe``."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"Search space {path}: no such file. Write a YAML file of recipe keys and ranges, e.g. "
                         f"'train.optimizer.lr: {{type: float, low: 1.0e-4, high: 1.0e-2, log: true}}' "
                         f"(see recipes/word2vec/skipgram_word_pd98.sweep.yaml).")
    data = read_user_yaml(path, SweepError, "Search space")
    if not isinstance(data, dict):
        raise SweepError(f"Search space {path}: expected a YAML mapping of recipe keys to ranges, got "
                         f"{type(data).__name__}.")
    metric, direction = data.pop("metric", None), data.pop("direction", None)
    if metric is not None and (not isinstance(metric, str) or not metric.strip()):
        raise SweepError(f"Search space {path}: 'metric' must be the name of a number in the runs' metrics.json "
                         f"(e.g. perplexity, accuracy, analogy_3cosadd), got {metric!r}.")
    if direction is not None and direction not in DIRECTIONS:
        raise SweepError(f"Search space {path}: 'direction' must be minimize or maximize, got {direction!r}.")
    params = tuple(_param(path, str(key), spec) for key, spec in data.items())
    if not params:
        raise SweepError(f"Search space {path} names no recipe key to search over; add one, e.g. "
                         f"'train.optimizer.lr: {{type: float, low: 1.0e-4, high: 1.0e-2, log: true}}'.")
    return SearchSpace(path, params, metric, direction)


def _param(path: Path, key: str, spec: Any) -> Param:
    def fail(problem: str) -> SweepError:
        return SweepError(f"Search space {path}, key '{key}': {problem}.")

    if not key or any(not part for part in key.split(".")):
        raise fail("a key is a dotted recipe path such as train.optimizer.lr")
    if key.split(".")[0] in SWEEP_OWNED:
        raise fail(f"the sweep sets {', '.join(f'{s}.*' for s in SWEEP_OWNED)} itself (each trial writes its own "
                   f"run folder in this process and pushes nothing), so they cannot be searched")
    if not isinstance(spec, dict):
        raise fail(f"expected a mapping such as {{type: float, low: 0.1, high: 1.0}} or {{type: categorical, "
                   f"choices: [a, b]}}, got {spec!r}")
    kind = spec.get("type")
    if kind not in FIELDS:
        raise fail(f"'type' must be one of {', '.join(FIELDS)}, got {kind!r}")
    unknown = [name for name in spec if name not in FIELDS[kind]]
    if unknown:
        raise fail(f"unknown field '{unknown[0]}'{did_you_mean(str(unknown[0]), FIELDS[kind])} for type {kind}; "
                   f"allowed: {', '.join(FIELDS[kind])}")
    if kind == "categorical":
        return Param(key, kind, choices=_choices(spec, fail))
    return _range(key, kind, spec, fail)


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, str) and EXPONENT_NUMBER.match(value.strip()) else value


def _choices(spec: dict, fail) -> tuple:
    choices = spec.get("choices")
    if not isinstance(choices, list) or not choices:
        raise fail(f"'choices' must be a non-empty list of values, got {choices!r}")
    choices = [_number(c) for c in choices]
    bad = next((c for c in choices if c is not None and not isinstance(c, (bool, int, float, str))), None)
    if bad is not None:
        raise fail(f"choice {bad!r} is a {type(bad).__name__}; choices must be numbers, strings, true/false or null "
                   f"(Optuna stores them as such)")
    if any(isinstance(c, float) and not math.isfinite(c) for c in choices):
        raise fail("choices must be finite numbers (no .inf or .nan)")
    repeated = next((c for i, c in enumerate(choices) if c in choices[:i]), None)
    if repeated is not None:
        raise fail(f"choice {repeated!r} is listed twice")
    return tuple(choices)


def _range(key: str, kind: str, spec: dict, fail) -> Param:
    missing = [name for name in ("low", "high") if name not in spec]
    if missing:
        raise fail(f"type {kind} needs 'low' and 'high' (missing: {', '.join(missing)})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise fail(f"'log' must be true or false, got {log!r}")
    values = {name: _number(spec[name]) for name in ("low", "high", "step") if spec.get(name) is not None}
    for name, value in values.items():
        whole = isinstance(value, int) and not isinstance(value, bool)
        if kind == "int" and not whole:
            raise fail(f"'{name}' of an int range must be a whole number, got {value!r}")
        if not (whole or isinstance(value, float)) or not math.isfinite(value):
            raise fail(f"'{name}' must be a finite number, got {value!r}")
    low, high, step = values["low"], values["high"], values.get("step")
    if kind == "float":
        low, high, step = float(low), float(high), None if step is None else float(step)
    if low >= high:
        raise fail(f"'low' ({low}) must be below 'high' ({high})")
    if step is not None and step <= 0:
        raise fail(f"'step' must be above 0, got {step}")
    if log and step is not None:
        raise fail("'log' and 'step' cannot be used together (Optuna samples a log scale continuously)")
    if log and low <= 0:
        raise fail(f"a log scale needs 'low' above 0, got {low}")
    if step is not None and not _multiple(high - low, step):
        raise fail(f"'high' - 'low' ({high - low:g}) must be a multiple of 'step' ({step:g}), or Optuna never "
                   f"tries 'high'")
    return Param(key, kind, low, high, log, step)


def _multiple(span: float, step: float) -> bool:
    ratio = span / step
    return abs(ratio - round(ratio)) < 1e-9 * max(1.0, ratio)


# --------------------------------------------------------------------------- against the recipe


def with_values(base: dict, values: dict[str, Any]) -> dict:
    """A copy of the plain recipe data with each dotted key set to its value."""
    from ..recipe import set_dotted

    data = copy.deepcopy(base)
    for key, value in values.items():
        set_dotted(data, key.split("."), value, f"key '{key}'")
    return data


def check_against_recipe(space: SearchSpace, base: dict, recipe_source: str) -> None:
    """Validate the recipe with each key at each of its probe values (the others as in the base
    recipe), as `toolkit validate` would: an unknown key or an impossible value names the key."""
    from ..registry import checked_recipe_from_dict

    for param in space.params:
        for value in param.probes():
            try:
                checked_recipe_from_dict(with_values(base, {param.key: value}), source=recipe_source)
            except RecipeError as error:
                raise SweepError(f"Search space {space.source}, key '{param.key}': the recipe {recipe_source} does not "
                                 f"validate with {param.key}={value!r}: {_reason(error)}") from None


def _reason(error: RecipeError) -> str:
    # "Recipe X is not valid: unknown key ..." -> "unknown key ..."; the space error already names the recipe.
    text = str(error)
    return text.split(" is not valid: ", 1)[1] if " is not valid: " in text else text


def objective(space: SearchSpace, recipe) -> tuple[str, str]:
    """The metric to optimise and its direction: the space's, or the task's headline metric with
    the direction its name implies (perplexity and losses down, everything else up)."""
    metric = space.metric
    if metric is None:
        from .. import registry

        headline = getattr(registry.task(recipe.task), "headline", None)
        names = headline(recipe) if headline else ()
        if not names:
            raise SweepError(f"Search space {space.source}: task {recipe.task} names no headline metric; set "
                             f"'metric:' to the metrics.json number to optimise.")
        metric = names[0]
    return metric, space.direction or ("minimize" if LOWER_IS_BETTER.search(metric) else "maximize")
