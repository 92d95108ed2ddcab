"""Character-level tags derived from a segmented, POS-tagged corpus (People's Daily 1998):
named entities (BIO, from nr/ns/nt), part of speech (each character carries its word's tag) and
word segmentation (B/M/E/S)."""

from __future__ import annotations

from .ner import NER_LABELS, char_bio

CWS_LABELS = ["B", "M", "E", "S"]


def char_pos(words: list[str], pos: list[str]) -> tuple[list[str], list[str]]:
    return [c for w in words for c in w], [t for w, t in zip(words, pos) for _ in w]


def char_cws(words: list[str], pos: list[str] | None = None) -> tuple[list[str], list[str]]:
    chars, tags = [], []
    for word in words:
        chars.extend(word)
        tags.extend(["S"] if len(word) == 1 else ["B", *["M"] * (len(word) - 2), "E"])
    return chars, tags


TAGGERS = {"ner": char_bio, "pos": char_pos, "cws": char_cws}
FIXED_LABELS = {"ner": NER_LABELS, "cws": CWS_LABELS}  # pos labels come from the corpus
