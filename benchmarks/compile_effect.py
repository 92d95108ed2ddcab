"""train.compile's effect: training steps of a GPT-2 with and without torch.compile, side by side.

Both sides build the same model (the gpt2 family's size preset, same seed and initial weights),
the same AdamW (toolkit.training.build_optimizer) and an Accelerator from the recipe's train section
(toolkit.training.make_accelerator, where train.compile turns on Accelerate's inductor backend), and
train on the same random token batches of a fixed shape. Reported per side: the first step
(which, compiled, includes tracing and code generation), and the steady-state step time over the
steps after the warm-up ones. The compile cost is the first step minus a steady one.

    python benchmarks/compile_effect.py [--steps 20] [--warmup 3] [--size tiny] [--batch-size 16]
        [--block-size 128] [--mixed-precision auto|no|bf16]

Timings on a shared machine move with its load: the header prints the load average, and
OMP_NUM_THREADS=1 keeps each side on one core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from toolkit import registry  # noqa: E402
from toolkit.registry import load_recipe  # noqa: E402
from toolkit.training import build_optimizer, make_accelerator  # noqa: E402


def time_steps(recipe, vocab_size: int, steps: int, workdir: Path) -> tuple[list[float], str]:
    """Seconds of each training step (forward, backward, optimizer step), and the precision used."""
    from transformers import GPT2Config

    family = registry.family("gpt2")
    accelerator = make_accelerator(recipe.train, recipe.seed, workdir, track=False)  # seeds torch too
    config = GPT2Config(**{**family.sizes[recipe.model.size], **recipe.model.config}, vocab_size=vocab_size,
                        bos_token_id=0, eos_token_id=0)  # GPT-2's 50256 is outside a small vocabulary
    model = family.prepare(family.build(config))
    optimizer = build_optimizer(model, recipe.train)
    model, optimizer = accelerator.prepare(model, optimizer)
    generator = torch.Generator().manual_seed(recipe.seed)
    shape = (recipe.train.batch_size, recipe.data.block_size)
    batches = [torch.randint(vocab_size, shape, generator=generator) for _ in range(steps)]
    model.train()
    seconds = []
    for ids in batches:
        ids = ids.to(accelerator.device)
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()  # waits for the step to finish (a GPU runs ahead of Python)
        seconds.append(time.perf_counter() - start)
    return seconds, accelerator.mixed_precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="training steps per side (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="first steps left out of the steady state (default 3)")
    parser.add_argument("--size", default="tiny", help="gpt2 size preset (tiny, small)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=5000, help="about the char vocabulary of People's Daily")
    parser.add_argument("--mixed-precision", default="auto", choices=["auto", "no", "bf16"])
    args = parser.parse_args()
    if args.steps <= args.warmup:
        parser.error("--steps must be larger than --warmup")
    overrides = [f"model.size={args.size}", f"train.batch_size={args.batch_size}", f"data.block_size={args.block_size}",
                 f"train.mixed_precision={args.mixed_precision}"]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for compiled in (False, True):
            recipe = load_recipe("gpt2/tiny_pretrain", [*overrides, f"train.compile={str(compiled).lower()}"])
            results[compiled] = time_steps(recipe, args.vocab_size, args.steps, Path(tmp))
    precision = results[False][1]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nGPT-2 {args.size}, {args.steps} steps of {args.batch_size}x{args.block_size} tokens, precision {precision}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads (OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}), load average {load} on {os.cpu_count()} CPUs")
    print(f"steady state: steps {args.warmup + 1}-{args.steps} (first {args.warmup} left out), median (min) seconds")
    print(f"{'':10} {'first step s':>13} {'steady step s':>20} {'tokens/s':>10}")
    tokens = args.batch_size * args.block_size
    steady = {}
    for compiled, (seconds, _) in results.items():
        rest = seconds[args.warmup:]
        steady[compiled] = statistics.median(rest)
        print(f"{'compiled' if compiled else 'eager':10} {seconds[0]:13.2f} "
              f"{steady[compiled]:12.4f} ({min(rest):.4f}) {tokens / steady[compiled]:10.0f}")
    cost = results[True][0][0] - steady[True]
    print(f"compile cost (first compiled step minus a steady one): {cost:.1f} s; steady-state speed-up "
          f"{steady[False] / steady[True]:.2f}x; compiling pays off after about "
          + (f"{cost / (steady[False] - steady[True]):.0f} steps" if steady[True] < steady[False] else "never (no speed-up)"))


if __name__ == "__main__":
    main()
