"""BertPreLNConfig's fields and rules as plain data, without torch or transformers.

``configuration_bert_preln.py`` checks its values with ``check`` from here, and toolkit's recipe
checker reads the same facts without importing the config class (transformers' config base class
imports torch). Saved model folders get a copy of this file, so it imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What the sequence classifier reads: the pooled [CLS] (BERT's tanh(dense) of the first token), or
# the mean or the element-wise maximum of the token states over the attention mask.
POOLINGS = ("cls", "mean", "max")

# Values a text field may hold (hidden_act is checked against transformers' activations by the family).
CHOICES: dict[str, tuple[str, ...]] = {"classifier_pooling": POOLINGS}

# field -> (type, default): the class attributes of BertPreLNConfig (tests check that they agree).
# The names are BertConfig's, so a recipe moves between the bert and bert_preln families unchanged.
FIELDS: dict[str, tuple[Any, Any]] = {
    "vocab_size": (int, 1024),
    "hidden_size": (int, 256),
    "num_hidden_layers": (int, 4),
    "num_attention_heads": (int, 4),
    "intermediate_size": (int, 1024),
    "hidden_act": (str, "gelu"),
    "hidden_dropout_prob": (float, 0.1),
    "attention_probs_dropout_prob": (float, 0.1),
    "max_position_embeddings": (int, 512),
    "type_vocab_size": (int, 2),
    "initializer_range": (float, 0.02),
    "layer_norm_eps": (float, 1e-5),
    "classifier_dropout": (float | None, None),  # None: hidden_dropout_prob
    "classifier_pooling": (str, "cls"),
    "tie_word_embeddings": (bool, False),
    "pad_token_id": (int | None, None),
}


def check(values: Mapping[str, Any]) -> None:
    """Raise ValueError when ``values`` (every field) break a rule of BertPreLNConfig."""
    if values["classifier_pooling"] not in POOLINGS:
        raise ValueError(f"classifier_pooling must be one of {', '.join(POOLINGS)}, got '{values['classifier_pooling']}'")
    if values["hidden_size"] % values["num_attention_heads"]:
        raise ValueError(f"num_attention_heads {values['num_attention_heads']} must divide hidden_size "
                         f"{values['hidden_size']}")
