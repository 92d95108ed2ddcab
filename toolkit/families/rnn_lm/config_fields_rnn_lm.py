"""RnnLMConfig's fields, choices and rules as plain data, without torch or transformers.

``configuration_rnn_lm.py`` checks its values with ``check`` and ``CHOICES`` from here, and toolkit's
recipe checker reads the same facts without importing the config class (transformers' config base
class imports torch: seconds per ``toolkit validate``). Saved model folders get a copy of this file
(a relative import of the configuration file), so it imports nothing but the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CELLS = ("rnn", "lstm", "gru")  # tanh Elman RNN, LSTM, GRU

# Values a text field may hold.
CHOICES = {"cell": CELLS}

# field -> (type, default): the class attributes of RnnLMConfig (tests/test_rnn_lm.py checks that they agree).
FIELDS: dict[str, tuple[Any, Any]] = {
    "vocab_size": (int, 1024),
    "cell": (str, "lstm"),
    "num_layers": (int, 2),
    "hidden_size": (int, 256),
    "embedding_size": (int | None, None),  # None: hidden_size
    "dropout": (float, 0.1),
    "initializer_range": (float, 0.1),
    "embedding_init_std": (float, 0.5),
    "tie_word_embeddings": (bool, True),
    "use_cache": (bool, True),
    "bos_token_id": (int | None, None),
    "eos_token_id": (int | None, None),
    "pad_token_id": (int | None, None),
}


def check(values: Mapping[str, Any]) -> None:
    """Raise ValueError when ``values`` (every field) break a rule of RnnLMConfig."""
    for key, allowed in CHOICES.items():
        if values[key] not in allowed:
            raise ValueError(f"{key} must be one of {', '.join(allowed)}, got '{values[key]}'")
