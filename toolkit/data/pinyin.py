"""pinyin_to_chars: sentences -> (pinyin syllables, characters) pairs with syllable i <-> character i.

Readings come from pypinyin's phrase dictionary, given the corpus's own word segmentation when the
parent row has one (People's Daily: 银行/行长 read hang2 and zhang3 because they are words), else
pypinyin segments the sentence itself. A character without a reading (digit, Latin letter,
punctuation, a rare character pypinyin does not know) stands for itself as one "syllable", so the
source always has exactly as many space-separated tokens as the target has characters: the known,
monotone alignment that attention is scored against.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import DataError
from .text import sentence_split
from .transforms import PinyinOptions

Row = dict[str, Any]


def _style(name: str):
    from pypinyin import Style

    return {"tone3": Style.TONE3, "tone": Style.TONE, "normal": Style.NORMAL}[name]


def syllables(words: list[str] | str, style: str = "tone3") -> tuple[list[str], int]:
    """(one token per character, how many characters had no reading and stand for themselves)."""
    from pypinyin import lazy_pinyin

    unread = 0

    def each_char_itself(chars: str) -> list[str]:
        nonlocal unread
        unread += len(chars)
        return list(chars)

    # neutral_tone_with_five: every read syllable ends in a tone digit (le5), so a read syllable is
    # never confused with a copied letter or digit.
    tokens = lazy_pinyin(words, style=_style(style), neutral_tone_with_five=True, errors=each_char_itself)
    return tokens, unread


def pinyin_pairs(rows: Iterator[Row], options: PinyinOptions) -> Iterator[Row]:
    """Split each row into sentences (the data layer's sentence_split), keep those of
    min_chars..max_chars characters, and pair each sentence's syllables with its characters."""
    for row in rows:
        for sentence in sentence_split(row):
            text = sentence["text"]
            # A space inside the sentence could not be a token of the space-separated source.
            if not options.min_chars <= len(text) <= options.max_chars or any(c.isspace() for c in text):
                continue
            # A list is read as given words; a string is segmented by pypinyin itself (a one-item
            # list would be read as one unknown word, character by character: 高兴 -> gao1 xing1).
            tokens, unread = syllables(sentence.get("words") or text, options.style)
            if unread and options.non_chinese == "skip_sentence":
                continue
            if len(tokens) != len(text):  # the alignment the card promises; never silently broken
                raise DataError(
                    f"pinyin_to_chars: {len(tokens)} syllables for the {len(text)} characters of {text!r} "
                    f"({' '.join(tokens)}); pypinyin's output no longer maps one syllable to one character."
                )
            pair = {"source": " ".join(tokens), "target": text}
            if "document" in row:
                pair["document"] = row["document"]
            yield pair
