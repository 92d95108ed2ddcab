"""The recipe: one YAML file that says everything about a run, validated before any work starts.

One schema section per concern (task, data, tokenizer, model, train, eval, launch, output, hub).
Unknown keys are errors with a did-you-mean hint, so a typo fails in a second instead of after the
corpus was tokenized. This module is the schema and its loading only: what a model family or a task
says about a recipe (does this family do this task? are these real config fields of the family?)
is checked by ``toolkit.registry.check_recipe``, and ``toolkit.registry.load_recipe`` does both.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import RecipeError, did_you_mean
from .paths import bundled_dir
from .yamlfile import DuplicateKeyError, describe_yaml_error, load_user_yaml, read_user_yaml


def _yaml_no(value: Any) -> Any:
    """YAML reads a bare `no` as false; for precision it means the string 'no'."""
    return "no" if value is False else value


def _number_kind(annotation: Any) -> str | None:
    """'a whole number' or 'a number' for a field of int or float (possibly optional) that takes no
    bool; None for any other field."""
    options = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    if bool in options:
        return None
    return "a whole number" if int in options else "a number" if float in options else None


def repo_id_problem(repo_id: str) -> str | None:
    """Why the Hub would refuse ``repo_id`` as a model repository (None: it would take it): the
    rule push applies, also checked when a recipe with hub.repo_id is validated."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if repo_id.count("/") != 1:
        return "it must look like user/name or org/name"
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        return ("its parts may use letters, digits, '-', '_' and '.', must not start or end with '-' or '.', "
                "and it may be at most 96 characters long")
    return None



class Section(BaseModel):
    """A recipe section: unknown keys are errors, numbers are finite and never true/false. A task's
    own section (bert_pretrain's mlm, declared by its family) is one too."""

    # allow_inf_nan=False: an lr, eps or temperature of inf/nan passes every bound check (nan
    # compares false) and trains to a NaN model; every float field of every section is finite.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # YAML reads yes/no/on/off/true/false as booleans, and pydantic would take them as 1 and 0:
        # `train.batch_size=yes` must not quietly train with batches of one.
        kind = _number_kind(cls.model_fields[info.field_name].annotation) if isinstance(value, bool) else None
        if kind:
            raise PydanticCustomError("bool_for_number", "input should be {kind}, not true/false", {"kind": kind})
        return value


# Adam's betas are decay rates of running averages: 1 or more never forgets, below 0 diverges.
Beta = Annotated[float, Field(ge=0, lt=1)]
# numpy.random.seed (which accelerate's set_seed calls) takes 0 <= seed < 2**32.
SEED_LIMIT = 2**32


class DataSection(Section):
    card: str = Field(description="A card name from data_cards/ or a path to a card YAML file.")
    block_size: int = Field(128, ge=8, description="Tokens per training example (packed blocks).")
    max_rows: int | None = Field(
        None, ge=1, description="Read at most this many rows of the source (quick experiments)."
    )
    tags: Literal["ner", "pos", "cws"] | None = Field(
        None, description="token_classification: character tags to derive (NER BIO, POS, segmentation B/M/E/S)."
    )
    streaming: bool | None = Field(
        None, description="Read the card's source lazily while training (local text/jsonl/csv/parquet files or "
        "globs, or a Hub dataset) instead of building the corpus first; null: as the card's source.streaming says. "
        "Tasks: causal_lm, bilm, bert_pretrain (a streamed row is one document).")
    tokenizer_rows: int = Field(
        100_000, ge=1, description="Streaming: a tokenizer trained for the run learns from the first this-many "
        "training rows of the stream.")


TOKENIZER_SIDES = ("source", "target")


