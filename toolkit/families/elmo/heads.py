"""ELMo's side of the shared sequence_classification and token_classification tasks: a small head
over a learned scalar mix of a frozen biLM's layers (Peters et al. 2018).

The recipe names the pretrained biLM run in ``model.init_from``; its weights are loaded under the
task's Auto class (ElmoForSequenceClassification / ElmoForTokenClassification), the biLM is
frozen, and only the scalar mix and the head train. The recipe's ``model.config`` may set the head
options only (the family's ``finetune_config_keys``). Each evaluation also reports the learned
layer weights.
"""

from __future__ import annotations

from ...pretrained import load_pretrained
from .family import FAMILY


def head_model(recipe, auto_class, head: dict, accelerator):
    """The biLM of ``model.init_from`` under a new head, with the biLM frozen (``freeze_bilm``)."""
    model = load_pretrained(recipe.model.init_from, auto_class, FAMILY, recipe.model.trust_remote_code,
                            say=accelerator.print, **head, bilm_from=recipe.model.init_from, **recipe.model.config)
    model.apply_freeze()  # from_pretrained may recreate parameters while loading
    accelerator.print(f"Mixing layers {model.config.mixed_layers} of the frozen biLM {recipe.model.init_from}.")
    return model


def layer_weights(model) -> dict:
    """The learned mix of a head model (nothing for the biLM itself)."""
    return {"layer_weights": model.layer_weights()} if hasattr(model, "layer_weights") else {}
