"""ELMo-style biLM: the family the bilm task pretrains, and that serves the shared
sequence_classification and token_classification tasks with a head over a learned scalar mix of
the frozen biLM's layers (``heads.py``).

The models live in ``modeling_elmo.py`` and their config in ``configuration_elmo.py`` (self-contained,
copied into saved folders for ``trust_remote_code=True``); the config's fields as plain data, which
the recipe checker reads without torch, in ``config_fields_elmo.py``. This file holds the sizes, the
builder, the Auto registration and the hooks through which the shared tasks build, score and
describe ELMo's heads.
"""

from __future__ import annotations

from ...registry import TaskEntry
from ..base import DROPOUT, NON_NEGATIVE, SIZE, Allowed, DeclaredConfig, ModelFamily, register_model_type
from . import config_fields_elmo

# tiny: 2 layers, 128-wide outputs per direction (LSTM cell 512 projected to 128, as ELMo does 4096 -> 512).
SIZES = {
    "tiny": dict(num_layers=2, embedding_size=128, hidden_size=512),
    "small": dict(num_layers=2, embedding_size=256, hidden_size=1024),
}

SPECIAL_TOKENS = {
    "bos_token": "<|endoftext|>",
    "eos_token": "<|endoftext|>",
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
}

# transformers Auto class -> the ELMo model class (in modeling_elmo) it loads
AUTO_CLASSES = {
    "AutoModel": "ElmoModel",
    "AutoModelForSequenceClassification": "ElmoForSequenceClassification",
    "AutoModelForTokenClassification": "ElmoForTokenClassification",
}


def register_auto_classes() -> None:
    """Make the biLM and its downstream models loadable through transformers' Auto classes (see
    register_model_type)."""
    from . import modeling_elmo
    from .configuration_elmo import ElmoConfig

    register_model_type(ElmoConfig, {auto: getattr(modeling_elmo, name) for auto, name in AUTO_CLASSES.items()})


def build(config):
    """A randomly initialised biLM (ElmoModel)."""
    from .modeling_elmo import ElmoModel

    return ElmoModel(config)


HEAD_TASKS = ("sequence_classification", "token_classification")
NEEDS_BILM = (("model.init_from", "with the elmo family, the task trains a head over a pretrained biLM: set "
               "model.init_from to a bilm run folder (train one with recipes/elmo/tiny_bilm.yaml)"),)


def fine_tuning(recipe) -> str | None:
    """The model card's wording for a head over the frozen biLM (a trainable biLM is full fine-tuning)."""
    if recipe.task in HEAD_TASKS and recipe.model.config.get("freeze_bilm", True):
        return "a new head over the frozen biLM's learned mix of layers"
    return None


FAMILY = ModelFamily(
    name="elmo",
    tasks=("bilm", *HEAD_TASKS),
    config_class_path="toolkit.families.elmo.configuration_elmo:ElmoConfig",
    declared_config=DeclaredConfig.of(config_fields_elmo),
    sizes=SIZES,
    default_size="tiny",
    special_tokens=SPECIAL_TOKENS,
    build=build,
    register_auto_classes=register_auto_classes,
    own_tasks={"bilm": TaskEntry("toolkit.families.elmo.bilm:TASK", streams=True)},
    task_models=dict.fromkeys(HEAD_TASKS, "toolkit.families.elmo.heads:head_model"),
    task_needs=dict.fromkeys(HEAD_TASKS, NEEDS_BILM),
    evaluation_extras="toolkit.families.elmo.heads:layer_weights",
    fine_tuning=fine_tuning,
    cli_commands="toolkit.families.elmo.cli:register",
    fixed_config_keys=("vocab_size", "bos_token_id", "eos_token_id", "pad_token_id"),
    model_types=("toolkit_elmo",),
    finetune_config_keys=("mix", "freeze_bilm", "head_hidden", "head_dropout"),
    config_ranges={
        **dict.fromkeys(("num_layers", "embedding_size", "hidden_size"), SIZE),
        "head_hidden": Allowed(0, integer=True),  # 0: a linear head
        **dict.fromkeys(("dropout", "head_dropout"), DROPOUT),
        "embedding_init_std": NON_NEGATIVE,
    },
)
