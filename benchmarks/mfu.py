"""Training throughput and model FLOPs utilisation (MFU) of GPT-2 small and BERT-base, trained
through the toolkit's recipes (`toolkit.run`: the same data pipeline, loop and launch config as a
real run).

    python benchmarks/mfu.py [--sizes full|tiny] [--models gpt2 bert] [--steps 30] [--warmup 5]
        [--batch-size B] [--block-size T] [--bf16 | --no-bf16] [--accelerate-config FILE]
        [--peak-tflops X]

full: recipes/gpt2/small_pretrain_wikipedia.yaml (GPT-2 small, 124M with GPT-2's vocabulary) and
recipes/bert/base_pretrain_wikipedia.yaml (BERT-base), trained on the bundled People's Daily corpus
instead of Wikipedia so that no download is needed; the vocabulary comes from that corpus, so the
parameter count (printed) differs from the paper models' by the embedding rows. tiny: the
tiny_pretrain recipes shrunk to a few thousand parameters (a smoke test, seconds on a CPU).

What is measured: each optimizer step's training time as the loop logs it (forward, backward,
optimizer; evaluation and checkpointing left out), summed over the steps after the first
--warmup ones (data loader start-up, CUDA kernels' first calls, torch.compile), and the real
(non-padding) tokens those steps trained on, all processes together. FLOPs are the usual
6 x parameters x tokens (forward 2, backward 4 per parameter and token), without attention's
score and value products; the line below it adds them as in PaLM's appendix B (12 x layers x
width x block size per token), an upper bound here because causal attention and short BERT
sequences do less. MFU = achieved FLOP/s / (peak dense bf16 FLOP/s of the GPU x processes). On a
CPU there is no peak to compare with: it prints GFLOP/s only.

The launch config is the recipe's launch.accelerate_config (none in both recipes: one process),
or --accelerate-config (e.g. accelerate_configs/multi_gpu.yaml, fsdp.yaml).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here needs the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Dense (no 2:4 sparsity) bf16 tensor-core peaks in TFLOP/s, from NVIDIA's datasheets, which print
# the sparse figure (twice these): H100 SXM 1,979 / PCIe 1,513 / NVL 1,671 (H100 datasheet);
# H200 SXM 1,979 / NVL 1,671 (H200 datasheet); A100 312 dense (A100 datasheet); L4 242 sparse
# (L4 datasheet); RTX 4090 165.2 with FP32 accumulation (Ada architecture whitepaper, appendix).
# Matched against torch.cuda.get_device_name() in this order (the first match wins).
PEAK_BF16_TFLOPS = [
    (r"H100.*PCIe", "H100 PCIe", 756.0),
    (r"H100.*NVL", "H100 NVL", 835.5),
    (r"H200.*NVL", "H200 NVL", 835.5),
    (r"H100", "H100 SXM", 989.4),
    (r"H200", "H200 SXM", 989.4),
    (r"A100", "A100", 312.0),
    (r"\bL4\b", "L4", 121.0),
    (r"RTX 4090", "RTX 4090", 165.2),
]

MODELS = {
    # name: (full recipe, tiny recipe, tiny model.config, config keys of layers and width)
    "gpt2": ("gpt2/small_pretrain_wikipedia", "gpt2/tiny_pretrain",
             "{n_layer: 1, n_head: 2, n_embd: 32, n_positions: 64}", ("n_layer", "n_embd")),
    "bert": ("bert/base_pretrain_wikipedia", "bert/tiny_pretrain",
             "{num_hidden_layers: 1, num_attention_heads: 2, hidden_size: 32, intermediate_size: 64, "
             "max_position_embeddings: 64}", ("num_hidden_layers", "hidden_size")),
}
TINY_DEFAULTS = {"batch_size": 8, "block_size": 32}


def peak_for(device_name: str) -> float | None:
    """The dense bf16 peak (TFLOP/s) of a GPU by its CUDA name, None when it is not in the table."""
    for pattern, _, peak in PEAK_BF16_TFLOPS:
        if re.search(pattern, device_name):
            return peak
    return None


def device_peak(override: float | None) -> tuple[str, float | None]:
    """The device's name and its dense bf16 peak in TFLOP/s (None: a CPU, or a GPU not in the table)."""
    import torch

    if not torch.cuda.is_available():
        return "CPU", None
    name = torch.cuda.get_device_name(0)
    return name, override or peak_for(name)


def overrides_for(args, model: str, out: Path) -> tuple[str, list[str]]:
    full, tiny, tiny_config, _ = MODELS[model]
    recipe = full if args.sizes == "full" else tiny
    steps = args.steps
    overrides = [
        "data.card=peoples_daily_1998",  # bundled: the benchmark runs where Wikipedia cannot be downloaded
        f"train.max_steps={steps}", f"train.eval_every={steps}", f"train.save_every={steps}",
        "train.keep_checkpoints=1", "train.log_every=1", "eval.max_batches=1", "eval.samples=[]",
        f"output.dir={out}",
    ]
    if args.sizes == "tiny":
        overrides += [f"model.config={tiny_config}", "data.max_rows=300",
                      f"train.batch_size={args.batch_size or TINY_DEFAULTS['batch_size']}",
                      f"data.block_size={args.block_size or TINY_DEFAULTS['block_size']}"]
    else:
        if args.batch_size:
            overrides.append(f"train.batch_size={args.batch_size}")
        if args.block_size:
            overrides.append(f"data.block_size={args.block_size}")
    if args.bf16 is not None:
        overrides.append(f"train.mixed_precision={'bf16' if args.bf16 else 'no'}")
    if args.accelerate_config:
        overrides.append(f"launch.accelerate_config={args.accelerate_config}")
    if args.compile:
        overrides.append("train.compile=true")
    return recipe, overrides + list(args.set)


