"""Sanity checks for the character NER task (issue 12: is the neural NER F1 low because the task is
hard, the pipeline is broken, or the runs are undertrained?), on the exact chunks the
token_classification task trains and scores on, with the toolkit's own entity_f1.

    python benchmarks/ner_checks.py [--split validation] [--block-size 128]

Prints the tag distribution of the train chunks, entity counts of the split, entity F1 of gold
tags as predictions (must be 1.0), of all-O (0.0), and of a lexicon baseline that takes seconds:
every entity string of two or more characters seen in train, tagged by greedy longest match.
A neural tagger below the lexicon has not yet learned what memorisation alone gets.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from toolkit.data import load_corpus  # noqa: E402
from toolkit.data.ner import char_bio, chunks, entity_f1, entity_spans  # noqa: E402


def tagged_chunks(rows, max_chars: int) -> list[tuple[list[str], list[str]]]:
    """The task's own pieces: char_bio tags cut by chunks() as token_classify.tag_rows cuts them."""
    return [piece for words, pos in zip(rows["words"], rows["pos"]) for piece in chunks(*char_bio(words, pos), max_chars)]


def lexicon_tagger(train: list[tuple[list[str], list[str]]]):
    """Entity strings of the train chunks (each with its most frequent type) -> a greedy longest-match tagger."""
    seen: dict[str, Counter] = {}
    for chars, tags in train:
        for start, end, kind in entity_spans(tags):
            seen.setdefault("".join(chars[start:end]), Counter())[kind] += 1
    lexicon = {text: kinds.most_common(1)[0][0] for text, kinds in seen.items() if len(text) >= 2}
    longest = max(map(len, lexicon))

    def tag(chars: list[str]) -> list[str]:
        tags, i = ["O"] * len(chars), 0
        while i < len(chars):
            for n in range(min(longest, len(chars) - i), 1, -1):
                kind = lexicon.get("".join(chars[i:i + n]))
                if kind:
                    tags[i:i + n] = [f"B-{kind}"] + [f"I-{kind}"] * (n - 1)
                    i += n
                    break
            else:
                i += 1
        return tags

    return tag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--card", default="peoples_daily_1998")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--block-size", type=int, default=128, help="the recipe's data.block_size ([CLS] and [SEP] take 2)")
    args = parser.parse_args()
    corpus = load_corpus(args.card, view="pos_tags")
    train, held = (tagged_chunks(corpus[s], args.block_size - 2) for s in ("train", args.split))
    counts = Counter(tag for _, tags in train for tag in tags)
    total = sum(counts.values())
    print(f"{len(train)} train chunks, {len(held)} {args.split} chunks")
    print("train tags:", ", ".join(f"{tag} {n / total:.4f}" for tag, n in counts.most_common()))
    gold = [tags for _, tags in held]
    print(f"{args.split} entities:", dict(Counter(kind for tags in gold for *_, kind in entity_spans(tags))))
    print("gold as prediction:", entity_f1(gold, gold))
    print("all O:", entity_f1(gold, [["O"] * len(tags) for tags in gold]))
    start = time.perf_counter()
    tag = lexicon_tagger(train)
    result = entity_f1(gold, [tag(chars) for chars, _ in held])
    print(f"lexicon baseline ({time.perf_counter() - start:.1f} s):", {k: round(v, 4) for k, v in result.items()})


if __name__ == "__main__":
    main()
