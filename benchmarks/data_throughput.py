"""Tokens per second the streaming data pipeline alone delivers, next to what one H100 consumes.

    python benchmarks/data_throughput.py [--mb 20] [--seconds 20] [--folder /tmp/data_throughput]
        [--models gpt2 bert] [--texts-per-call N]

The pipeline is the one a streaming run uses (toolkit.data.stream + toolkit.tasks.stream_blocks):
jsonl files read lazily by `datasets`, tokenized as they come, packed into blocks, batched. It runs
in the training process, one per GPU, so its rate is per GPU. Two setups, as the bundled recipes
for them: GPT-2 small (124M; 32K byte-level BPE, blocks of 1024) and BERT-base (char tokens up to
21128, NSP pairs of up to 512 tokens, masked; a jsonl line is a document). The corpus is People's Daily's paragraphs, shuffled and repeated to ``--mb`` MB
of jsonl in a temporary folder (never committed); tokenizers are trained on its first 20,000 rows.

An H100 at 40% MFU consumes 0.4 * 989e12 / (6 * parameters) tokens per second (bf16 dense peak,
6 FLOPs per parameter per token for forward and backward). "cores needed" is that rate over the
measured rate per CPU second, rounded up: the CPU cores the pipeline would need per GPU (run with
TOKENIZERS_PARALLELISM=false, so the pipeline is single-threaded and CPU seconds are one core's).
With TOKENIZERS_PARALLELISM=true the fast tokenizer spreads each call's texts over its own threads
(RAYON_NUM_THREADS caps them): then the wall rate is the one to read, and ``--texts-per-call``
(texts per tokenizer call, toolkit.tasks.stream_blocks.TEXTS_PER_CALL) gives the threads work.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

H100_BF16_PEAK = 989e12
MFU = 0.4


def write_corpus(folder: Path, megabytes: float) -> Path:
    from toolkit.data import load_corpus

    corpus = load_corpus("peoples_daily_1998", view="text")
    texts = [t for split in corpus.values() for t in split["text"]]
    folder.mkdir(parents=True, exist_ok=True)
    rng, written, part = random.Random(0), 0, 0
    while written < megabytes * 1e6:
        rng.shuffle(texts)
        data = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
        (folder / f"part-{part}.jsonl").write_text(data, encoding="utf-8")
        written += len(data.encode())
        part += 1
    card = folder / "card.yaml"
    card.write_text(f"name: throughput\ndescription: People's Daily repeated\nsource: {{files: '{folder}/part-*.jsonl', "
                    f"format: jsonl}}\nsplits: {{validation: 1, test: 0}}\n", encoding="utf-8")
    print(f"corpus: {written / 1e6:.1f} MB of jsonl in {part} files ({folder})")
    return card


def parameters(kind: str) -> int:
    """Parameters of the model, counted on the meta device (no memory, no weights)."""
    import torch
    from transformers import BertConfig, BertForPreTraining, GPT2Config, GPT2LMHeadModel

    with torch.device("meta"):
        if kind == "gpt2":
            model = GPT2LMHeadModel(GPT2Config(vocab_size=32000, n_layer=12, n_head=12, n_embd=768, n_positions=1024,
                                                bos_token_id=0, eos_token_id=0))
        else:
            model = BertForPreTraining(BertConfig(vocab_size=21128))
    return sum(p.numel() for p in model.parameters())


def measure(card_path: Path, kind: str, settings, block_size: int, batch_size: int, seconds: float):
    """(tokens per wall second, tokens per CPU second, tokens) of training batches pulled from a fresh
    stream for about ``seconds`` (real tokens: the padding of BERT's pairs is not counted). The CPU
    seconds are this process's: on a busy machine they say what one core of its own would do."""
    from toolkit.data import load_card
    from toolkit.data.stream import open_stream
    from toolkit.families.bert.family import SPECIAL_TOKENS as BERT_TOKENS
    from toolkit.families.bert.masking import MaskingCollator
    from toolkit.families.bert.nsp_stream import NspPairs
    from toolkit.families.gpt2.family import SPECIAL_TOKENS as GPT2_TOKENS
    from toolkit.tasks.causal_lm import collate_blocks
    from toolkit.tasks.stream_blocks import PackedBlocks, StreamLoader
    from toolkit.tokenization import train_tokenizer

    card = load_card(card_path)
    sample = [row["text"] for row, _ in zip(open_stream(card, ["text"])[0], range(20_000))]
    tokenizer = train_tokenizer(settings, sample, GPT2_TOKENS if kind == "gpt2" else BERT_TOKENS)
    rows = open_stream(card, ["text"])[0]
    if kind == "gpt2":
        loader = StreamLoader(PackedBlocks(rows, tokenizer, block_size), batch_size, collate_blocks(tokenizer, None, False))
    else:  # NSP pairs (a buffer of documents at a time) and fresh 15% masks, as bert_pretrain streams them
        loader = StreamLoader(NspPairs(rows, tokenizer, block_size, whole_word=False, seed=0), batch_size,
                              MaskingCollator(tokenizer))
    tokens, start, cpu = 0, time.perf_counter(), time.process_time()
    for batch in loader:
        tokens += int(batch["attention_mask"].sum()) if "attention_mask" in batch else batch["input_ids"].numel()
        if time.perf_counter() - start > seconds:
            break
    return tokens / (time.perf_counter() - start), tokens / (time.process_time() - cpu), tokens


def main() -> None:
    from toolkit.recipe import TokenizerSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/data_throughput"))
    parser.add_argument("--models", nargs="+", choices=["gpt2", "bert"], default=["gpt2", "bert"])
    parser.add_argument("--texts-per-call", type=int, help="texts per tokenizer call (default: the toolkit's)")
    args = parser.parse_args()
    import os

    from toolkit.tasks import stream_blocks

    if args.texts_per_call:
        stream_blocks.TEXTS_PER_CALL = args.texts_per_call
    print(f"TOKENIZERS_PARALLELISM={os.environ.get('TOKENIZERS_PARALLELISM', '(unset: on)')}, "
          f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', '(unset: all cores)')}, "
          f"{os.cpu_count()} CPUs, {stream_blocks.TEXTS_PER_CALL} texts per tokenizer call")
    card = write_corpus(args.folder, args.mb)
    setups = [("GPT-2 small", "gpt2", TokenizerSettings(kind="byte_bpe", vocab_size=32000, min_frequency=2), 1024, 16),
              ("BERT-base", "bert", TokenizerSettings(kind="char", vocab_size=21128, min_frequency=5), 512, 32)]
    print(f"\n{'model':<12} {'params':>8} {'block':>6} {'tok/s (wall)':>13} {'tok/CPU-s':>10} {'H100@40% tok/s':>15} "
          f"{'cores needed':>13}")
    for name, kind, settings, block, batch in setups:
        if kind not in args.models:
            continue
        rate, per_core, tokens = measure(card, kind, settings, block, batch, args.seconds)
        params = parameters(kind)
        needed = MFU * H100_BF16_PEAK / (6 * params)
        print(f"{name:<12} {params / 1e6:>7.0f}M {block:>6} {rate:>13,.0f} {per_core:>10,.0f} {needed:>15,.0f} "
              f"{math.ceil(needed / per_core):>13}   ({tokens:,} tokens measured)")


if __name__ == "__main__":
    main()
