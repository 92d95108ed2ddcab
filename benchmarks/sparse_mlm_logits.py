"""What computing MLM logits only at the masked positions saves: bert_preln pretraining steps with
dense logits (every position projected onto the vocabulary, as transformers' BertForPreTraining
does) and with ``logits_at_labels_only`` (what the toolkit's bert_pretrain loop asks of bert_preln),
side by side in one process.

Both sides train the same model (one copy of the weights, the same AdamW) on the same random
batches with 15% of positions to predict; rounds alternate dense and sparse so that load changes
on a shared machine hit both. Printed: the median step time of each side and their ratio.

    python benchmarks/sparse_mlm_logits.py [--size tiny] [--hidden-size N] [--heads N] [--vocab-size 6000]
        [--batch-size 32] [--block-size 32] [--steps 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from toolkit import registry  # noqa: E402


def build_model(size: str, hidden_size: int | None, heads: int | None, vocab_size: int):
    from toolkit.families.bert_preln.configuration_bert_preln import BertPreLNConfig
    from toolkit.families.bert_preln.modeling_bert_preln import BertPreLNForPreTraining

    shape = dict(registry.family("bert_preln").sizes[size])
    if hidden_size:  # as the bundled recipe narrows the tiny size: a 4x feed-forward, the preset's heads
        shape.update(hidden_size=hidden_size, intermediate_size=4 * hidden_size)
    if heads:
        shape["num_attention_heads"] = heads
    if shape["hidden_size"] % shape["num_attention_heads"]:
        raise SystemExit(f"--hidden-size {shape['hidden_size']} is not a multiple of the "
                         f"{shape['num_attention_heads']} attention heads: set --heads.")
    return BertPreLNForPreTraining(BertPreLNConfig(vocab_size=vocab_size, **shape))


def random_batch(vocab_size: int, batch_size: int, block_size: int, generator: torch.Generator) -> dict:
    ids = torch.randint(5, vocab_size, (batch_size, block_size), generator=generator)
    labels = torch.full_like(ids, -100)
    chosen = torch.rand(ids.shape, generator=generator) < 0.15
    labels[chosen] = ids[chosen]
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels,
            "next_sentence_label": torch.randint(0, 2, (batch_size,), generator=generator)}


def time_steps(model, optimizer, batches: list[dict], sparse: bool) -> list[float]:
    times = []
    for batch in batches:
        start = time.perf_counter()
        loss = model(**batch, logits_at_labels_only=sparse).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="tiny", help="bert_preln size preset (default tiny)")
    parser.add_argument("--hidden-size", type=int, default=None, help="override the preset's width")
    parser.add_argument("--heads", type=int, default=None, help="override the preset's attention heads")
    parser.add_argument("--vocab-size", type=int, default=6000, help="about the bundled mix card's char vocabulary")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per side per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = build_model(args.size, args.hidden_size, args.heads, args.vocab_size).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    batches = [random_batch(args.vocab_size, args.batch_size, args.block_size, generator) for _ in range(args.steps)]
    time_steps(model, optimizer, batches[:3], sparse=False)  # warm-up
    time_steps(model, optimizer, batches[:3], sparse=True)
    dense, sparse = [], []
    for _ in range(args.rounds):
        dense += time_steps(model, optimizer, batches, sparse=False)
        sparse += time_steps(model, optimizer, batches, sparse=True)
    d, s = statistics.median(dense), statistics.median(sparse)
    print(f"bert_preln {args.size} (hidden {model.config.hidden_size}, {model.config.num_attention_heads} heads), "
          f"vocab {args.vocab_size}, "
          f"batch {args.batch_size} x {args.block_size}, {torch.get_num_threads()} threads, "
          f"{args.rounds} x {args.steps} steps per side, load average {os.getloadavg()[0]:.2f}")
    print(f"| logits | median step (s) |\n|---|---|\n| every position | {d:.4f} |\n| masked positions only | {s:.4f} |")
    print(f"sparse / dense step time: {s / d:.2f}")


if __name__ == "__main__":
    main()
