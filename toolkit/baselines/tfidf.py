"""Sequence classification baseline: TF-IDF over character 1-2-grams and logistic regression
(scikit-learn), fitted on the recipe's train split and scored on the rows its evaluation scores."""

from __future__ import annotations

import time

from .common import BaselineResult, limit_note, require, scored_positions


def fit_predict(train_texts: list[str], train_labels: list[int], texts: list[str]) -> list[int]:
    """Predicted labels of ``texts``. Character n-grams need no word segmentation, which suits
    Chinese; sublinear tf damps repeated characters, and min_df=2 drops n-grams seen once (the
    settings behind issue 12's 0.851 test accuracy on product_reviews_sentiment)."""
    require("sklearn", "scikit-learn")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform(train_texts)
    classifier = LogisticRegression(max_iter=2000, C=4.0).fit(features, train_labels)
    return classifier.predict(vectorizer.transform(texts)).tolist()


def fit(recipe, corpus, split: str, **options) -> BaselineResult:
    from ..metrics import load_metric

    held_out = corpus[split]
    scored = held_out.select(scored_positions(recipe, len(held_out)))
    texts, gold, used = scored["text"], scored["label"], len(scored)
    start = time.perf_counter()
    predicted = fit_predict(corpus["train"]["text"], corpus["train"]["label"], texts)
    seconds = time.perf_counter() - start
    metrics = {**load_metric("accuracy").compute(predictions=predicted, references=gold),
               **load_metric("macro_f1").compute(predictions=predicted, references=gold)}
    return BaselineResult("TF-IDF char 1-2-grams + logistic regression", metrics, seconds,
                          limit_note(recipe, used, len(held_out), "rows"))