def measure(run_dir: Path, warmup: int, layer_keys: tuple[str, str]) -> dict:
    """Steady-state throughput from a finished run folder (metrics.json's per-step log)."""
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    recipe_text = (run_dir / "recipe.yaml").read_text(encoding="utf-8")
    block_size = int(re.search(r"block_size: (\d+)", recipe_text).group(1))
    steady = [r for r in metrics["log"] if r["step"] > warmup]
    seconds = sum(r["seconds"] for r in steady)
    tokens = sum(r["tokens_per_second"] * r["seconds"] for r in steady)
    train = metrics["train"]
    layers, width = (config[key] for key in layer_keys)
    return {
        "parameters": train["parameters"], "processes": train["processes"], "precision": train["mixed_precision"],
        "hardware": train["hardware"], "steps": len(steady), "seconds": seconds, "tokens_per_second": tokens / seconds,
        "flops_per_token": 6 * train["parameters"], "attention_flops_per_token": 12 * layers * width * block_size,
        "layers": layers, "width": width, "block_size": block_size, "vocab_size": config["vocab_size"],
    }


def report(model: str, recipe: str, found: dict, device: str, peak: float | None, warmup: int) -> list[str]:
    tps = found["tokens_per_second"]
    dense = found["flops_per_token"] * tps
    with_attention = (found["flops_per_token"] + found["attention_flops_per_token"]) * tps
    lines = [
        f"{model}: {recipe}, {found['parameters']:,} parameters ({found['layers']} layers, width "
        f"{found['width']}, vocabulary {found['vocab_size']}), block size {found['block_size']}, "
        f"{found['processes']} process(es), precision {found['precision']}",
        f"  measured: {found['steps']} steps after {warmup} warm-up steps, {found['seconds']:.2f} s of training",
        f"  tokens/s (real tokens, all processes): {tps:,.0f}",
    ]
    if peak is None:
        lines += [f"  achieved: {dense / 1e9:,.2f} GFLOP/s as 6 x parameters x tokens/s "
                  f"({with_attention / 1e9:,.2f} with attention); no MFU: "
                  + ("a CPU has no tensor-core peak to compare with" if device == "CPU"
                     else f"{device} is not in the table of peaks (give --peak-tflops)")]
    else:
        total_peak = peak * 1e12 * found["processes"]
        lines += [f"  achieved: {dense / 1e12:,.1f} TFLOP/s as 6 x parameters x tokens/s -> MFU {dense / total_peak:.1%} "
                  f"of {found['processes']} x {peak:g} TFLOP/s",
                  f"  with attention (PaLM's 12 x layers x width x block per token): {with_attention / 1e12:,.1f} TFLOP/s "
                  f"-> {with_attention / total_peak:.1%}"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", choices=["full", "tiny"], default="full",
                        help="full: GPT-2 small and BERT-base; tiny: a few thousand parameters (smoke test)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per model (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="first steps left out of the measurement (default 5)")
    parser.add_argument("--batch-size", type=int, help="examples per process per micro-batch (default: the recipe's)")
    parser.add_argument("--block-size", type=int, help="tokens per example (default: the recipe's)")
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                        help="force bf16 (or, --no-bf16, fp32); default: the recipe's `auto` (bf16 where the device has it)")
    parser.add_argument("--accelerate-config", help="launch config (default: the recipe's launch.accelerate_config)")
    parser.add_argument("--compile", action="store_true",
                        help="train.compile=true (torch.compile; its compile time falls in the warm-up steps)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any other recipe override, repeatable (e.g. --set data.streaming=true)")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, for a GPU not in the table")
    parser.add_argument("--keep", type=Path, help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.steps <= args.warmup:
        parser.error("--steps must be larger than --warmup")

    import torch

    import toolkit

    device, peak = device_peak(args.peak_tflops)
    peak_text = f"{peak:g} TFLOP/s dense bf16 per GPU" if peak else "none (no MFU)"
    header = [
        f"device: {device}; peak: {peak_text}",
        f"torch {torch.__version__}, Python {sys.version.split()[0]}, sizes {args.sizes}, {args.steps} steps per model, "
        f"the first {args.warmup} left out (warm-up), evaluation and checkpointing not timed"
        + (", torch.compile on" if args.compile else "") + (f", overrides {' '.join(args.set)}" if args.set else ""),
        "FLOPs = 6 x parameters x real tokens (attention's own products not included; given separately)",
    ]
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for model in args.models:
            out = root / model
            recipe, overrides = overrides_for(args, model, out)
            toolkit.run(recipe, overrides=overrides)
            lines += report(model, recipe, measure(out, args.warmup, MODELS[model][3]), device, peak, args.warmup)
    print("\n" + "\n".join(["== benchmarks/mfu.py: training throughput and MFU ==", *header, *lines]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
