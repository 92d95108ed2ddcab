"""BERT with pre-LayerNorm sublayers and a linear masked-LM output: the bert family's tasks (MLM + NSP
pretraining, then classification and tagging) on a model whose masked LM starts learning within a
CPU budget (why: ``modeling_bert_preln.py``).

The models live in ``modeling_bert_preln.py`` and the config in ``configuration_bert_preln.py``
(copied into saved folders for ``trust_remote_code=True``); the config's fields as plain data, read
by the recipe checker without torch, in ``config_fields_bert_preln.py``. Sizes, special tokens, the
pretraining task and the recipe rules are the bert family's, so a recipe switches by its
``model.family`` alone.
"""

from __future__ import annotations

from ..base import DeclaredConfig, ModelFamily, register_model_type
from ..bert import family as bert
from . import config_fields_bert_preln


def register_auto_classes() -> None:
    """Make the models loadable through transformers' Auto classes (see register_model_type)."""
    from . import modeling_bert_preln
    from .configuration_bert_preln import BertPreLNConfig

    register_model_type(BertPreLNConfig, {auto: getattr(modeling_bert_preln, name)
                                          for auto, name in modeling_bert_preln.AUTO_CLASSES.items()})


FAMILY = ModelFamily(
    name="bert_preln",
    tasks=bert.FAMILY.tasks,
    config_class_path="toolkit.families.bert_preln.configuration_bert_preln:BertPreLNConfig",
    declared_config=DeclaredConfig.of(config_fields_bert_preln),
    sizes=bert.SIZES,
    default_size="tiny",
    special_tokens=bert.SPECIAL_TOKENS,
    build=None,  # the task's Auto class builds the head it needs
    register_auto_classes=register_auto_classes,
    positions_key="max_position_embeddings",
    fixed_config_keys=("vocab_size", "pad_token_id"),
    model_types=("toolkit_bert_preln",),
    # Head options and dropout rates on top of init_from: a model pretrained without dropout (faster,
    # and no loss when the text is read under two times) may be fine-tuned with it.
    finetune_config_keys=("classifier_pooling", "classifier_dropout", "hidden_dropout_prob",
                          "attention_probs_dropout_prob"),
    config_ranges=bert.FAMILY.config_ranges,
    divisible=bert.FAMILY.divisible,
    activation_keys=bert.FAMILY.activation_keys,
    lora_targets=bert.FAMILY.lora_targets,
    freeze_groups={  # regular expressions searched in parameter names
        "embeddings": r"^bert\.embeddings\.",
        "encoder": r"^bert\.(encoder|final_norm)\.",
        "pooler": r"^bert\.pooler\.",
    },
)
