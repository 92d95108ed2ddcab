"""A seq2seq run's tokenizer per side (``tokenizer.per_side``): the source side's and the target side's.

The runner, every task hook and ``save_pretrained`` pass one tokenizer around: the source tokenizer,
which is the run folder's own (what ``AutoTokenizer`` loads and the encoder reads). The target
tokenizer, which encodes the labels and decodes the output, travels with it as its
``target_tokenizer`` attribute and is saved in the ``target_tokenizer/`` subfolder. A run with one
shared tokenizer has no such attribute and no subfolder: ``target_side`` is then the tokenizer itself,
so the task's code reads the same either way.

Both tokenizers are trained with the same special tokens first (``seq2seq_section.SPECIAL_TOKENS``),
so <s>, </s>, [PAD] and [UNK] have the same ids on both sides: the model has one pad, start and end
id. ``pair`` checks it, as a tokenizer loaded with ``tokenizer.from`` could break it.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ToolkitError
from .families import ensure_registered

TARGET_FOLDER = "target_tokenizer"  # in a model folder: the target side's tokenizer, when it has its own
SHARED_ROLES = ("bos_token", "eos_token", "pad_token", "unk_token")


def target_side(tokenizer):
    """The tokenizer of the target side: the one that encodes labels and decodes the model's output."""
    return getattr(tokenizer, "target_tokenizer", None) or tokenizer


def has_target(tokenizer) -> bool:
    """Whether the target side has a tokenizer of its own."""
    return getattr(tokenizer, "target_tokenizer", None) is not None


def pair(source, target, where: str):
    """``source`` carrying ``target`` as its target side, once their special tokens have the same ids."""
    differ = [f"{role} {getattr(source, role)!r}: id {getattr(source, role + '_id')} (source) vs "
              f"{getattr(target, role + '_id')} (target)"
              for role in SHARED_ROLES if getattr(source, role + "_id") != getattr(target, role + "_id")]
    if differ:
        raise ToolkitError(
            f"The source and target tokenizers of {where} give special tokens different ids ({'; '.join(differ)}), "
            f"but the model has one start, end and pad id for both sides. Train both tokenizers in the recipe "
            f"(tokenizer.per_side), which puts the special tokens first on both sides."
        )
    source.target_tokenizer = target
    return source


def save_tokenizers(tokenizer, folder: str | Path) -> None:
    """Save the (source) tokenizer into ``folder`` and the target side's own into its subfolder."""
    tokenizer.save_pretrained(folder)
    if has_target(tokenizer):
        tokenizer.target_tokenizer.save_pretrained(Path(folder) / TARGET_FOLDER)


def saved_target(source: str | Path) -> str | None:
    """Where the target tokenizer of a local model folder is (None: the folder has one tokenizer)."""
    folder = Path(source).expanduser() / TARGET_FOLDER
    return str(folder) if (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file() else None


def with_saved_target(tokenizer, source: str | Path, trust_remote_code: bool = False):
    """``tokenizer`` (loaded from ``source``: a model folder or a Hub id) with the target tokenizer saved
    next to it, when there is one."""
    from transformers import AutoTokenizer

    local = Path(source).expanduser().is_dir()
    folder = saved_target(source) if local else None
    if local and folder is None:
        return tokenizer
    try:
        ensure_registered()  # a folder's tokenizer may name the toolkit's own model types
        target = (AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code) if local else
                  AutoTokenizer.from_pretrained(str(source), subfolder=TARGET_FOLDER, trust_remote_code=trust_remote_code))
    except (OSError, ValueError) as exc:
        if not local:
            return tokenizer  # a Hub model without a target tokenizer of its own
        raise ToolkitError(f"Could not load the target tokenizer in {folder}: {exc}. It is saved there by a run with "
                           f"tokenizer.per_side; restore it, or remove the folder if the run has one tokenizer.") from None
    return pair(tokenizer, target, str(source))


def check_decoder_vocabulary(config, tokenizer, where: str) -> None:
    """A model with a vocabulary per side needs the target tokenizer, and its decoder must predict
    every id the target tokenizer has (labels and decoded output are ids of that tokenizer)."""
    encoder = getattr(config, "vocab_size", None)
    decoder = getattr(config, "decoder_vocab_size", None) or encoder
    if not has_target(tokenizer) and decoder != encoder:
        raise ToolkitError(
            f"{where}: the model has a vocabulary per side (the encoder reads {encoder} tokens, the decoder writes "
            f"{decoder}), but there is one tokenizer: the target tokenizer ({TARGET_FOLDER}/ next to the model, "
            f"saved by a run with tokenizer.per_side) is missing. Copy it from the run that trained the model."
        )
    target = target_side(tokenizer)
    if decoder is not None and len(target) > decoder:
        raise ToolkitError(f"{where}: the target tokenizer has {len(target)} tokens, more than the {decoder} the "
                           f"model's decoder predicts: it is not the tokenizer the model was trained with.")
