"""Is the tiny BERT's MLM plateau the toolkit's doing? The same pairs and masks, trained by a plain
PyTorch loop around transformers' BertForMaskedLM, outside the toolkit's runner.

    python benchmarks/mlm_plain_loop.py [--objective mlm|causal] [--encoder bert|torch-post|torch-pre|cbow]
        [--tokenizer runs/bert-tiny-mix] [--card zh_pretrain_mix] [--block-size 32] [--lr 1e-3] [--steps 500]
        [--eval-every 100] [--max-rows 0]

Prints, every ``--eval-every`` steps, the training loss and the accuracy on 20 fixed validation
batches next to what always answering the commonest target scores there. The targets are the
[MASK]ed tokens (``mlm``), or every next token when the same BERT is trained as a causal LM
(``causal``: BertLMHeadModel with is_decoder=True, same size, data, optimizer and schedule). If the
plain MLM loop stays at the guess too, the plateau belongs to the model and its training dynamics,
not to the toolkit's loop; if the causal one leaves it, it belongs to the masked objective (README,
"Where the bundled recipes stand"). The model is the tiny size of the bert family, AdamW with a
60-step warmup then a constant rate, no NSP. ``--encoder`` swaps the MLM for PyTorch's own encoder
at the same shape or for a CBOW over the neighbours (mlm_encoders.py), on the same batches.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from toolkit.data import load_corpus  # noqa: E402
from toolkit.families.bert.family import SIZES  # noqa: E402
from toolkit.families.bert.masking import IGNORE, MaskingCollator  # noqa: E402
from toolkit.families.bert.nsp import build_nsp_pairs  # noqa: E402
from toolkit.tokenization import load_tokenizer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/ is not a package
from mlm_encoders import ENCODERS, PlainTrainer, build_masked_lm  # noqa: E402

EVAL_BATCHES = 20
BATCH_SIZE = 32


def at_mask(batch, logits, mask_id: int):
    """(predictions, targets) at the [MASK]ed positions."""
    chosen = (batch["input_ids"] == mask_id) & (batch["labels"] != IGNORE)
    return logits.argmax(-1)[chosen], batch["labels"][chosen]


def next_tokens(batch, logits):
    """(predictions, targets) of every next token (a causal LM's labels are its inputs)."""
    targets = batch["labels"][:, 1:]
    chosen = targets != IGNORE
    return logits[:, :-1].argmax(-1)[chosen], targets[chosen]


def accuracy_and_guess(model, batches, targets_of) -> tuple[float, float]:
    """(accuracy, share of the commonest target) over fixed batches; ``targets_of(batch, logits)``
    is ``next_tokens`` or ``at_mask`` with its mask id bound."""
    hits, targets = 0, []
    model.eval()
    with torch.no_grad():
        for batch in batches:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           token_type_ids=batch["token_type_ids"]).logits
            predicted, wanted = targets_of(batch, logits)
            hits += int((predicted == wanted).sum())
            targets.append(wanted)
    model.train()
    targets = torch.cat(targets)
    if not len(targets):
        return 0.0, 0.0
    return hits / len(targets), targets.bincount().max().item() / len(targets)


def unmasked_batch(rows: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """A causal LM's batch: the rows padded to the longest, inputs unmasked, labels the inputs with
    the padding ignored (the model shifts them by one itself)."""
    width = max(len(row["input_ids"]) for row in rows)

    def padded(key, value):
        return torch.tensor([list(row[key]) + [value] * (width - len(row[key])) for row in rows])

    ids, mask = padded("input_ids", pad_id), padded("attention_mask", 0)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": padded("token_type_ids", 0),
            "labels": ids.masked_fill(mask == 0, IGNORE)}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objective", default="mlm", choices=("mlm", "causal"),
                        help="mlm: BertForMaskedLM at 15%% masking; causal: the same BERT as a causal LM")
    parser.add_argument("--encoder", default="bert", choices=ENCODERS,
                        help="the masked LM: HF BertForMaskedLM, PyTorch's encoder (post- or pre-LN) or a CBOW; mlm only")
    parser.add_argument("--tokenizer", default="runs/bert-tiny-mix", help="a run folder with a BERT tokenizer")
    parser.add_argument("--card", default="zh_pretrain_mix", help="a card with the documents view")
    parser.add_argument("--block-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--max-rows", type=int, default=0, help="cap on the card's rows (0: all)")
    parser.add_argument("--size", default="tiny", choices=sorted(SIZES))
    args = parser.parse_args(argv)
    if args.objective == "causal" and args.encoder != "bert":
        parser.error("--objective causal trains the BERT itself; --encoder applies to mlm only")

    from transformers import BertConfig, BertLMHeadModel

    torch.manual_seed(0)
    tokenizer = load_tokenizer(args.tokenizer)
    corpus = load_corpus(args.card, view="documents", max_rows=args.max_rows or None)
    pairs = {split: build_nsp_pairs(corpus[split], tokenizer, args.block_size, False, 42)
             .remove_columns(["next_sentence_label"]) for split in ("train", "validation")}
    config = BertConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **SIZES[args.size],
                        is_decoder=args.objective == "causal")
    model = BertLMHeadModel(config) if args.objective == "causal" else build_masked_lm(args.encoder, config)
    trainer = PlainTrainer(model, args.lr)
    if args.objective == "causal":
        train_masks = eval_masks = partial(unmasked_batch, pad_id=tokenizer.pad_token_id)
        targets_of = next_tokens
    else:
        train_masks, eval_masks = MaskingCollator(tokenizer, 0.15), MaskingCollator(tokenizer, 0.15, seed=1)
        targets_of = partial(at_mask, mask_id=tokenizer.mask_token_id)
    held_out = pairs["validation"]
    eval_batches = [eval_masks([held_out[i] for i in range(start, min(start + BATCH_SIZE, len(held_out)))])
                    for start in range(0, min(len(held_out), EVAL_BATCHES * BATCH_SIZE), BATCH_SIZE)]
    order = torch.Generator().manual_seed(0)
    rows, started = [], time.perf_counter()
    print(f"{'step':>6} {'loss':>7} {'at [MASK]' if args.objective == 'mlm' else 'next token':>10} {'guess':>7} {'seconds':>8}")
    for step in range(1, args.steps + 1):
        picks = torch.randint(len(pairs["train"]), (BATCH_SIZE,), generator=order).tolist()
        batch = train_masks([pairs["train"][i] for i in picks])
        loss = trainer.step(batch)
        if step % args.eval_every == 0 or step == args.steps:
            accuracy, guess = accuracy_and_guess(model, eval_batches, targets_of)
            row = {"step": step, "loss": loss.item(), "accuracy": accuracy, "guess": guess,
                   "seconds": time.perf_counter() - started}
            rows.append(row)
            print(f"{step:>6} {row['loss']:>7.3f} {accuracy:>10.3f} {guess:>7.3f} {row['seconds']:>8.0f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
