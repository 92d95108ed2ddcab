"""BERT, pretrained from scratch with MLM + NSP and fine-tuned for classification and tagging.

The model classes are transformers' own (BertForPreTraining, BertForSequenceClassification,
BertForTokenClassification), chosen by each task through an Auto class, with SDPA attention.
"""

from __future__ import annotations

from ..base import DROPOUT, NON_NEGATIVE, POSITIVE, SIZE, Allowed, ModelFamily

# tiny trains on a laptop CPU in minutes; base is the 110M model of the BERT paper.
SIZES = {
    "tiny": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024,
                 max_position_embeddings=512),
    "base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072,
                 max_position_embeddings=512),
}

SPECIAL_TOKENS = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}

FAMILY = ModelFamily(
    name="bert",
    tasks=("bert_pretrain", "sequence_classification", "token_classification"),
    config_class_path="transformers.models.bert.configuration_bert:BertConfig",
    sizes=SIZES,
    default_size="tiny",
    special_tokens=SPECIAL_TOKENS,
    build=None,  # the task's Auto class builds the head it needs
    positions_key="max_position_embeddings",
    fixed_config_keys=("vocab_size", "pad_token_id"),
    model_types=("bert",),
    config_ranges={
        **dict.fromkeys(("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
                         "max_position_embeddings", "type_vocab_size"), SIZE),
        **dict.fromkeys(("hidden_dropout_prob", "attention_probs_dropout_prob"), DROPOUT),
        "classifier_dropout": Allowed(0, 1, high_open=True, optional=True),  # null: hidden_dropout_prob
        "layer_norm_eps": POSITIVE,
        "initializer_range": NON_NEGATIVE,
    },
    divisible=(("hidden_size", "num_attention_heads"),),
    activation_keys=("hidden_act",),
    lora_targets=("query", "key", "value"),
    # Dropout rates may change on top of init_from: a model pretrained without dropout (as the
    # bundled bert_preln one is) may be fine-tuned with it, and the other way round.
    finetune_config_keys=("classifier_dropout", "hidden_dropout_prob", "attention_probs_dropout_prob"),
    freeze_groups={  # regular expressions searched in parameter names
        "embeddings": r"^bert\.embeddings\.",
        "encoder": r"^bert\.encoder\.",
        "pooler": r"^bert\.pooler\.",
    },
)
