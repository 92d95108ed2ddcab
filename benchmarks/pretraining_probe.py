"""Did pretraining teach the encoder anything a classifier can use? A linear probe of a pretrained
BERT-style run folder next to the same architecture with random weights.

    python benchmarks/pretraining_probe.py runs/bert-tiny-mix [--card product_reviews_sentiment]
        [--train-rows 8000] [--eval-rows 0] [--split validation] [--max-length 128]

Both encoders stay frozen. Each text's features are pooled three ways: the [CLS] state of the last
layer, the mean of the last layer over the text's tokens, and the mean of the token embeddings
(layer 0); a logistic regression (scikit-learn; `pip install -e ".[bench]"`) is fitted on the first
``--train-rows`` training texts (shuffled, seed 0) and scored on the split. Where the pretrained
column is no better than the random one, fine-tuning starts from nothing the pretraining learned:
pretrain longer, on more text, or start from a bigger pretrained model.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from toolkit.data import load_corpus  # noqa: E402
from toolkit.tokenization import load_tokenizer  # noqa: E402

POOLINGS = ("cls", "mean", "embeddings_mean")


def pooled_features(model, tokenizer, texts: list[str], max_length: int, batch_size: int = 64) -> dict[str, np.ndarray]:
    """POOLINGS -> (texts, width) features of a frozen encoder."""
    out = {name: [] for name in POOLINGS}
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start : start + batch_size], truncation=True, max_length=max_length,
                              padding=True, return_tensors="pt")
            states = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
            mask = batch["attention_mask"].unsqueeze(-1).float()
            last, embedded = states.hidden_states[-1], states.hidden_states[0]
            out["cls"].append(last[:, 0].numpy())
            out["mean"].append(((last * mask).sum(1) / mask.sum(1)).numpy())
            out["embeddings_mean"].append(((embedded * mask).sum(1) / mask.sum(1)).numpy())
    return {name: np.concatenate(parts) for name, parts in out.items()}


def probe_accuracy(train_x: np.ndarray, train_y, eval_x: np.ndarray, eval_y) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(probe.fit(train_x, train_y).score(eval_x, eval_y))


def probe(run_dir: str, card: str, train_rows: int, eval_rows: int, split: str, max_length: int) -> list[dict]:
    """One row per pooling: the pretrained and the random-weights encoder's probe accuracy."""
    from transformers import AutoConfig, AutoModel

    tokenizer = load_tokenizer(run_dir)
    pretrained = AutoModel.from_pretrained(run_dir).eval()
    torch.manual_seed(0)
    random = AutoModel.from_config(AutoConfig.from_pretrained(run_dir)).eval()
    corpus = load_corpus(card, view="text_label")
    train = corpus["train"].shuffle(seed=0).select(range(min(train_rows, len(corpus["train"]))))
    held_out = corpus[split] if not eval_rows else corpus[split].select(range(min(eval_rows, len(corpus[split]))))
    figures = {}
    for name, model in (("pretrained", pretrained), ("random", random)):
        train_x = pooled_features(model, tokenizer, train["text"], max_length)
        eval_x = pooled_features(model, tokenizer, held_out["text"], max_length)
        figures[name] = {pooling: probe_accuracy(train_x[pooling], train["label"], eval_x[pooling], held_out["label"])
                         for pooling in POOLINGS}
    return [{"pooling": pooling, "pretrained": figures["pretrained"][pooling], "random": figures["random"][pooling]}
            for pooling in POOLINGS]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a BERT-style run folder (e.g. runs/bert-tiny-mix)")
    parser.add_argument("--card", default="product_reviews_sentiment", help="a classification card (text_label view)")
    parser.add_argument("--train-rows", type=int, default=8000, help="training texts the probe is fitted on")
    parser.add_argument("--eval-rows", type=int, default=0, help="texts of the split it is scored on (0: all)")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--max-length", type=int, default=128, help="tokens per text (as data.block_size)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = probe(args.run_dir, args.card, args.train_rows, args.eval_rows, args.split, args.max_length)
    print(f"Linear probe on frozen features: {args.run_dir} vs the same architecture with random weights "
          f"({args.card}, {args.train_rows} training texts, {args.split} accuracy)")
    print(f"{'pooling':<16} {'pretrained':>10} {'random':>8} {'gain':>7}")
    for row in rows:
        print(f"{row['pooling']:<16} {row['pretrained']:>10.4f} {row['random']:>8.4f} {row['pretrained'] - row['random']:>+7.4f}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return rows


if __name__ == "__main__":
    main()