class TokenizerSettings(Section):
    """How one tokenizer is made: trained on the corpus (kind, vocab_size ...) or loaded (from)."""

    kind: Literal["char", "byte_bpe", "word_char"] = Field(
        "char", description="char: one token per character; byte_bpe: GPT-2 byte-level BPE; word_char: words "
        "split at spaces (pinyin, English) and one token per Chinese character (seq2seq).")
    vocab_size: int | None = Field(
        None, ge=16, description="char: keep the most frequent; byte_bpe: target size (8000)."
    )
    min_frequency: int = Field(1, ge=1)
    from_: str | None = Field(
        None, alias="from", description="Load a trained tokenizer from this folder instead."
    )
    pad_to_multiple_of: int = Field(64, ge=1, description="Pad the vocabulary for fast matmuls.")


class TokenizerSection(TokenizerSettings):
    """One tokenizer for the whole text, or (seq2seq) one per side: ``per_side: true``, with
    ``source:`` / ``target:`` holding the keys where a side differs from the settings above."""

    per_side: bool | None = Field(
        None, description="seq2seq: train a source tokenizer and a target tokenizer, each on its own side "
        "(own vocabularies); null: true when source or target is given.")
    source: TokenizerSettings | None = Field(
        None, description="per_side: the source tokenizer's settings that differ from this section's.")
    target: TokenizerSettings | None = Field(
        None, description="per_side: the target tokenizer's settings that differ from this section's.")

    @model_validator(mode="after")
    def _resolve_sides(self) -> TokenizerSection:
        # Each side is stored whole (this section's settings with the side's own on top), so the
        # recipe.yaml a run writes reads back as the same tokenizers.
        given = [side for side in TOKENIZER_SIDES if getattr(self, side) is not None]
        if self.per_side is None:
            self.per_side = bool(given)
        if not self.per_side:
            if given:
                raise ValueError(f"tokenizer.{given[0]} gives one side's tokenizer settings, but tokenizer.per_side "
                                 f"is false: set per_side to true (or leave it out) for a tokenizer per side, or "
                                 f"remove tokenizer.{' and tokenizer.'.join(given)} for one shared tokenizer")
            return self
        shared = {name: getattr(self, name) for name in TokenizerSettings.model_fields}
        for side in TOKENIZER_SIDES:
            own = getattr(self, side)
            overrides = {name: getattr(own, name) for name in own.model_fields_set} if own is not None else {}
            setattr(self, side, TokenizerSettings.model_validate({**shared, **overrides}))
        return self

    def side(self, name: str) -> TokenizerSettings:
        """The settings of one side's tokenizer ('source' or 'target'); only with per_side."""
        return getattr(self, name)


class ModelSection(Section):
    family: str
    size: str | None = Field(None, description="A named size of the family (tiny, small ...).")
    config: dict[str, Any] = Field(default_factory=dict, description="Config fields to override.")
    init_from: str | None = Field(
        None, description="Start from a run folder, a local HF model folder or a Hub id (fine-tuning)."
    )
    trust_remote_code: bool = Field(
        False, description="Allow init_from to run model code from its folder (only for sources you trust)."
    )
    embeddings_from: str | None = Field(
        None, description="Word vectors (a word2vec run folder, or a word2vec .bin or text file) that initialise "
        "the token embeddings; they must be as wide as the embeddings."
    )


class PeftSection(Section):
    """LoRA through peft: small trainable low-rank updates next to frozen pretrained weights."""

    method: Literal["lora"] = "lora"
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | None = Field(None, description="Module names; default: the family's.")
    merge: bool = Field(False, description="Also save the merged model in RUN_DIR/merged.")


