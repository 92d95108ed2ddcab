"""ElmoConfig's fields, choices and rules as plain data, without torch or transformers.

``configuration_elmo.py`` checks its values with ``check`` and ``CHOICES`` from here, and toolkit's
recipe checker reads the same facts without importing the config class (transformers' config base
class imports torch: seconds per ``toolkit validate``). Saved model folders get a copy of this file
(a relative import of the configuration file), so it imports nothing but the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The layers a downstream head's scalar mix combines: all of them, the token layer only, the top LSTM layer only.
MIXES = ("scalar", "embedding", "top")

# Values a text field may hold.
CHOICES = {"mix": MIXES}

# field -> (type, default): the class attributes of ElmoConfig (tests/test_elmo.py checks that they agree).
FIELDS: dict[str, tuple[Any, Any]] = {
    "vocab_size": (int, 1024),
    "embedding_size": (int, 128),
    "hidden_size": (int, 512),
    "num_layers": (int, 2),
    "dropout": (float, 0.1),
    "embedding_init_std": (float, 0.5),
    "tie_word_embeddings": (bool, True),
    "mix": (str, "scalar"),
    "freeze_bilm": (bool, True),
    "head_hidden": (int, 128),
    "head_dropout": (float, 0.2),
    "bilm_from": (str | None, None),
    "bos_token_id": (int | None, None),
    "eos_token_id": (int | None, None),
    "pad_token_id": (int | None, None),
}


def check(values: Mapping[str, Any]) -> None:
    """Raise ValueError when ``values`` (every field) break a rule of ElmoConfig."""
    for key, allowed in CHOICES.items():
        if values[key] not in allowed:
            raise ValueError(f"{key} must be one of {', '.join(allowed)}, got '{values[key]}'")
    # The LSTM cell is projected down to the output width, never up.
    if values["hidden_size"] < values["embedding_size"]:
        raise ValueError(f"hidden_size ({values['hidden_size']}) must be >= embedding_size ({values['embedding_size']})")
