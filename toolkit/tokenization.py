"""Tokenizers trained from a corpus with the `tokenizers` library, saved as fast tokenizers.

char: every character is a token (CJK characters one each, as in bert-base-chinese; Latin letters
and digits one each too). byte_bpe: GPT-2 style byte-level BPE, never an unknown token.
word_char: words split at spaces (pinyin syllables, English words) and every CJK character and
punctuation mark on its own, for seq2seq pairs such as pinyin -> characters or English -> Chinese.
The vocabulary is padded with ``[unused N]`` tokens to a multiple of 64 so the embedding and
output matrices have fast shapes, and so the model's vocabulary equals ``len(tokenizer)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from .errors import ToolkitError
from .families import ensure_registered
from .recipe import TokenizerSettings

BPE_DEFAULT_VOCAB = 8000


def _batches(texts, batch_size: int = 1000) -> Iterator[list[str]]:
    """Batches of strings; a Dataset is read batch by batch from its Arrow table (the 'text' column
    only), so the corpus is never one Python list."""
    if hasattr(texts, "column_names"):
        for batch in texts.select_columns(["text"]).with_format("arrow").iter(batch_size=batch_size):
            yield batch["text"].to_pylist()
        return
    for start in range(0, len(texts), batch_size):
        yield texts[start : start + batch_size]


def _char_tokenizer(spec: TokenizerSettings, specials: list[str]) -> tuple[Tokenizer, trainers.Trainer]:
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    # Every character, whitespace included, is its own token; Fuse joins them back without spaces.
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    trainer = trainers.WordLevelTrainer(
        vocab_size=spec.vocab_size or 1_000_000, min_frequency=spec.min_frequency,
        special_tokens=specials, show_progress=False,
    )
    return tokenizer, trainer


def _byte_bpe_tokenizer(spec: TokenizerSettings, specials: list[str]) -> tuple[Tokenizer, trainers.Trainer]:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size or BPE_DEFAULT_VOCAB, min_frequency=max(spec.min_frequency, 2),
        special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    return tokenizer, trainer


# CJK ideographs (with extension A and compatibility forms) and CJK / full-width punctuation.
_CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]"


def _word_char_tokenizer(spec: TokenizerSettings, specials: list[str]) -> tuple[Tokenizer, trainers.Trainer]:
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    # Metaspace marks every word with a leading "▁" (as SentencePiece does), so a syllable or word is
    # the same token wherever it stands and decoding puts the spaces back between words. The mark is
    # dropped before a Chinese character, which is its own token with or without a space before it
    # (decoding then joins "world 中国" as "world中国": spaces before Chinese characters are lost).
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        pre_tokenizers.Split(Regex(f"▁(?={_CJK})"), behavior="removed"),
        pre_tokenizers.Split(Regex(_CJK), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"▁?[^\w\s▁]"), behavior="isolated"),  # punctuation, one mark a token
    ])
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.WordLevelTrainer(
        vocab_size=spec.vocab_size or 1_000_000, min_frequency=spec.min_frequency,
        special_tokens=specials, show_progress=False,
    )
    return tokenizer, trainer


BUILDERS = {"char": _char_tokenizer, "byte_bpe": _byte_bpe_tokenizer, "word_char": _word_char_tokenizer}


def train_tokenizer(spec: TokenizerSettings, texts, special_tokens: dict[str, str]) -> PreTrainedTokenizerFast:
    """Train a tokenizer on ``texts`` (a Dataset with a 'text' column, or a list of strings).

    ``special_tokens`` maps roles (bos_token, pad_token ...) to token strings, as a model family
    declares them; they get the first ids.
    """
    specials = list(dict.fromkeys(special_tokens.values()))
    tokenizer, trainer = BUILDERS[spec.kind](spec, specials)
    tokenizer.train_from_iterator(_batches(texts), trainer=trainer, length=len(texts))
    if tokenizer.get_vocab_size() <= len(specials):
        raise ToolkitError("The tokenizer learned no tokens: the training text is empty.")
    _pad_vocabulary(tokenizer, spec.pad_to_multiple_of)
    if "cls_token" in special_tokens and "sep_token" in special_tokens:
        _add_cls_sep(tokenizer, special_tokens["cls_token"], special_tokens["sep_token"])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **special_tokens)


def _add_cls_sep(tokenizer: Tokenizer, cls: str, sep: str) -> None:
    """BERT-style framing: [CLS] A [SEP] and [CLS] A [SEP] B [SEP] with segment ids 0/1."""
    ids = [(cls, tokenizer.token_to_id(cls)), (sep, tokenizer.token_to_id(sep))]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1", special_tokens=ids
    )


def _pad_vocabulary(tokenizer: Tokenizer, multiple: int) -> None:
    size = tokenizer.get_vocab_size()
    extra = -size % multiple
    if extra:
        tokenizer.add_special_tokens([f"[unused{i}]" for i in range(extra)])


def unused_token_ids(tokenizer) -> list[int]:
    """Ids of the padding tokens, which generation must never produce."""
    vocab = tokenizer.get_vocab()
    return sorted(i for token, i in vocab.items() if token.startswith("[unused"))


def load_tokenizer(path: str | Path, special_tokens: dict[str, str] | None = None, trust_remote_code: bool = False):
    """A tokenizer from a folder (a run, or any HF model folder) or a Hub id; the folder's own
    tokenizer code runs only when the user opted in (``toolkit.pretrained.remote_code_trust``)."""
    ensure_registered()  # a folder whose tokenizer names no class is read through its config's model type
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ToolkitError(
            f"Could not load a tokenizer from '{path}': {exc}. Give a folder with tokenizer.json "
            f"(such as a run directory) or a Hub model id (needs network access)."
        ) from None
    missing = {role: tok for role, tok in (special_tokens or {}).items() if getattr(tokenizer, role, None) is None}
    if missing:
        tokenizer.add_special_tokens(missing)
    return tokenizer


def unknown_rate(tokenizer, texts: list[str]) -> float:
    """Share of tokens that are the unknown token: a tokenizer that floods [UNK] is broken."""
    unk = tokenizer.unk_token_id
    ids = [i for text in texts for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
    return sum(i == unk for i in ids) / max(len(ids), 1) if unk is not None else 0.0
