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


# Files a transformers tokenizer is loaded from; a folder without any of them has no tokenizer
# (AutoTokenizer would quietly build an empty one from the config's model type).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "tokenizer.model",
                   "spiece.model", "sentencepiece.bpe.model")


def _looks_like_hub_id(name: str) -> bool:
    """user/name (or a bare name), not a path: the only shapes the Hub accepts."""
    return not name.startswith((".", "/", "~")) and name.count("/") <= 1


def model_folder(path: str | Path) -> str:
    """The source to load a saved model from: a local folder with a config.json (as an absolute
    path), or a Hub id (user/name) when no such local folder exists. Anything else is a clear
    error here instead of transformers' "Repo id must be ..." or a Hub lookup of a local path."""
    name = str(path)
    if not name.strip():
        raise ToolkitError("An empty path is not a model folder: give a run folder or a Hub id like user/name.")
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ToolkitError(
                f"{name} is not a model folder (no config.json): give a toolkit run folder or a folder "
                f"written by save_pretrained, or a Hub id like user/name."
            )
        check_weight_files(folder)
        return str(folder.resolve())
    if folder.exists():
        raise ToolkitError(f"{name} is not a model folder (it is a file): give the folder that holds config.json.")
    if not _looks_like_hub_id(name):
        raise ToolkitError(f"{name} is not a model folder (no such folder): check the path.")
    return name


def hub_unreachable(exc: Exception) -> bool:
    """True for transformers' errors about a Hub id it could neither download nor find cached."""
    from huggingface_hub.constants import HF_HUB_OFFLINE

    text = str(exc).lower()
    return HF_HUB_OFFLINE or "offline" in text or "connect" in text


def loading_error(source: str, what: str, exc: Exception) -> ToolkitError:
    """One paragraph for a model that failed to load: the offline case explained, otherwise the
    first line of transformers' message (the rest is advice for its own API)."""
    if not Path(source).is_dir() and hub_unreachable(exc):
        return ToolkitError(
            f"Cannot load {what} '{source}': it is not a local folder and the Hugging Face Hub cannot be "
            f"reached (offline, or HF_HUB_OFFLINE=1), nor is it in the local cache. Download it where "
            f"there is network access, or give a local folder."
        )
    return ToolkitError(f"Cannot load {what} '{source}': {str(exc).strip().splitlines()[0]}")


def check_tokenizer_files(source: str) -> None:
    """A local model folder must carry its tokenizer: without one, generation decodes to nothing."""
    folder = Path(source)
    if folder.is_dir() and not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ToolkitError(
            f"no tokenizer files in {source} (looked for {', '.join(TOKENIZER_FILES[:3])}, ...): copy the "
            f"tokenizer of the run that trained this model into the folder (tokenizer.save_pretrained)."
        )


def check_weight_files(folder: str | Path) -> None:
    """Open the header of every safetensors file in a local folder, so a truncated, empty or garbage
    file is named here instead of failing deep inside from_pretrained."""
    from safetensors import SafetensorError, safe_open

    for weights in sorted(Path(folder).glob("*.safetensors")):
        try:
            with safe_open(str(weights), framework="pt"):
                pass
        except (SafetensorError, OSError) as exc:
            raise ToolkitError(
                f"{weights.name} in {folder} is damaged or incomplete ({str(exc).splitlines()[0]}): copy or "
                f"download the model folder again, or retrain it."
            ) from None


def load_pretrained(init_from: str, auto_class, family: ModelFamily, trust_remote_code: bool = False, **head):
    """The pretrained model behind ``init_from`` through a transformers Auto class; ``head``
    configures a new task head (num_labels, id2label ...), which starts untrained."""
    from transformers import AutoConfig

    source = resolve_source(init_from)
    if Path(source).is_dir():
        model_folder(source)
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
