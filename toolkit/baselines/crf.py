"""Token classification baseline: a linear-chain CRF (sklearn-crfsuite) over character features,
on exactly the chunks and characters the neural task scores.

Same chunks: the token_classification task's own ``tag_rows`` cuts each row into pieces of
data.block_size minus the tokenizer's special tokens ([CLS]/[SEP] for BERT, none for ELMo's
characters), with the same tag scheme (ner, pos, cws). Same characters: the task scores a
character only when the tokenizer gives it a first token within data.block_size (a space gets
none), so the CRF tags the whole chunk but only those characters are scored, with the task's own
mapping of tags to its labels (an unseen POS tag counts as "O"/the first label). Same metrics:
the toolkit's entity_f1 (NER) and accuracy over the kept characters, as ``score_tagger`` computes.
"""

from __future__ import annotations

import time
import unicodedata

from .common import BaselineResult, limit_note, recipe_tokenizer, require, scored_positions

# L1 + L2 regularised L-BFGS, capped at 60 iterations so the fit on peoples_daily_1998 NER (~15k
# chunks) stays within a few CPU minutes; c1 > 0 prunes the many rare bigram features. Not tuned:
# more iterations may gain a little F1 at proportionally more time.
CRF_SETTINGS = {"algorithm": "lbfgs", "c1": 0.05, "c2": 0.01, "max_iterations": 60}


def char_type(char: str) -> str:
    if char.isdigit():
        return "digit"
    if char.isascii() and char.isalpha():
        return "latin"
    if "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff":
        return "cjk"
    if unicodedata.category(char)[0] in "PS":
        return "punct"
    return "other"


def char_features(chars: list[str]) -> list[list[str]]:
    """Per character: itself, its neighbours -2..+2, the bigrams around it and the character types
    of it and its neighbours (binary features, as python-crfsuite takes strings)."""
    padded = ["<s>", "<s>", *chars, "</s>", "</s>"]
    types = ["bos", "bos", *map(char_type, chars), "eos", "eos"]
    features = []
    for i in range(2, len(chars) + 2):
        c = padded
        t = types
        features.append([
            "bias", f"c0={c[i]}", f"c-1={c[i-1]}", f"c-2={c[i-2]}", f"c+1={c[i+1]}", f"c+2={c[i+2]}",
            f"b-2={c[i-2]}{c[i-1]}", f"b-1={c[i-1]}{c[i]}", f"b+1={c[i]}{c[i+1]}", f"b+2={c[i+1]}{c[i+2]}",
            f"b~={c[i-1]}{c[i+1]}", f"t0={t[i]}", f"t-1={t[i-1]}", f"t+1={t[i+1]}", f"t3={t[i-1]}{t[i]}{t[i+1]}",
        ])
    return features


def scored_masks(tokenizer, chunks: list[list[str]], max_length: int) -> list[list[bool]]:
    """Which characters of each chunk the task scores: those whose first token survives truncation
    (the label alignment of toolkit.tasks.token_classify.encode)."""
    masks = []
    for start in range(0, len(chunks), 1000):
        batch = chunks[start:start + 1000]
        encoded = tokenizer(batch, is_split_into_words=True, truncation=True, max_length=max_length)
        for row, chars in enumerate(batch):
            kept = [False] * len(chars)
            for index in encoded.word_ids(row):
                if index is not None:
                    kept[index] = True
            masks.append(kept)
    return masks


def fit(recipe, corpus, split: str, **options) -> BaselineResult:
    from .. import registry
    from ..data import load_card
    from ..metrics import load_metric
    from ..tasks.token_classify import tag_rows

    sklearn_crfsuite = require("sklearn_crfsuite", "sklearn-crfsuite")
    task = registry.task(recipe.task)
    scheme, max_length = recipe.data.tags, recipe.data.block_size
    tokenizer, source = recipe_tokenizer(recipe, corpus["train"], task)
    max_chars = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    labels = task.labels(recipe, load_card(recipe.data.card), corpus["train"])
    train = tag_rows(corpus["train"], scheme, max_chars)
    held_out = tag_rows(corpus[split], scheme, max_chars)
    scored = held_out.select(scored_positions(recipe, len(held_out)))
    chunks, gold_tags, used = scored["chars"], scored["tags"], len(scored)
    masks = scored_masks(tokenizer, chunks, max_length)

    start = time.perf_counter()
    crf = sklearn_crfsuite.CRF(**CRF_SETTINGS)
    # Generators: python-crfsuite copies each sequence in as it comes, so the ~15 string features
    # of every training character never sit in Python memory all at once.
    crf.fit((char_features(chars) for chars in train["chars"]), (tags for tags in train["tags"]))
    predicted_tags = [crf.predict_single(char_features(chars)) for chars in chunks]
    seconds = time.perf_counter() - start

    known = set(labels)
    fallback = "O" if "O" in known else labels[0]
    gold, predicted = [], []
    for kept, g, p in zip(masks, gold_tags, predicted_tags):
        gold.append([tag if tag in known else fallback for tag, keep in zip(g, kept) if keep])
        predicted.append([tag for tag, keep in zip(p, kept) if keep])
    metrics = {}
    if scheme == "ner":
        metrics.update(load_metric("entity_f1").compute(predictions=predicted, references=gold))
    ids = {label: i for i, label in enumerate(labels)}
    metrics.update(load_metric("accuracy").compute(predictions=[ids[t] for row in predicted for t in row],
                                                   references=[ids[t] for row in gold for t in row]))
    notes = [f"chunks of {max_chars} characters (tokenizer: {source}); {len(train):,} train chunks; "
             f"c1={CRF_SETTINGS['c1']}, c2={CRF_SETTINGS['c2']}, {CRF_SETTINGS['max_iterations']} L-BFGS iterations",
             *limit_note(recipe, used, len(held_out), "chunks")]
    return BaselineResult("linear-chain CRF (character features)", metrics, seconds, notes)
