"""How soon does a masked LM learn to read its neighbours? A synthetic task where it must, and
nothing else helps: HF BertForMaskedLM beside PyTorch's own encoder of the same shape (and a CBOW).

    python benchmarks/mlm_neighbour_task.py [--encoders bert,torch-post,torch-pre,cbow] [--steps 400]
        [--eval-every 50] [--vocab 200] [--length 32] [--lr 1e-3] [--seed 0]

Each row is made of pairs (a, partner(a)), with ``partner`` a fixed random permutation of the
vocabulary, so a masked token is given exactly by the token beside it, and the unigram guess is
chance (1 / the number of ordinary tokens). 15% of the tokens become [MASK]. Every model is trained
with the same batches, optimizer (AdamW, lr 1e-3, 60-step warmup, clipping at 1) and seed, at the
bert family's tiny shape; accuracy at [MASK] is measured on 256 fixed held-out rows. The encoders
are in mlm_encoders.py. README, "Where the bundled recipes stand", says what the figures show.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/ is not a package
from mlm_encoders import ENCODERS, PlainTrainer, build_masked_lm  # noqa: E402

from toolkit.tasks.base import IGNORE  # noqa: E402

PAD, MASK, FIRST_ORDINARY = 0, 1, 5  # ids below FIRST_ORDINARY stand for BERT's special tokens
BATCH_SIZE, HELD_OUT_ROWS, MASKED_SHARE = 32, 256, 0.15


class NeighbourTask:
    """Rows of (a, partner(a)) pairs over ids FIRST_ORDINARY..vocab-1, masked at 15%."""

    def __init__(self, vocab: int, length: int, seed: int):
        if length % 2 or length < 2:
            raise ValueError(f"--length must be an even number of tokens (pairs), not {length}")
        if vocab <= FIRST_ORDINARY + 1:
            raise ValueError(f"--vocab must be above {FIRST_ORDINARY + 1} (ids below {FIRST_ORDINARY} are special)")
        self.vocab, self.length = vocab, length
        self.generator = torch.Generator().manual_seed(seed)
        self.partner = torch.randperm(vocab - FIRST_ORDINARY, generator=self.generator) + FIRST_ORDINARY

    def rows(self, count: int) -> torch.Tensor:
        firsts = torch.randint(FIRST_ORDINARY, self.vocab, (count, self.length // 2), generator=self.generator)
        return torch.stack([firsts, self.partner[firsts - FIRST_ORDINARY]], dim=-1).reshape(count, self.length)

    def masked(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        chosen = torch.rand(rows.shape, generator=self.generator) < MASKED_SHARE
        return {"input_ids": rows.masked_fill(chosen, MASK), "attention_mask": torch.ones_like(rows),
                "labels": torch.where(chosen, rows, torch.full_like(rows, IGNORE))}


def accuracy_at_mask(model, batch) -> float:
    model.eval()
    with torch.no_grad():
        predicted = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.argmax(-1)
    model.train()
    chosen = batch["labels"] != IGNORE
    return (predicted[chosen] == batch["labels"][chosen]).float().mean().item()


def train(encoder: str, args) -> dict:
    """One model's accuracy at each evaluation (the task, and so every batch, is seeded the same)."""
    from transformers import BertConfig

    from toolkit.families.bert.family import SIZES

    task = NeighbourTask(args.vocab, args.length, args.seed)
    held_out = task.masked(task.rows(HELD_OUT_ROWS))
    torch.manual_seed(args.seed)
    config = BertConfig(vocab_size=args.vocab, pad_token_id=PAD, **SIZES["tiny"])
    model = build_masked_lm(encoder, config)
    trainer = PlainTrainer(model, args.lr)
    accuracies, started = {}, time.perf_counter()
    for step in range(1, args.steps + 1):
        trainer.step(task.masked(task.rows(BATCH_SIZE)))
        if step % args.eval_every == 0 or step == args.steps:
            accuracies[step] = accuracy_at_mask(model, held_out)
    return {"encoder": encoder, "accuracies": accuracies, "seconds": time.perf_counter() - started}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", default=",".join(ENCODERS),
                        help=f"comma-separated, from {', '.join(ENCODERS)} (mlm_encoders.py)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--vocab", type=int, default=200, help="ids, of which the first 5 are special")
    parser.add_argument("--length", type=int, default=32, help="tokens per row (an even number)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    encoders = [name.strip() for name in args.encoders.split(",") if name.strip()]
    unknown = sorted(set(encoders) - set(ENCODERS))
    if unknown or not encoders:
        parser.error(f"--encoders takes names from {', '.join(ENCODERS)}; got {args.encoders!r}")
    try:
        NeighbourTask(args.vocab, args.length, args.seed)  # reject a bad shape before any training
    except ValueError as error:
        parser.error(str(error))

    results = [train(encoder, args) for encoder in encoders]
    steps = list(results[0]["accuracies"])
    print(f"accuracy at [MASK]; chance {1 / (args.vocab - FIRST_ORDINARY):.3f}")
    print(f"{'step':>6} " + " ".join(f"{r['encoder']:>11}" for r in results))
    for step in steps:
        print(f"{step:>6} " + " ".join(f"{r['accuracies'][step]:>11.3f}" for r in results))
    print(f"{'secs':>6} " + " ".join(f"{r['seconds']:>11.0f}" for r in results))
    return results


if __name__ == "__main__":
    main()
