"""Training throughput: the toolkit loop versus transformers' Trainer, side by side in one process.

Both train the same tiny GPT-2 (same config, same initial weights, same packed People's Daily
blocks, same optimizer settings) for the same number of steps. Printed: tokens/s of each and the
ratio, at equal precision (fp32) and at each side's default precision on this machine (the
toolkit's `auto` = bf16 where the CPU has native bf16; Trainer's default = fp32 on CPU).

    python benchmarks/loop_vs_trainer.py [--steps 30] [--batch-size 32] [--block-size 128]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from transformers import AutoTokenizer, Trainer, TrainingArguments, set_seed  # noqa: E402

import toolkit  # noqa: E402
from toolkit.data import load_corpus  # noqa: E402
from toolkit import registry  # noqa: E402
from toolkit.tasks.causal_lm import pack_blocks  # noqa: E402


def toolkit_tokens_per_second(workdir: Path, name: str, overrides: list[str]) -> tuple[float, Path]:
    out = workdir / name
    result = toolkit.run("gpt2/tiny_pretrain", overrides=[*overrides, f"output.dir={out}"])
    return result.metrics["train"]["tokens_per_second"], out


def trainer_tokens_per_second(run_dir: Path, args: argparse.Namespace, bf16: bool) -> float:
    recipe = toolkit.load_recipe(run_dir / "recipe.yaml")
    tokenizer = AutoTokenizer.from_pretrained(run_dir)
    corpus = load_corpus(recipe.data.card, view="text")
    blocks = pack_blocks({"train": corpus["train"]}, tokenizer, args.block_size)["train"].with_format(None)
    blocks = blocks.map(lambda row: {"labels": row["input_ids"]})
    family = registry.family("gpt2")
    set_seed(recipe.seed)
    model = family.build(family.make_config(recipe.model.size, recipe.model.config, tokenizer))
    training_args = TrainingArguments(
        output_dir=str(run_dir.parent / "trainer"), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
        learning_rate=recipe.train.optimizer.lr, weight_decay=recipe.train.optimizer.weight_decay,
        adam_beta1=recipe.train.optimizer.betas[0], adam_beta2=recipe.train.optimizer.betas[1],
        lr_scheduler_type="cosine", warmup_steps=recipe.train.schedule.warmup_steps, max_grad_norm=1.0,
        bf16=bf16, use_cpu=not torch.cuda.is_available(), report_to=[], save_strategy="no",
        logging_steps=args.steps, dataloader_drop_last=True, seed=recipe.seed, disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=blocks)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    return args.steps * args.batch_size * args.block_size / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=128)
    args = parser.parse_args()
    common = [f"train.max_steps={args.steps}", f"train.batch_size={args.batch_size}", f"data.block_size={args.block_size}",
              f"train.eval_every={args.steps}", f"train.save_every={args.steps}", "train.log_every=1",
              "eval.max_batches=1", "eval.samples=[]"]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ours_fp32, run_dir = toolkit_tokens_per_second(workdir, "fp32", [*common, "train.mixed_precision=no"])
        theirs_fp32 = trainer_tokens_per_second(run_dir, args, bf16=False)  # also Trainer's CPU default
        ours_auto, auto_dir = toolkit_tokens_per_second(workdir, "auto", [*common, "train.mixed_precision=auto"])
        auto = json.loads((auto_dir / "metrics.json").read_text())["train"]["mixed_precision"]
        theirs_bf16 = trainer_tokens_per_second(run_dir, args, bf16=True) if auto == "bf16" else None
    print(f"\nTiny GPT-2, {args.steps} steps of {args.batch_size}x{args.block_size} tokens, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    rows = [("equal precision: fp32 both", ours_fp32, theirs_fp32),
            (f"defaults: toolkit auto={auto}, Trainer fp32", ours_auto, theirs_fp32)]
    if theirs_bf16:
        rows.append(("equal precision: bf16 both", ours_auto, theirs_bf16))
    print(f"{'setting':44s} {'toolkit tok/s':>14s} {'Trainer tok/s':>14s} {'ratio':>7s}")
    for label, ours, theirs in rows:
        print(f"{label:44s} {ours:14.0f} {theirs:14.0f} {ours / theirs:7.2f}")

if __name__ == "__main__":
    main()
