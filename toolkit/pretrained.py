"""Starting from a pretrained model (fine-tuning): loading it, freezing parts, adding LoRA.

Every toolkit path that loads a model folder (tasks, `toolkit eval`, generate, predict, fill-mask,
embed) goes through this module, so importing it registers the toolkit's own model types with
transformers' Auto classes first: without that, an rnn_lm or elmo folder would not load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

from .errors import ToolkitError
from .families import ensure_registered
from .families.base import ModelFamily

ensure_registered()


@contextmanager
def no_loading_bar() -> Iterator[None]:
    """Without transformers' progress bars while a model loads: from_pretrained (transformers 5)
    draws a "Loading weights" bar on stderr, noise around a command's one line of output. The
    switch is transformers' own (utils.logging.disable_progress_bar, which also quiets
    huggingface_hub's bars); both are put back as they were, so training keeps its bars."""
    import huggingface_hub.utils as hub_utils
    from transformers.utils import logging

    was_on, hub_was_off = logging.is_progress_bar_enabled(), hub_utils.are_progress_bars_disabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            logging.enable_progress_bar()
            if hub_was_off:
                hub_utils.disable_progress_bars()


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


def loading_error(source: str, what: str, exc: Exception, command: str | None = None,
                  how_to_trust: str = "--trust-remote-code") -> ToolkitError:
    """One paragraph for a model that failed to load: code the folder needs but was not allowed to
    run (``command`` and ``how_to_trust`` name the opt-in), the offline case explained, otherwise
    the first line of transformers' message (the rest is advice for its own API)."""
    if command and "trust_remote_code" in str(exc):
        return needs_trust_error(command, source, how_to_trust)
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


def read_model_type(source: str) -> str | None:
    """``model_type`` from the config.json of a folder or Hub id, read as data: no code of the
    folder runs to learn what it is."""
    from transformers import PretrainedConfig

    config, _ = PretrainedConfig.get_config_dict(source)
    return config.get("model_type")


def is_toolkit_model_type(model_type: str | None) -> bool:
    """Whether ``model_type`` is one of the toolkit's own families (rnn_lm, elmo ...), whose
    classes this module registers with transformers' Auto classes."""
    from transformers import CONFIG_MAPPING

    return model_type in CONFIG_MAPPING and CONFIG_MAPPING[model_type].__module__.startswith("toolkit.")


def remote_code_trust(source: str, user_trusts: bool) -> bool:
    """The ``trust_remote_code`` to load ``source`` with, never None (transformers would ask
    "[y/N]" in a terminal). Only the person running the command grants it (a CLI flag, or
    model.trust_remote_code in the recipe they run), never the loaded folder or its recipe.yaml.
    A toolkit family's folder always loads through the installed, registered classes: its
    ``auto_map`` and copy of the modeling code (which anyone can edit) are never run."""
    if not user_trusts:
        return False
    return not is_toolkit_model_type(read_model_type(source))


def needs_trust_error(what: str, source: str, how_to_trust: str) -> ToolkitError:
    return ToolkitError(
        f"{what}: '{source}' needs its own Python code to load (auto_map in its config.json), and running "
        f"a folder's code was not allowed, so none of it ran. Give {how_to_trust} only if you trust where "
        f"the folder comes from."
    )