class OptimizerSection(Section):
    name: Literal["adamw"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    betas: tuple[Beta, Beta] = (0.9, 0.95)
    eps: float = Field(1e-8, gt=0)


class ScheduleSection(Section):
    name: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    warmup_steps: int = Field(0, ge=0)


class TrainSection(Section):
    batch_size: int = Field(32, ge=1, description="Examples per device per micro-batch.")
    grad_accum: int = Field(1, ge=1)
    max_steps: int = Field(1000, ge=1, description="Optimizer steps.")
    optimizer: OptimizerSection = Field(default_factory=OptimizerSection)
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    max_grad_norm: float | None = Field(1.0, gt=0)
    mixed_precision: Annotated[Literal["auto", "no", "bf16", "fp16"], BeforeValidator(_yaml_no)] = Field(
        "auto", description="auto: bf16 where the CPU/GPU computes it natively, else no."
    )
    eval_every: int = Field(200, ge=1)
    save_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    log_every: int = Field(10, ge=1)
    num_workers: int = Field(0, ge=0)
    group_by_length: bool = Field(
        False, description="Batch examples of similar length together, in random order (as HF Trainer's "
        "group_by_length): less padding, so faster steps on texts of mixed lengths (reviews, sentences). It can cost "
        "accuracy where length goes with the label (README, Training)."
    )
    compile: bool = Field(
        False, description="torch.compile the model (Accelerate's inductor backend): the first steps are slower "
        "while it compiles, later ones may be faster (benchmarks/compile_effect.py measures it)."
    )
    freeze: list[str] = Field(
        default_factory=list,
        description="Parameter groups of the family (embeddings, ...) or parameter-name prefixes to keep fixed.",
    )


class GenerationSection(Section):
    max_new_tokens: int = Field(50, ge=1)
    do_sample: bool = True
    top_k: int = Field(50, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    temperature: float = Field(1.0, gt=0)
    repetition_penalty: float = Field(1.0, gt=0)
    num_beams: int = Field(1, ge=1, description="Beam search with this many beams (1: no beam search).")
    length_penalty: float = Field(1.0, description="Beam search: > 1 favours longer outputs, < 1 shorter.")
    no_repeat_ngram_size: int = Field(0, ge=0, description="Never repeat an n-gram of this size (0: off).")


class EvalSection(Section):
    split: str = "validation"
    max_batches: int | None = Field(50, ge=1, description="Cap on evaluation batches (None: all): that many batches' worth of examples, spread evenly over the split (toolkit.tasks.eval_rows).")
    batch_size: int | None = Field(None, ge=1, description="Defaults to train.batch_size.")
    metrics: list[str] = Field(default_factory=lambda: ["perplexity"])
    samples: list[str] = Field(default_factory=list, description="Prompts generated at each eval.")
    generation: GenerationSection = Field(default_factory=GenerationSection)

    @field_validator("samples")
    @classmethod
    def _samples_have_text(cls, samples: list[str]) -> list[str]:
        # An empty prompt would be printed as if the sample continued it, while the model starts from
        # a special token (or from spaces the tokenizer drops): refused rather than shown misleadingly.
        empty = [number for number, prompt in enumerate(samples, start=1) if not prompt.strip()]
        if empty:
            raise ValueError(f"eval.samples: sample {empty[0]} of {len(samples)} is empty or only spaces; give each "
                             f"sample some prompt text (e.g. 中国), or leave it out")
        return samples


class LaunchSection(Section):
    accelerate_config: str | None = Field(
        None, description="accelerate_configs/<x>.yaml: `toolkit run` relaunches itself with it."
    )


class OutputSection(Section):
    dir: str
    overwrite: bool = False


class HubSection(Section):
    push: bool = False
    repo_id: str | None = None
    private: bool = True
    license: str = "apache-2.0"

    @field_validator("repo_id")
    @classmethod
    def _repo_id_push_takes(cls, repo_id: str | None) -> str | None:

        problem = repo_id_problem(repo_id) if repo_id is not None else None
        if problem:
            raise ValueError(f"hub.repo_id '{repo_id}' is not a Hub repository id: {problem}")
        return repo_id


class Recipe(Section):
    # Top-level keys beyond the fields below are the sections a task declares as its own (bert_pretrain's
    # mlm): the schema knows no task, so it keeps them as given, and toolkit.registry.check_recipe
    # validates them with the task's section class (refusing keys that are no task's section).
    model_config = ConfigDict(extra="allow")

    task: str
    description: str = ""
    seed: int = Field(42, ge=0, lt=SEED_LIMIT, description="Seeds python, numpy and torch (0 <= seed < 2**32).")
    data: DataSection
    tokenizer: TokenizerSection | None = Field(
        None, description="How to get the tokenizer; absent with model.init_from, which brings its own."
    )
    model: ModelSection
    train: TrainSection = Field(default_factory=TrainSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    launch: LaunchSection = Field(default_factory=LaunchSection)
    output: OutputSection
    hub: HubSection = Field(default_factory=HubSection)
    peft: PeftSection | None = None

    @model_validator(mode="after")
    def _check_sections(self) -> Recipe:
        # Rules between sections of the schema itself; what the family and the task say about the
        # recipe is checked by toolkit.registry.check_recipe, so the schema imports neither.
        if self.model.init_from:
            if self.tokenizer is not None:
                raise ValueError(
                    "model.init_from brings its own tokenizer, so the recipe must not have a tokenizer "
                    "section: a newly trained tokenizer would not match the pretrained embeddings"
                )
        else:
            self.tokenizer = self.tokenizer or TokenizerSection()
            if self.peft is not None:
                raise ValueError("peft (LoRA) adapts a pretrained model: set model.init_from")
        if self.hub.push and not self.hub.repo_id:
            raise ValueError("hub.push is true but hub.repo_id is not set (e.g. user/my-model)")
        return self

    @property
    def task_sections(self) -> dict[str, Any]:
        """The task's own top-level sections (name -> section; as given until check_recipe validates them)."""
        return dict(self.model_extra or {})

    def to_yaml(self) -> str:
        """The resolved recipe as YAML; loading it again gives the same recipe."""
        data = self.model_dump(mode="json", by_alias=True)
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


# ---------------------------------------------------------------------------------------------
# Loading


# Search spaces of `toolkit sweep` live next to the recipes they tune (recipes/word2vec/x.sweep.yaml);
# they are not recipes, so listings and recipe names skip them.
SWEEP_SPACE_SUFFIX = ".sweep.yaml"


def bundled_recipes() -> list[Path]:
    """The bundled recipe files, sorted (search-space files next to them left out)."""
    return [p for p in sorted(bundled_dir("recipes").rglob("*.yaml")) if not p.name.endswith(SWEEP_SPACE_SUFFIX)]


def find_recipe(name_or_path: str | Path) -> Path:
    """A recipe path as given, or a bundled one (``gpt2/tiny_pretrain`` or with .yaml)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    recipes = bundled_dir("recipes")
    for candidate in (recipes / path, recipes / f"{path}.yaml"):
        if candidate.is_file():
            return candidate
    known = [str(p.relative_to(recipes).with_suffix("")) for p in bundled_recipes()]
    raise RecipeError(
        f"Recipe '{name_or_path}' not found: no such file, and no bundled recipe of that name"
        f"{did_you_mean(str(name_or_path).removesuffix('.yaml'), known)}. "
        f"Bundled recipes: {', '.join(known)} (see `toolkit recipes`)."
    )


def parse_override(text: str) -> tuple[list[str], Any]:
    """``train.max_steps=200`` -> (['train', 'max_steps'], 200); values are parsed as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise RecipeError(
            f"Override '{text}' is not of the form dotted.key=value (e.g. train.max_steps=200)."
        )
    try:
        value = load_user_yaml(raw) if raw else None
    except DuplicateKeyError as exc:
        raise RecipeError(f"Override '{text}': the value{describe_yaml_error(exc)}.") from None
    except yaml.YAMLError:
        value = raw  # not YAML: the text itself
    return key.split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Set each dotted ``key=value`` in a plain recipe dict (in place) and return it."""
    for text in overrides:
        keys, value = parse_override(text)
        set_dotted(data, keys, value, f"Override '{text}'")
    return data


def set_dotted(data: dict, keys: list[str], value: Any, what: str) -> None:
    """Set ``value`` at the dotted path ``keys`` of a plain recipe dict, making missing sections
    (``what`` names the setting in the error when the path runs through a value)."""
    node = data
    for depth, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise RecipeError(f"{what}: '{'.'.join(keys[: depth + 1])}' is a value, not a section.")
        node = child
    node[keys[-1]] = value


def recipe_from_dict(data: Any, source: str = "<recipe>") -> Recipe:
    """Validate a plain dict as a recipe, turning pydantic's errors into one readable paragraph."""
    if not isinstance(data, dict):
        raise RecipeError(f"Recipe {source}: expected a YAML mapping at the top, got {type(data).__name__}.")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(f"Recipe {source} is not valid: " + "; ".join(describe_errors(exc, Recipe)) + ".") from None


def recipe_data(name_or_path: str | Path, overrides: list[str] | None = None) -> tuple[Path, Any]:
    """A recipe file (path or bundled name) and its plain data with the overrides applied, not yet
    validated (`toolkit sweep` sets its trials' values in this data)."""
    path = find_recipe(name_or_path)
    if path.name.endswith(SWEEP_SPACE_SUFFIX):
        stem = path.name.removesuffix(SWEEP_SPACE_SUFFIX)
        raise RecipeError(f"{path} is a search space of `toolkit sweep`, not a recipe: search with it by "
                          f"`toolkit sweep {path.with_name(stem + '.yaml')} --space {path}`.")
    data = read_user_yaml(path, RecipeError, "Recipe")
    if data is not None and not isinstance(data, dict):
        return path, data  # not a mapping: recipe_from_dict names the problem
    return path, apply_overrides(data or {}, list(overrides or []))


def read_recipe(name_or_path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a recipe file (path or bundled name) against the schema; the
    family's and task's checks are ``toolkit.registry.check_recipe`` (``registry.load_recipe``: both)."""
    path, data = recipe_data(name_or_path, overrides)
    return recipe_from_dict(data, source=str(path))


def describe_errors(exc: ValidationError, schema: type[BaseModel], at: tuple[str, ...] = ()) -> list[str]:
    """One phrase per problem of ``exc`` (raised validating ``schema``), naming each key dotted from
    the recipe's top (``at``: where ``schema`` sits in the recipe, e.g. ('mlm',) for a task's section)."""
    return [_describe(err, schema, at) for err in exc.errors()]


def unknown_key(key: str, allowed: list[str]) -> str:
    """The phrase for a key the recipe may not have there, with a did-you-mean and what is allowed."""
    return f"unknown key '{key}'{did_you_mean(key.rpartition('.')[2], allowed)}; allowed here: {', '.join(allowed)}"


def _fields_at(loc: tuple, schema: type[BaseModel]) -> list[str]:
    """Field names allowed at an error location, walking the schema classes."""
    model: type[BaseModel] | None = schema
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if model else None
        if field is None:
            field = next((f for f in (model.model_fields.values() if model else []) if f.alias == part), None)
        annotation = field.annotation if field else None
        if get_origin(annotation) in (Union, types.UnionType):  # an optional section (tokenizer, peft)
            annotation = next((a for a in get_args(annotation) if a is not type(None)), None)
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if model is None:
            return []
    return [f.alias or name for name, f in model.model_fields.items()] if model else []


def _describe(err: dict, schema: type[BaseModel], at: tuple[str, ...]) -> str:
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in at + loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        return unknown_key(key, _fields_at(loc, schema))
    if kind == "missing":
        return f"missing required key '{key}'"
    if kind == "value_error":
        return str(err.get("ctx", {}).get("error", err["msg"]))
    got = err.get("input")
    shown = repr(got) if not isinstance(got, dict) else "a mapping"
    return f"'{key}': {err['msg'].lower()} (got {shown})" if key else err["msg"]
