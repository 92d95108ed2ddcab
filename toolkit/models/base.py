"""What every model family declares, so the recipe checker, tokenizer and tasks stay generic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import did_you_mean


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
    config_class: type
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
        """Raise ValueError when the config class itself rejects these values (cell: lstmm, mix: middle)."""
        if fields:
            try:
                self.config_class(**fields)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"model.config: {exc}") from None

    def check_config(self, size: str | None, overrides: dict[str, Any], block_size: int) -> None:
        """Raise ValueError for an unknown size, unknown config field or too short a context."""
        if size is not None and size not in self.sizes:
            raise ValueError(
                f"model.size: '{size}' is not a size of {self.name}{did_you_mean(size, self.sizes)}; "
                f"allowed: {', '.join(self.sizes)}"
            )
        known = set(self.config_class().to_dict())
        for key in overrides:
            if key not in known:
                raise ValueError(
                    f"model.config.{key}: not a field of {self.config_class.__name__}"
                    f"{did_you_mean(key, known)}"
                )
            if key in self.fixed_config_keys:
                raise ValueError(
                    f"model.config.{key}: set from the tokenizer; remove it from the recipe"
                )
        if self.positions_key:
            positions = self.config_fields(size, overrides).get(self.positions_key)
            if positions is not None and block_size > positions:
                raise ValueError(
                    f"data.block_size {block_size} is longer than model.config.{self.positions_key} "
                    f"{positions}; raise {self.positions_key} or lower block_size"
                )

    def config_fields(self, size: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """The size preset with the recipe's overrides on top."""
        return {**self.sizes[size or self.default_size], **overrides}

    def make_config(self, size: str | None, overrides: dict[str, Any], tokenizer) -> Any:
        """A config for a model that uses ``tokenizer`` (vocabulary size and special token ids)."""
        ids = {
            f"{role.removesuffix('_token')}_token_id": tokenizer.convert_tokens_to_ids(token)
            for role, token in self.special_tokens.items()
            if role in ("bos_token", "eos_token", "pad_token")
        }
        return self.config_class(
            **self.config_fields(size, overrides), vocab_size=len(tokenizer), **ids
        )
