"""Starting from a pretrained model (fine-tuning): loading it, freezing parts, adding LoRA."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..errors import ToolkitError
from .base import ModelFamily


def resolve_source(init_from: str) -> str:
    """A local folder as an absolute path (so saved adapters point at it), else the Hub id as is."""
    path = Path(init_from).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if path.exists() or init_from.startswith((".", "/", "~")) or init_from.count("/") > 1:
        raise ToolkitError(f"model.init_from: '{init_from}' is not a folder (and not a Hub id like user/name).")
    return init_from


def load_pretrained(init_from: str, auto_class, family: ModelFamily, trust_remote_code: bool = False, **head):
    """The pretrained model behind ``init_from`` through a transformers Auto class; ``head``
    configures a new task head (num_labels, id2label ...), which starts untrained."""
    from transformers import AutoConfig

    source = resolve_source(init_from)
    try:
        # The config first: a folder of another model type gets a clear error before any weights load.
        model_type = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code).model_type
        if family.model_types and model_type not in family.model_types:
            raise ToolkitError(
                f"model.init_from: '{init_from}' is a {model_type} model, but model.family is {family.name} "
                f"(which loads {', '.join(family.model_types)}). Set model.family to match the pretrained model."
            )
        return auto_class.from_pretrained(source, trust_remote_code=trust_remote_code, **head)
    except (OSError, ValueError) as exc:
        from huggingface_hub.constants import HF_HUB_OFFLINE

        if not Path(source).is_dir() and (HF_HUB_OFFLINE or "offline" in str(exc).lower() or "connect" in str(exc).lower()):
            raise ToolkitError(
                f"model.init_from: cannot load '{init_from}': it is not a local folder and the Hugging Face "
                f"Hub cannot be reached (offline, or HF_HUB_OFFLINE=1), nor is it in the local cache. "
                f"Download it where there is network access, or point init_from at a local folder."
            ) from None
        if "trust_remote_code" in str(exc):
            raise ToolkitError(
                f"model.init_from: '{init_from}' needs its own model code; set model.trust_remote_code=true "
                f"only if you trust its source."
            ) from None
        raise ToolkitError(f"model.init_from: cannot load '{init_from}': {str(exc).splitlines()[0]}") from None


def freeze(model: torch.nn.Module, entries: list[str], family: ModelFamily) -> list[str]:
    """Turn off gradients for the named groups or parameter-name prefixes; returns frozen names."""
    frozen = []
    for entry in entries:
        pattern = family.freeze_groups.get(entry)
        matched = [
            name for name, _ in model.named_parameters()
            if (re.search(pattern, name) if pattern else name.startswith(entry))
        ]
        if not matched:
            raise ToolkitError(f"train.freeze: '{entry}' matches no parameter of the model (e.g. {next(n for n, _ in model.named_parameters())}).")
        frozen.extend(matched)
    wanted = set(frozen)
    for name, param in model.named_parameters():
        if name in wanted:
            param.requires_grad_(False)
    return frozen


def add_lora(model: torch.nn.Module, spec, family: ModelFamily, task_type: str):
    """Wrap the model with LoRA adapters (peft); only the adapters (and unfrozen heads) train."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, task_type=task_type,
        target_modules=list(spec.target_modules or family.lora_targets), **family.lora_options,
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise ToolkitError(f"peft: {exc}") from None


def parameter_counts(model: torch.nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"parameters": total, "trainable_parameters": trainable}
