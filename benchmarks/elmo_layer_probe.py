"""How much a label each layer of a trained biLM carries, independent of head training.

    python benchmarks/elmo_layer_probe.py runs/elmo-tiny-bilm-pd98 [--card product_reviews_sentiment]
        [--train-rows 4000] [--split validation] [--vectors runs/word2vec-sg-char-pd98]

For every layer (0 = the token embeddings, then each LSTM layer, forward and backward
concatenated) the features of each text are mean-pooled over its characters, standardised, and
a logistic regression (scikit-learn; `pip install -e ".[bench]"`) is fitted on the first
``--train-rows`` training texts and scored on the split. The same is done for all layers
concatenated and, with ``--vectors``, for mean-pooled static word2vec vectors. This is the
linear-probe view of what the elmo_classify head (softmax mix + small MLP, trained by SGD) can
reach.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from toolkit.data import load_corpus  # noqa: E402
from toolkit.families import ensure_registered  # noqa: E402
from toolkit.tokenization import load_tokenizer  # noqa: E402

ensure_registered()  # the elmo Auto classes


def pooled_layers(model, tokenizer, texts: list[str], max_chars: int, batch_size: int = 64) -> np.ndarray:
    """(layers, texts, width): each layer's states averaged over the real characters of each text."""
    pooled = []
    for start in range(0, len(texts), batch_size):
        ids = [tokenizer.convert_tokens_to_ids(list(text[:max_chars])) or [tokenizer.unk_token_id]
               for text in texts[start : start + batch_size]]
        longest = max(map(len, ids))
        input_ids = torch.full((len(ids), longest), tokenizer.pad_token_id)
        mask = torch.zeros_like(input_ids)
        for row, tokens in enumerate(ids):
            input_ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
        with torch.no_grad():
            layers = model(input_ids=input_ids, attention_mask=mask).layers  # (layers, batch, seq, width)
        weights = mask[None, :, :, None].float()
        pooled.append(((layers * weights).sum(2) / weights.sum(2)).numpy())
    return np.concatenate(pooled, axis=1)


def static_vectors(vectors, texts: list[str]) -> np.ndarray:
    """Mean of the word2vec vectors of each text's characters (zeros when none is known)."""
    rows = []
    for text in texts:
        known = [vectors[char] for char in text if char in vectors.key_to_index]
        rows.append(np.mean(known, axis=0) if known else np.zeros(vectors.vector_size, dtype=np.float32))
    return np.stack(rows)


def probe(train_x, train_y, test_x, test_y) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    classifier = LogisticRegression(max_iter=3000).fit(scaler.transform(train_x), train_y)
    return classifier.score(scaler.transform(test_x), test_y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bilm", help="a run folder of task bilm")
    parser.add_argument("--card", default="product_reviews_sentiment")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--train-rows", type=int, default=4000)
    parser.add_argument("--max-chars", type=int, default=128)
    parser.add_argument("--vectors", help="a word2vec run folder or vectors file to probe as well")
    args = parser.parse_args()

    from transformers import AutoModel

    model = AutoModel.from_pretrained(args.bilm).eval()
    tokenizer = load_tokenizer(args.bilm)
    corpus = load_corpus(args.card, view="text_label")
    train = corpus["train"].select(range(min(args.train_rows, len(corpus["train"]))))
    test = corpus[args.split]
    start = time.perf_counter()
    train_x = pooled_layers(model, tokenizer, train["text"], args.max_chars)
    test_x = pooled_layers(model, tokenizer, test["text"], args.max_chars)
    names = ["embedding"] + [f"lstm_{k}" for k in range(1, len(train_x))]
    print(f"{args.bilm}: {len(train)} training texts, {len(test)} {args.split} texts of {args.card}")
    print(f"{'features':<22} accuracy")
    for name, layer_train, layer_test in zip(names, train_x, test_x):
        print(f"{name:<22} {probe(layer_train, train['label'], layer_test, test['label']):.3f}")
    concat = probe(np.concatenate(list(train_x), -1), train["label"], np.concatenate(list(test_x), -1), test["label"])
    print(f"{'all layers, concat':<22} {concat:.3f}")
    if args.vectors:
        from toolkit.embeddings import load_vectors

        vectors = load_vectors(args.vectors)
        accuracy = probe(static_vectors(vectors, train["text"]), train["label"],
                         static_vectors(vectors, test["text"]), test["label"])
        print(f"{'word2vec (static)':<22} {accuracy:.3f}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