def load_model_config(source: str, user_trusts: bool = False, what: str = "model", how_to_trust: str = "--trust-remote-code"):
    """AutoConfig of ``source``, with the folder's own code only if the user trusts it."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=remote_code_trust(source, user_trusts))
    except (OSError, ValueError) as exc:
        raise loading_error(source, "the config of", exc, command=what, how_to_trust=how_to_trust) from None


def checked_init_from(init_from: str, family: ModelFamily) -> str:
    """``init_from`` resolved (``resolve_source``), once its model type, read from config.json as
    data, is one ``family`` loads: a folder of another type is refused before any of its code
    (model or tokenizer) could run."""
    source = resolve_source(init_from)
    if Path(source).is_dir():
        model_folder(source)
    try:
        model_type = read_model_type(source)
    except (OSError, ValueError) as exc:
        raise _load_error(init_from, exc, "model.trust_remote_code=true") from None
    if family.model_types and model_type not in family.model_types:
        raise ToolkitError(
            f"model.init_from: '{init_from}' is a {model_type} model, but model.family is {family.name} "
            f"(which loads {', '.join(family.model_types)}). Set model.family to match the pretrained model."
        )
    return source


class _WithoutLoadReport:
    """A logging filter that drops transformers' LOAD REPORT unless it reports a problem: tensors
    whose shapes differ (MISMATCH) or that could not be converted, which the load then fails on."""

    def filter(self, record) -> bool:
        message = record.getMessage()
        return "LOAD REPORT" not in message or "MISMATCH" in message or "CONVERSION" in message


@contextmanager
def own_load_report() -> Iterator[None]:
    """Without transformers' LOAD REPORT: from_pretrained (transformers 5) logs a table of every
    unused and every new tensor, a dozen lines on each fine-tune and sweep trial, although a
    pretraining head left out and a task head started afresh are what fine-tuning means.
    ``loading_summary`` says the same in one line. Only that report is held back, and only while
    it reports nothing wrong; every other message of the logger still shows."""
    from transformers.utils import logging

    report_logger, only_problems = logging.get_logger("transformers.modeling_utils"), _WithoutLoadReport()
    report_logger.addFilter(only_problems)
    try:
        yield
    finally:
        report_logger.removeFilter(only_problems)


def _modules(keys: list[str]) -> str:
    """Tensor names grouped by the outermost module that holds them: "lm_head, nsp_head"."""
    modules = sorted({key.rsplit(".", 1)[0] for key in keys})
    outermost = [name for name in modules if not any(name.startswith(other + ".") for other in modules)]
    return ", ".join(outermost)


def loading_summary(init_from: str, info: dict) -> str | None:
    """One line on what a load left out and what it started afresh (None for an exact load)."""
    unused, new = info.get("unexpected_keys") or [], info.get("missing_keys") or []
    resized = [key for key, *_ in info.get("mismatched_keys") or []]
    if not (unused or new or resized):
        return None
    parts = []
    if unused:
        parts.append(f"not used here: {_modules(unused)} ({len(unused)} tensors)")
    if new:
        parts.append(f"newly initialised: {_modules(new)} ({len(new)} tensors)")
    if resized:
        parts.append(f"newly initialised for another shape: {_modules(resized)} ({len(resized)} tensors)")
    return f"Loaded {init_from}; " + "; ".join(parts) + "."


def load_pretrained(init_from: str, auto_class, family: ModelFamily, trust_remote_code: bool = False,
                    how_to_trust: str = "model.trust_remote_code=true", say=print, **head):
    """The pretrained model behind ``init_from`` through a transformers Auto class; ``head``
    configures a new task head (num_labels, id2label ...), which starts untrained.
    ``trust_remote_code`` is the user's own opt-in (see ``remote_code_trust``). ``say`` prints
    the one-line ``loading_summary`` (``accelerator.print`` in training: the main process only)."""
    source = checked_init_from(init_from, family)
    # A local folder loads without the "Loading weights" bar (the summary line says what loaded);
    # a Hub id keeps its bars, which show a download's progress.
    quiet = no_loading_bar() if Path(source).is_dir() else nullcontext()
    try:
        with own_load_report(), quiet:
            model, info = auto_class.from_pretrained(
                source, trust_remote_code=remote_code_trust(source, trust_remote_code), output_loading_info=True, **head
            )
    except (OSError, ValueError) as exc:
        raise _load_error(init_from, exc, how_to_trust) from None
    except RuntimeError as exc:
        if "ignore_mismatched_sizes" not in str(exc):
            raise
        raise ToolkitError(
            f"{init_from}: some of its tensors have other shapes than the model the recipe builds from it "
            f"(the MISMATCH rows of the report above), e.g. a classifier for another number of labels or a "
            f"model.config override of a size. Start from a model with the same shapes, or drop the override."
        ) from None
    summary = loading_summary(init_from, info)
    if summary:
        say(summary)
    return model


def _load_error(init_from: str, exc: Exception, how_to_trust: str) -> ToolkitError:
    """``loading_error`` naming the recipe key the pretrained model came from."""
    return loading_error(init_from, "model.init_from", exc, command="model.init_from", how_to_trust=how_to_trust)


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
