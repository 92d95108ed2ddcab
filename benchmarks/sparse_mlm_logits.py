"""What two choices of the bundled bert_preln pretraining save, side by side in one process:

- ``--compare logits`` (the default): steps with dense MLM logits (every position projected onto the
  vocabulary, as transformers' BertForPreTraining does) and with ``logits_at_labels_only`` (what
  the toolkit's bert_pretrain loop asks of bert_preln). Both sides train the same model (one copy
  of the weights, the same AdamW).
- ``--compare dropout``: steps (sparse logits) of a model with BERT's dropout (0.1 on the hidden
  states and the attention weights) and of the same weights without any, as the bundled recipe
  pretrains. Each side has its own copy and AdamW.

Every side trains on the same random batches with 15% of positions to predict; rounds alternate
the sides so that load changes on a shared machine hit both. Printed: the median step time of each
side and their ratio.

    python benchmarks/sparse_mlm_logits.py [--compare logits|dropout] [--size tiny] [--hidden-size N]
        [--heads N] [--vocab-size 6000] [--batch-size 32] [--block-size 32] [--steps 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from toolkit import registry  # noqa: E402


def build_model(size: str, hidden_size: int | None, heads: int | None, vocab_size: int, dropout: float = 0.1):
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
    return BertPreLNForPreTraining(BertPreLNConfig(vocab_size=vocab_size, hidden_dropout_prob=dropout,
                                                   attention_probs_dropout_prob=dropout, **shape))


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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", choices=("logits", "dropout"), default="logits",
                        help="dense vs masked-position MLM logits, or dropout 0.1 vs none (default logits)")
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
    if args.compare == "logits":  # (row name, model, optimizer, sparse logits)
        header, ratio = "logits", "sparse / dense"
        sides = [("every position", model, optimizer, False), ("masked positions only", model, optimizer, True)]
    else:
        header, ratio = "dropout", "no dropout / dropout 0.1"
        plain = build_model(args.size, args.hidden_size, args.heads, args.vocab_size, dropout=0.0).train()
        plain.load_state_dict(model.state_dict())
        sides = [("0.1 (BERT's)", model, optimizer, True),
                 ("none", plain, torch.optim.AdamW(plain.parameters(), lr=1e-4), True)]
    generator = torch.Generator().manual_seed(0)
    batches = [random_batch(args.vocab_size, args.batch_size, args.block_size, generator) for _ in range(args.steps)]
    for _, side_model, side_optimizer, sparse in sides:  # warm-up
        time_steps(side_model, side_optimizer, batches[:3], sparse)
    times: list[list[float]] = [[] for _ in sides]
    for _ in range(args.rounds):
        for side_times, (_, side_model, side_optimizer, sparse) in zip(times, sides):
            side_times += time_steps(side_model, side_optimizer, batches, sparse)
    medians = [statistics.median(side_times) for side_times in times]
    print(f"bert_preln {args.size} (hidden {model.config.hidden_size}, {model.config.num_attention_heads} heads), "
          f"vocab {args.vocab_size}, "
          f"batch {args.batch_size} x {args.block_size}, {torch.get_num_threads()} threads, "
          f"{args.rounds} x {args.steps} steps per side, load average {os.getloadavg()[0]:.2f}")
    print(f"| {header} | median step (s) |\n|---|---|")
    for (name, *_), median in zip(sides, medians):
        print(f"| {name} | {median:.4f} |")
    print(f"{ratio} step time: {medians[1] / medians[0]:.2f}")


if __name__ == "__main__":
    main()
