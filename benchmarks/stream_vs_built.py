"""The same causal-LM recipe trained from a local jsonl glob built whole and streamed: validation loss at equal steps.

    python benchmarks/stream_vs_built.py [--steps 300] [--seeds 42] [--folder /tmp/stream_vs_built]

People's Daily's paragraphs (the bundled card) are shuffled with a fixed seed (a stream is read in
file order, so a corpus meant for streaming is shuffled once when it is written) and written to
4 train jsonl files plus a validation file of every 50th paragraph, in a temporary folder (never
committed). One card names them; the streamed run only adds ``data.streaming=true``. Both train a
char tokenizer, the small GPT-2 below, and evaluate on the whole validation file.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

MODEL = [
    "model.config={n_layer: 2, n_head: 4, n_embd: 128, n_positions: 64}",
    "data.block_size=64", "train.batch_size=16", "train.eval_every=100000", "train.save_every=100000",
    "train.log_every=50", "eval.max_batches=null", "eval.samples=[]", "train.schedule.warmup_steps=30",
]


def write_corpus(folder: Path) -> Path:
    from toolkit.data import load_corpus

    corpus = load_corpus("peoples_daily_1998", view="text")
    texts = [t for split in corpus.values() for t in split["text"]]
    random.Random(0).shuffle(texts)
    held, train = texts[::50], [t for i, t in enumerate(texts) if i % 50]
    folder.mkdir(parents=True, exist_ok=True)
    for part in range(4):
        rows = train[part::4]
        (folder / f"train-{part}.jsonl").write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in rows),
                                                   encoding="utf-8")
    (folder / "validation.jsonl").write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in held),
                                             encoding="utf-8")
    card = folder / "card.yaml"
    card.write_text(f"name: pd98_jsonl\ndescription: People's Daily paragraphs, shuffled, as jsonl\nsource:\n"
                    f"  files: {{train: '{folder}/train-*.jsonl', validation: '{folder}/validation.jsonl'}}\n"
                    f"  format: jsonl\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in folder.glob("*.jsonl"))
    print(f"corpus: {len(train):,} train and {len(held):,} validation paragraphs, {size / 1e6:.1f} MB in {folder}")
    return card


def main() -> None:
    import toolkit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/stream_vs_built"))
    args = parser.parse_args()
    card = write_corpus(args.folder / "corpus")
    rows = []
    for seed in args.seeds:
        for streaming in (False, True):
            out = args.folder / f"run-{'stream' if streaming else 'built'}-{seed}"
            if (out / "metrics.json").is_file():  # finished by an earlier call: read, not trained again
                from toolkit.reporting.metrics import read_metrics

                metrics, seconds = read_metrics(out), float("nan")
                final = metrics["final"]
                rows.append((seed, "streamed" if streaming else "built", final["loss"], final["perplexity"],
                             metrics["vocab_size"], metrics["train"]["tokens_per_second"], seconds))
                continue
            start = time.perf_counter()
            result = toolkit.run("gpt2/tiny_pretrain", overrides=[
                *MODEL, f"data.card={card}", f"data.streaming={str(streaming).lower()}", f"train.max_steps={args.steps}",
                f"seed={seed}", f"output.dir={out}"])
            seconds = time.perf_counter() - start
            final = result.metrics["final"]
            rows.append((seed, "streamed" if streaming else "built", final["loss"], final["perplexity"],
                         result.metrics["vocab_size"], result.metrics["train"]["tokens_per_second"], seconds))
    print(f"\n{'seed':>5} {'data':>9} {'val loss':>9} {'val ppl':>9} {'vocab':>6} {'train tok/s':>12} {'wall s':>7}")
    for seed, kind, loss, ppl, vocab, speed, seconds in rows:
        print(f"{seed:>5} {kind:>9} {loss:>9.4f} {ppl:>9.2f} {vocab:>6} {speed:>12.0f} {seconds:>7.0f}")


if __name__ == "__main__":
    main()
