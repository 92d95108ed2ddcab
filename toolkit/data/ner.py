"""Named-entity tags derived from People's Daily part-of-speech tags, at the character level.

PKU tags mark person (nr), place (ns) and organisation (nt) names; a person's surname and given
name are separate words (江/nr 泽民/nr), so consecutive words with the same entity tag form one
entity. Each character gets a BIO tag, for char-token models such as ELMo over char embeddings.
"""

from __future__ import annotations

from collections.abc import Iterator

ENTITY_OF_POS = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def char_bio(words: list[str], pos: list[str]) -> tuple[list[str], list[str]]:
    """(characters, BIO tags) of one segmented, POS-tagged row."""
    chars, tags, previous = [], [], None
    for word, tag in zip(words, pos):
        entity = ENTITY_OF_POS.get(tag)
        for index, char in enumerate(word):
            chars.append(char)
            if entity is None:
                tags.append("O")
            else:
                begins = index == 0 and entity != previous
                tags.append(f"{'B' if begins else 'I'}-{entity}")
        previous = entity
    return chars, tags


def chunks(chars: list[str], tags: list[str], max_chars: int) -> Iterator[tuple[list[str], list[str]]]:
    """Cut a long row into pieces of at most ``max_chars``, never inside an entity where avoidable."""
    start = 0
    while start < len(chars):
        end = min(start + max_chars, len(chars))
        cut = end
        while end < len(chars) and cut > start + 1 and tags[cut].startswith("I-"):
            cut -= 1  # move the cut back to an entity boundary
        yield chars[start:cut], tags[start:cut]
        start = cut


def entity_spans(tags: list[str]) -> set[tuple[int, int, str]]:
    """(start, end, type) of each entity in a BIO sequence; a stray I- starts an entity."""
    spans, start, kind = set(), None, None
    for index, tag in enumerate([*tags, "O"]):
        inside = tag.startswith("I-") and kind == tag[2:]
        if start is not None and not inside:
            spans.add((start, index, kind))
            start, kind = None, None
        if tag.startswith("B-") or (tag.startswith("I-") and not inside):
            start, kind = index, tag[2:]
    return spans


def entity_f1(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """Micro precision, recall and F1 over exact (span, type) matches, as conlleval counts them."""
    hits = n_gold = n_pred = 0
    for g, p in zip(gold, predicted):
        gs, ps = entity_spans(g), entity_spans(p)
        hits += len(gs & ps)
        n_gold += len(gs)
        n_pred += len(ps)
    precision = hits / n_pred if n_pred else 0.0
    recall = hits / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
