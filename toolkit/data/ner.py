"""Named-entity tags derived from People's Daily part-of-speech tags, at the character level.

PKU tags mark person (nr), place (ns) and organisation (nt) names; a person's surname and given
name are separate words (江/nr 泽民/nr), so consecutive words with the same entity tag form one
entity. Each character gets a BIO tag, for char-token models such as ELMo over char embeddings.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import ToolkitError

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
        while end < len(chars) and cut > start + 1 and tags[cut].startswith(("I-", "E-")):
            cut -= 1  # move the cut back to an entity boundary
        yield chars[start:cut], tags[start:cut]
        start = cut


ENTITY_PREFIXES = ("B", "I", "E", "S")  # BIO (IOB2) and BIOES; O is outside any entity


def _split_tag(tag: str) -> tuple[str, str]:
    """(prefix, entity type) of a tag such as B-PER, E-LOC or O; a bare prefix has no type."""
    prefix, dash, kind = tag.partition("-")
    if tag == "O" or (prefix in ENTITY_PREFIXES and (dash or not kind)):
        return prefix, kind
    raise ToolkitError(f"Entity tag {tag!r} is not BIO or BIOES: tags are O or B-, I-, E-, S- followed by the "
                       f"entity type (such as B-PER, E-LOC).")


def entity_spans(tags: list[str]) -> set[tuple[int, int, str]]:
    """(start, end, type) of each entity in a BIO or BIOES sequence, with seqeval's default
    (lenient) reading: I- or E- continue an entity only right after a B- or I- of the same type;
    otherwise any non-O tag starts a new one (a stray I- or E- included). E- and S- end their
    entity, S- is an entity of one character, and a change of type ends an entity."""
    spans, start, previous = set(), None, ("O", "")
    for index, tag in enumerate([*tags, "O"]):
        prefix, kind = _split_tag(tag)
        continues = prefix in ("I", "E") and previous[0] in ("B", "I") and kind == previous[1]
        if start is not None and not continues:
            spans.add((start, index, previous[1]))
            start = None
        if prefix != "O" and not continues:
            start = index
        previous = (prefix, kind)
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
