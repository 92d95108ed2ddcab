"""Wall time and peak memory of the data pipeline on large local corpora: does it scale linearly?

    python benchmarks/corpus_scale.py [--sizes 20,200,1000] [--stages build,tokenizer,pack] [--markdown]
                                      [--workdir DIR] [--keep] [--json FILE]

For each size (MB of UTF-8 text) a synthetic corpus is written into a temporary folder: the text of
People's Daily (the bundled peoples_daily_1998 card's source, its words joined) repeated, each copy
with its lines shuffled, in plain text files of at most 100 MB, with a data card next to them
(format text, nfkc, title_lines documents, 1% validation and test: the bundled card's settings on a
local-files source). Three stages then run, each in a fresh Python process of its own, so a stage's
peak RSS is its own (the kernel's ru_maxrss of that child, read with os.wait4):

- build: load_corpus (read, preprocess, split into documents, carve validation/test), cold cache;
- tokenizer: train_tokenizer on the train split, char (min_frequency 1) and byte_bpe (32,000, as
  recipes/gpt2 uses them), each in its own process;
- pack: pack_blocks (tokenize with the char tokenizer, pack into 128-token blocks) of train and
  validation.

"work s" is the time of the stage's own work (reading the cached corpus and imports excluded),
"work CPU s" the CPU time of that work (all threads: tokenizers runs Rust threads; on a shared
machine it is steadier than wall time), "wall s" the child's whole life, "peak RSS MB" its peak RSS (ru_maxrss), which also counts the
pages of the memory-mapped Arrow cache it read (page cache: they grow with the corpus, and the
kernel drops them under pressure), and "anon MB" its anonymous memory (RssAnon, what the process
allocated itself: Python objects, Rust and Arrow buffers) when the work starts (libraries
imported) and at its highest during the work (sampled every 20 ms). Linear scaling means work
seconds grow with the size and anonymous memory stays about flat. The corpus and the datasets cache live in the temporary folder and
are removed at the end (``--keep`` leaves them; ``--workdir`` picks the folder). Run it on a quiet
machine with OMP_NUM_THREADS=1 for numbers worth comparing.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BLOCK_SIZE = 128
FILE_LIMIT = 100_000_000  # bytes per generated file: several files, as a real corpus folder has
TOKENIZERS = {"char": {"kind": "char", "min_frequency": 1},
              "byte_bpe": {"kind": "byte_bpe", "vocab_size": 32000, "min_frequency": 2}}


# --------------------------------------------------------------------------- the synthetic corpus


@functools.cache
def source_lines() -> tuple[str, ...]:
    """People's Daily paragraphs as plain text (the bundled card's source, words joined)."""
    from toolkit.data.card import load_card
    from toolkit.data.sources import iter_source_rows, local_files

    card = load_card("peoples_daily_1998")
    files = local_files(card)
    return tuple(row["text"] for row in iter_source_rows(card, None, "train", files))


def write_corpus(folder: Path, megabytes: float, seed: int = 0) -> list[Path]:
    """Copies of People's Daily, each shuffled, until ``megabytes`` of text are written."""
    folder.mkdir(parents=True, exist_ok=True)
    lines, rng = list(source_lines()), random.Random(seed)
    target, written, paths, handle, in_file = int(megabytes * 1e6), 0, [], None, 0
    while written < target:
        rng.shuffle(lines)
        for line in lines:
            if handle is None or in_file >= FILE_LIMIT:
                if handle is not None:
                    handle.close()
                paths.append(folder / f"part-{len(paths):03d}.txt")
                handle, in_file = open(paths[-1], "w", encoding="utf-8"), 0
            data = line + "\n"
            handle.write(data)
            size = len(data.encode("utf-8"))
            written, in_file = written + size, in_file + size
            if written >= target:
                break
    handle.close()
    return paths


