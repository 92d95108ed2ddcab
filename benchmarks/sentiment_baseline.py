"""Sentiment accuracy of fine-tuned run folders next to a TF-IDF + logistic regression baseline,
all on the same held-out split of the same card.

    python benchmarks/sentiment_baseline.py [RUN_DIR ...] [--card product_reviews_sentiment] [--split test]

The baseline (character 1-2-grams, scikit-learn; `pip install -e ".[bench]"`) is the one of
`toolkit baseline` (toolkit.baselines.tfidf), trained on the card's train split; each run folder is
scored with `toolkit.evaluate`, which also appends the result to the run's metrics and model card.
`toolkit baseline RECIPE` does the same from recipes; this script takes run folders and any card.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import toolkit  # noqa: E402
from toolkit.baselines.tfidf import fit_predict  # noqa: E402
from toolkit.data import load_corpus  # noqa: E402
from toolkit.metrics import load_metric  # noqa: E402


def tfidf_baseline(card: str, split: str) -> tuple[dict[str, float], float]:
    corpus = load_corpus(card, view="text_label")
    start = time.perf_counter()
    predicted = fit_predict(corpus["train"]["text"], corpus["train"]["label"], corpus[split]["text"])
    seconds = time.perf_counter() - start
    gold = corpus[split]["label"]
    return {**load_metric("accuracy").compute(predictions=predicted, references=gold),
            **load_metric("macro_f1").compute(predictions=predicted, references=gold)}, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="*", help="sequence-classification run folders to score")
    parser.add_argument("--card", default="product_reviews_sentiment")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    rows = []
    baseline, seconds = tfidf_baseline(args.card, args.split)
    rows.append(("TF-IDF char 1-2-grams + logistic regression", baseline, seconds))
    for run_dir in args.run_dirs:
        start = time.perf_counter()
        result = toolkit.evaluate(run_dir, card=args.card, split=args.split)
        rows.append((run_dir, result, time.perf_counter() - start))
    print(f"\n{args.card}, {args.split} split")
    print(f"{'model':48s} {'accuracy':>9s} {'macro-F1':>9s} {'seconds':>8s}")
    for name, result, took in rows:
        print(f"{name[-48:]:48s} {result['accuracy']:9.4f} {result['macro_f1']:9.4f} {took:8.1f}")


if __name__ == "__main__":
    main()