def write_card(folder: Path, name: str, corpus: Path) -> Path:
    card = folder / f"{name}.yaml"
    card.write_text(
        f"name: {name}\n"
        f"description: People's Daily repeated with shuffled lines (benchmarks/corpus_scale.py).\n"
        f"language: zh\n"
        f"source: {{files: ['{corpus}/*.txt'], format: text}}\n"
        f"preprocess: [nfkc]\n"
        f"splits: {{validation: 0.01, test: 0.01, seed: 0}}\n"
        f"documents: {{split_on: title_lines}}\n"
        f"views: [text, documents]\n",
        encoding="utf-8",
    )
    return card


# --------------------------------------------------------------------------- stages (in a child)


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def _anonymous_mb() -> float:
    """This process's anonymous resident memory (RssAnon): what it allocated itself. RSS also counts
    the pages of memory-mapped Arrow cache files it has read, which grow with the corpus but are
    the kernel's page cache, dropped under memory pressure."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # not Linux


class PeakAnonymous:
    """The highest RssAnon seen while it runs, sampled every 20 ms in a thread."""

    def __enter__(self):
        import threading

        self.start = self.peak = _anonymous_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _anonymous_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _anonymous_mb())


def stage_build(card: str, out: Path) -> dict:
    from toolkit.data import load_corpus

    base = _rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    with PeakAnonymous() as anonymous:
        corpus = load_corpus(card, view="text")
        rows = {split: len(data) for split, data in corpus.items()}
    return {"work_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu, "base_mb": base, "anon_start_mb": anonymous.start, "anon_mb": anonymous.peak, "rows": rows}


def stage_tokenizer(card: str, out: Path, kind: str) -> dict:
    from toolkit.data import load_corpus
    from toolkit.families.gpt2.family import SPECIAL_TOKENS
    from toolkit.recipe import TokenizerSettings
    from toolkit.tokenization import train_tokenizer

    train = load_corpus(card, view="text")["train"]
    base = _rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    with PeakAnonymous() as anonymous:
        tokenizer = train_tokenizer(TokenizerSettings(**TOKENIZERS[kind]), train, SPECIAL_TOKENS)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    tokenizer.save_pretrained(out / f"tokenizer-{kind}")
    return {"work_s": seconds, "cpu_s": cpu, "base_mb": base, "anon_start_mb": anonymous.start, "anon_mb": anonymous.peak, "vocab": len(tokenizer)}


def stage_pack(card: str, out: Path) -> dict:
    from types import SimpleNamespace

    from toolkit.data import load_corpus
    from toolkit.tasks.causal_lm import pack_blocks
    from toolkit.tokenization import load_tokenizer

    corpus = load_corpus(card, view="text")
    tokenizer = load_tokenizer(out / "tokenizer-char")
    recipe = SimpleNamespace(data=SimpleNamespace(block_size=BLOCK_SIZE))
    base = _rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    with PeakAnonymous() as anonymous:
        blocks = {split: len(pack_blocks(corpus[split], tokenizer, recipe)) for split in ("train", "validation")}
    return {"work_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu, "base_mb": base, "anon_start_mb": anonymous.start, "anon_mb": anonymous.peak, "blocks": blocks}


STAGES = {"build": stage_build, "tokenizer": stage_tokenizer, "pack": stage_pack}


def run_stage(stage: str, card: Path, out: Path, cache: Path, extra: list[str], in_process: bool = False) -> dict:
    """One stage in a child process: its result, wall seconds and peak RSS (ru_maxrss of the child
    and the processes it waited for). ``in_process`` runs it here instead (a quick check that the
    stages work, as the test does: the peak is then this process's so far, not the stage's)."""
    if in_process:
        import resource

        start = time.perf_counter()
        kwargs = {"kind": extra[1]} if extra else {}
        result = STAGES[stage](str(card), out, **kwargs)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {**result, "wall_s": time.perf_counter() - start, "peak_mb": peak}
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, __file__, "--stage", stage, "--card", str(card), "--out", str(out), *extra]
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    stdout = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"stage {stage} {' '.join(extra)} failed (exit {child.returncode}); its errors are above.")
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "wall_s": wall, "peak_mb": usage.ru_maxrss / 1024}  # Linux: ru_maxrss in KiB


# --------------------------------------------------------------------------- the table


def measure(megabytes: float, root: Path, in_process: bool = False,
            stages: tuple[str, ...] = tuple(STAGES)) -> list[dict]:
    label = f"{megabytes:g}"
    folder = root / f"pd_{label.replace('.', '_')}mb"
    corpus = folder / "corpus"
    if not corpus.is_dir():  # written aside and renamed: an interrupted run leaves no half corpus to reuse
        shutil.rmtree(folder / "corpus.partial", ignore_errors=True)
        write_corpus(folder / "corpus.partial", megabytes)
        (folder / "corpus.partial").rename(corpus)
    card = write_card(folder, f"pd_synthetic_{label.replace('.', '_')}mb", corpus)
    cache, out = folder / "hf_cache", folder / "out"
    shutil.rmtree(cache, ignore_errors=True)  # a cold build every time
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    size_mb = sum(p.stat().st_size for p in corpus.glob("*.txt")) / 1e6
    rows = []
    plan = [("build", []), *[("tokenizer", ["--kind", k]) for k in TOKENIZERS], ("pack", [])]
    # A later stage reads what the earlier ones made (the cached corpus, the char tokenizer).
    plan = plan[: max(i for i, (stage, _) in enumerate(plan) if stage in stages) + 1]
    for stage, extra in plan:
        result = run_stage(stage, card, out, cache, extra, in_process)
        name = f"{stage} ({extra[1]})" if extra else stage
        if stage not in stages:
            continue  # run only for what a chosen stage needs
        rows.append({"size_mb": size_mb, "stage": name, **result})
        print(f"  {size_mb:8.1f} MB  {name:<20} work {result['work_s']:8.1f} s  CPU {result['cpu_s']:8.1f} s  peak RSS {result['peak_mb']:7.0f} MB"
              f"  peak anon {result['anon_mb']:7.0f} MB",
              file=sys.stderr, flush=True)
    return rows


def detail(row: dict) -> str:
    if "rows" in row:
        return "rows " + "/".join(f"{n:,}" for n in row["rows"].values())
    if "vocab" in row:
        return f"vocab {row['vocab']:,}"
    return "blocks " + "/".join(f"{n:,}" for n in row["blocks"].values())


def table(rows: list[dict], markdown: bool) -> str:
    header = ["corpus MB", "stage", "work s", "work CPU s", "wall s", "MB/s", "peak RSS MB", "anon MB start", "anon MB peak", "output"]
    body = [[f"{r['size_mb']:.1f}" if r["size_mb"] >= 1 else f"{r['size_mb']:.3g}", r["stage"],
             f"{r['work_s']:.1f}", f"{r['cpu_s']:.1f}", f"{r['wall_s']:.1f}",
             f"{r['size_mb'] / max(r['work_s'], 1e-9):.2f}", f"{r['peak_mb']:.0f}", f"{r['anon_start_mb']:.0f}",
             f"{r['anon_mb']:.0f}", detail(r)]
            for r in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
    widths = [max(len(str(x)) for x in column) for column in zip(header, *body)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(cells, widths)) for cells in [header, *body])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="20,200,1000", help="corpus sizes in MB, comma-separated (default 20,200,1000)")
    parser.add_argument("--stages", default="build,tokenizer,pack",
                        help="stages to report, comma-separated (the stages they need run too, unreported)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--workdir", type=Path, help="folder for corpora and caches (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated corpora and caches")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--in-process", action="store_true",
                        help="run the stages in this process (a quick check; peak MB is then not per stage)")
    parser.add_argument("--stage", choices=list(STAGES), help=argparse.SUPPRESS)  # a child's own stage
    parser.add_argument("--card", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=list(TOKENIZERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        extra = {"kind": args.kind} if args.stage == "tokenizer" else {}
        print(json.dumps(STAGES[args.stage](args.card, args.out, **extra)))
        return []
    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    if not stages or set(stages) - set(STAGES):
        parser.error(f"--stages takes some of {', '.join(STAGES)}, got {args.stages!r}")
    root = args.workdir or Path(tempfile.mkdtemp(prefix="corpus_scale-"))
    rows = []
    try:
        for megabytes in sizes:
            rows += measure(megabytes, root, args.in_process, stages)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(table(rows, args.markdown))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return rows


if __name__ == "__main__":
    main()
