"""word2vec: skip-gram or CBOW word (or character) vectors trained with gensim.

Top to bottom, a run:

1. streams the train split from the dataset layer into a LineSentence file (one row per line,
   tokens separated by spaces) — written once and cached, keyed on the corpus fingerprint and the
   level, because gensim's ``corpus_file`` mode reads a file with one thread per worker and
   scales with cores, which the Python iterator mode does not;
2. builds the vocabulary and trains with gensim, showing a progress bar (words/s) and recording
   the loss, time and speed of each epoch;
3. exports the vectors (gensim native, word2vec text and binary), evaluates them on the
   benchmarks of ``eval.metrics`` (analogy / similarity, see toolkit.families.word2vec.evaluation) and on the
   vocabulary coverage of ``eval.split``, and writes metrics.json and a Hub model card.

Word level reads the card's ``words`` view (segmented source or the card's ``segment`` step);
a card with only text is segmented here with the same jieba step, through ``datasets.map`` so it
is cached and uses several processes. Char level reads the characters of the ``text`` view.
The recipe's train/tokenizer sections do not apply: gensim's settings live in ``model.config``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ... import registry
from ...data import load_card, load_corpus, load_streaming_corpus
from ...data.corpus import local_files
from ...data.corpus import source_signature as corpus_signature
from ...data.text import segment
from ...errors import ToolkitError
from ...embeddings import load_vectors
from .family import Word2VecConfig, export_vectors, usable_cores
from ...recipe import Recipe
from ...reporting.metrics import read_metrics, write_metrics
from ...reporting.model_card import write_model_card
from .card import render_word2vec_card
from .evaluation import Benchmark, headline, headline_names, nearest, parse_benchmark, run_benchmark
from ...tasks.base import Task
from ...tasks.common import RunOutcome

CORPUS_FILE_VERSION = "1"  # bump when the LineSentence layout changes
USAGE = """
from gensim.models import KeyedVectors

vectors = KeyedVectors.load_word2vec_format("{path}/vectors.bin", binary=True)
print(vectors.most_similar("{word}", topn=5))
"""
USAGE_HUB = """
from gensim.models import KeyedVectors
from huggingface_hub import hf_hub_download

path = hf_hub_download("{repo_id}", "vectors.bin")
vectors = KeyedVectors.load_word2vec_format(path, binary=True)
print(vectors.most_similar("{word}", topn=5))
"""


# --------------------------------------------------------------------------- corpus -> tokens


def _segment_batch(batch: dict[str, list]) -> dict[str, list]:
    return {"words": [segment({"text": text})[0]["words"] for text in batch["text"]]}


def _tokens(row: dict, level: str) -> list[str]:
    """The tokens of one row: characters without whitespace, or words (a word with a space
    inside becomes several, since LineSentence separates tokens by spaces)."""
    if level == "char":
        return [ch for ch in row["text"] if not ch.isspace()]
    return [piece for word in row["words"] for piece in word.split()]


def word2vec_config(recipe: Recipe) -> Word2VecConfig:
    return Word2VecConfig(**registry.family(recipe.model.family).config_fields(recipe.model.size, recipe.model.config))


def corpus_view(recipe: Recipe, card) -> str:
    """The view word2vec reads (TASK.view): at word level a segmented source's ``words``, else
    ``text`` (its characters at char level; segmented by jieba here at word level)."""
    return "words" if word2vec_config(recipe).level == "word" and "words" in card.views else "text"


def load_splits(recipe: Recipe) -> tuple[dict, str]:
    """The corpus splits in the recipe's view (``corpus_view``), words segmented by jieba when the
    word level reads a text-only card, and a key that changes with them.

    Not-streaming cards give cached Datasets (key: the train split's fingerprint); streaming cards
    give IterableDatasets read lazily (key: the card, its local files' sizes and times, max_rows).
    """
    card = load_card(recipe.data.card)
    view = corpus_view(recipe, card)
    needs_segmenting = word2vec_config(recipe).level == "word" and view == "text"
    if card.source.streaming:
        splits = load_streaming_corpus(card, view=view)
        if recipe.data.max_rows:
            splits["train"] = splits["train"].take(recipe.data.max_rows)
        key = f"{corpus_signature(card, local_files(card))}|{recipe.data.max_rows}"
        if needs_segmenting:
            splits = {name: split.map(_segment_batch, batched=True) for name, split in splits.items()}
        return splits, key
    splits = load_corpus(card, view=view, max_rows=recipe.data.max_rows)
    if needs_segmenting:
        # Several processes only pay off on a large corpus (each loads jieba's dictionary).
        processes = min(usable_cores(), 8) if len(splits["train"]) > 20_000 else None
        splits = splits.map(_segment_batch, batched=True, num_proc=processes, desc="segment (jieba)")
    return dict(splits), splits["train"]._fingerprint


def iter_tokens(split, level: str, batch_size: int = 1000) -> Iterator[list[str]]:
    """Token lists of a split, read in batches (never the whole corpus in memory)."""
    for batch in split.iter(batch_size=batch_size):
        for values in zip(*batch.values()):
            tokens = _tokens(dict(zip(batch, values)), level)
            if tokens:
                yield tokens


@dataclass
class CorpusFile:
    path: Path
    lines: int
    tokens: int
    cached: bool


def corpus_cache_dir() -> Path:
    import datasets

    return Path(datasets.config.HF_DATASETS_CACHE) / "toolkit_word2vec"


def write_corpus_file(split, level: str, key: str, cache_dir: Path | None = None) -> CorpusFile:
    """The LineSentence file of a split: reused when it exists, else written atomically."""
    digest = hashlib.sha256(f"{CORPUS_FILE_VERSION}|{level}|{key}".encode()).hexdigest()[:24]
    folder = Path(cache_dir or corpus_cache_dir())
    path, meta_path = folder / f"{digest}.txt", folder / f"{digest}.json"
    if path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return CorpusFile(path, meta["lines"], meta["tokens"], cached=True)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    lines = tokens = 0
    with temporary.open("w", encoding="utf-8") as handle:
        for row in iter_tokens(split, level):
            handle.write(" ".join(row) + "\n")
            lines += 1
            tokens += len(row)
    if tokens == 0:
        temporary.unlink()
        raise ToolkitError(f"The train split has no {level}s to train word2vec on; check the data card and data.max_rows.")
    os.replace(temporary, path)
    meta_path.write_text(json.dumps({"lines": lines, "tokens": tokens, "level": level}), encoding="utf-8")
    return CorpusFile(path, lines, tokens, cached=False)


def token_coverage(vectors, split, level: str) -> dict[str, float]:
    """Share of a split's running tokens (and of its distinct tokens) that have a vector."""
    known = vectors.key_to_index
    running = hits = 0
    distinct: set[str] = set()
    for row in iter_tokens(split, level):
        running += len(row)
        hits += sum(token in known for token in row)
        distinct.update(row)
    return {"token_coverage": hits / running if running else float("nan"),
            "type_coverage": sum(t in known for t in distinct) / len(distinct) if distinct else float("nan")}


# --------------------------------------------------------------------------- training


class TrainingMonitor:
    """Progress bar over raw words (with words/s), and a record of each epoch.

    A gensim callback (the CallbackAny2Vec hooks; not subclassed so that loading the task
    registry does not import gensim).
    gensim reports progress only through its log, so while training this listens to the
    ``gensim.models.word2vec`` logger (the records' arguments, not their text): in-epoch progress
    moves the bar, the end-of-epoch record gives the effective word count. Loss comes from
    ``get_latest_training_loss`` (cumulative within a ``train`` call), differenced per epoch.
    """

    def __init__(self, show: bool = True):
        self.show = show
        self.epochs: list[dict] = []
        self._counts: dict[int, tuple[int, int, float]] = {}
        self._handler = _ProgressHandler(self)
        self._logger = logging.getLogger("gensim.models.word2vec")
        self._saved_level = self._logger.level
        self.bar = None
        self.total_words = 0

    def on_train_begin(self, model):
        self.total_words = model.corpus_total_words
        self.bar = tqdm(total=model.epochs * self.total_words, unit="word", unit_scale=True,
                        desc="word2vec", disable=not self.show or None)
        self._saved_level = self._logger.level
        self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self._handler)

    def on_epoch_begin(self, model):
        self._epoch_start = time.perf_counter()
        self._loss_before = model.get_latest_training_loss()

    def progress(self, epoch: int, fraction: float, words_per_second: float) -> None:
        self._move_bar((epoch + fraction) * self.total_words)
        self.bar.set_postfix_str(f"{words_per_second:,.0f} words/s", refresh=False)

    def epoch_counts(self, epoch: int, raw: int, effective: int, seconds: float) -> None:
        self._counts[epoch] = (raw, effective, seconds)

    def on_epoch_end(self, model):
        index = len(self.epochs)
        seconds = time.perf_counter() - self._epoch_start
        raw, effective, _ = self._counts.get(index, (self.total_words, self.total_words, seconds))
        record = {"epoch": index + 1, "loss": float(model.get_latest_training_loss() - self._loss_before),
                  "seconds": seconds, "raw_words": raw, "effective_words": effective,
                  "words_per_second": effective / max(seconds, 1e-9)}
        self.epochs.append(record)
        self._move_bar((index + 1) * self.total_words)
        self.bar.set_postfix_str(f"epoch {index + 1} loss {record['loss']:.4g}, "
                                 f"{record['words_per_second']:,.0f} words/s")
        if not self.show:
            return
        tqdm.write(f"epoch {index + 1}/{model.epochs}: loss {record['loss']:.6g}, {seconds:.1f} s, "
                   f"{record['words_per_second']:,.0f} words/s")

    def on_train_end(self, model):
        self._logger.removeHandler(self._handler)
        self._logger.setLevel(self._saved_level)
        self.bar.close()

    def _move_bar(self, position: float) -> None:
        self.bar.update(max(0, int(position) - self.bar.n))


class _ProgressHandler(logging.Handler):
    def __init__(self, monitor: TrainingMonitor):
        super().__init__(level=logging.INFO)
        self.monitor = monitor

    def emit(self, record: logging.LogRecord) -> None:
        message, args = str(record.msg), record.args or ()
        if message.startswith("EPOCH %i - PROGRESS: at %.2f%%") and len(args) >= 3:
            self.monitor.progress(int(args[0]), float(args[1]) / 100.0, float(args[2]))
        elif message.startswith("EPOCH %i: training on %i raw words (%i effective words)") and len(args) >= 4:
            self.monitor.epoch_counts(int(args[0]), int(args[1]), int(args[2]), float(args[3]))


def train_vectors(corpus: CorpusFile, config: Word2VecConfig, seed: int, callbacks=(), show: bool = True):
    """Build the vocabulary from the corpus file and train; returns (model, monitor, timings)."""
    from .family import build

    model = build(config, seed=seed)
    started = time.perf_counter()
    model.build_vocab(corpus_file=str(corpus.path))
    if len(model.wv) == 0:
        raise ToolkitError(f"No token occurs model.config.min_count={config.min_count} times in the corpus "
                           f"({corpus.tokens:,} tokens); lower min_count or use more data.")
    vocab_seconds = time.perf_counter() - started
    monitor = TrainingMonitor(show=show)
    started = time.perf_counter()
    effective, raw = model.train(corpus_file=str(corpus.path), total_words=model.corpus_total_words,
                                 epochs=model.epochs, compute_loss=config.compute_loss,
                                 callbacks=[monitor, *callbacks])
    train_seconds = time.perf_counter() - started
    timings = {"vocab_seconds": vocab_seconds, "train_seconds": train_seconds,
               "effective_words": effective, "raw_words": raw,
               "words_per_second": effective / max(train_seconds, 1e-9)}
    return model, monitor, timings


# --------------------------------------------------------------------------- evaluation


def evaluate_vectors(vectors, benchmarks: list[Benchmark], split=None, split_name: str = "", card: str = "",
                     level: str = "word") -> tuple[list[dict], dict[str, float]]:
    """Benchmark records (and the split's coverage record) for metrics.json, and their headline."""
    records = [run_benchmark(vectors, benchmark) for benchmark in benchmarks]
    flat: dict[str, float] = {}
    for record in records:
        flat.update(headline(record))
    if split is not None:
        coverage = token_coverage(vectors, split, level)
        records.append({"benchmark": card, "kind": "coverage", "split": split_name, "card": card, "metrics": coverage})
        flat.update({f"{split_name}_{k}": v for k, v in coverage.items()})
    return records, flat


def _samples(vectors, words: list[str], topn: int = 8) -> list[dict]:
    samples = []
    for word in words:
        if word in vectors.key_to_index:
            text = ", ".join(f"{w} {s:.2f}" for w, s in nearest(vectors, word, topn))
        else:
            text = "(not in the vocabulary)"
        samples.append({"prompt": word, "text": text})
    return samples


def _usage(recipe: Recipe, run_dir: Path, vectors) -> str:
    word = next((w for w in recipe.eval.samples if w in vectors.key_to_index), vectors.index_to_key[0])
    if recipe.hub.repo_id:
        return USAGE_HUB.format(repo_id=recipe.hub.repo_id, word=word)
    return USAGE.format(path=run_dir, word=word)


def refresh_card(run_dir: Path, recipe: Recipe, vectors) -> None:
    card = render_word2vec_card(recipe, load_card(recipe.data.card), read_metrics(run_dir), _usage(recipe, run_dir, vectors),
                                TASK.description)
    write_model_card(run_dir, card)


# --------------------------------------------------------------------------- the task


def run(recipe: Recipe, run_dir: Path, resume: bool = False, callbacks=()) -> RunOutcome:
    """Train, export and evaluate word2vec vectors as the recipe says. ``callbacks`` are gensim
    ``CallbackAny2Vec`` objects, called with the model at each epoch's begin and end."""
    if resume:
        raise ToolkitError("word2vec runs cannot be resumed (gensim trains in one call); start the run again.")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ToolkitError("word2vec trains with gensim's threads (model.config.workers), not with several "
                           "processes; remove launch.accelerate_config from the recipe.")
    if getattr(recipe.model, "init_from", None) or getattr(recipe, "peft", None) is not None:
        raise ToolkitError("word2vec vectors are trained from scratch by gensim: model.init_from and peft do not apply.")
    config = word2vec_config(recipe)
    benchmarks = [parse_benchmark(spec) for spec in recipe.eval.metrics]  # fail before any work

    started = time.perf_counter()
    splits, key = load_splits(recipe)
    if recipe.eval.split not in splits:
        raise ToolkitError(f"eval.split '{recipe.eval.split}' is not a split of {recipe.data.card}; it has {list(splits)}.")
    corpus = write_corpus_file(splits["train"], config.level, key)
    corpus_seconds = time.perf_counter() - started
    print(f"Corpus {recipe.data.card} ({config.level} level): {corpus.lines:,} lines, {corpus.tokens:,} tokens"
          f"{' (cached file)' if corpus.cached else ''}: {corpus.path}")

    model, monitor, timings = train_vectors(corpus, config, recipe.seed, callbacks)
    vectors, workers = model.wv, model.workers
    print(f"Vocabulary {len(vectors):,} {config.level}s, {config.vector_size} dimensions; "
          f"{timings['words_per_second']:,.0f} effective words/s over {config.epochs} epochs.")

    started = time.perf_counter()
    exports = export_vectors(vectors, run_dir, config, recipe)
    export_seconds = time.perf_counter() - started
    started = time.perf_counter()
    evaluations, final = evaluate_vectors(vectors, benchmarks, splits[recipe.eval.split], recipe.eval.split,
                                          recipe.data.card, config.level)
    eval_seconds = time.perf_counter() - started
    metrics = {
        "task": recipe.task,
        "vocab_size": len(vectors),
        "vector_size": config.vector_size,
        "level": config.level,
        "config": {**config.to_dict(), "workers": workers},
        "final": final,
        "samples": _samples(vectors, recipe.eval.samples),
        "evaluations": evaluations,
        "exports": exports,
        "train": {
            **timings, "epochs": monitor.epochs, "workers": workers,
            "corpus": {"lines": corpus.lines, "tokens": corpus.tokens, "file": str(corpus.path)},
            "corpus_seconds": corpus_seconds, "export_seconds": export_seconds, "eval_seconds": eval_seconds,
            "hardware": f"CPU ({platform.machine()}, {workers} gensim workers, {usable_cores()} usable cores)",
            "loss_note": ("summed over the epoch's predictions by gensim; in corpus_file mode each worker "
                          "thread overwrites gensim's one loss counter, so with several workers it holds "
                          "about one worker's share: compare losses between runs with equal workers"),
        },
    }
    write_metrics(run_dir, metrics)
    refresh_card(run_dir, recipe, vectors)
    return RunOutcome(run_dir=Path(run_dir), metrics=metrics)


def evaluate_run(run_dir: Path, recipe: Recipe, split: str, card: str | None = None,
                 max_batches: int | None = None) -> dict[str, float]:
    """Re-run the recipe's benchmarks and the coverage of a card's split; appended to metrics.json.

    ``max_batches`` does not apply (word2vec evaluation is not batched) and is ignored.
    """
    del max_batches
    config = word2vec_config(recipe)
    benchmarks = [parse_benchmark(spec) for spec in recipe.eval.metrics]
    vectors = load_vectors(run_dir)
    if card and card != recipe.data.card:
        recipe = recipe.model_copy(update={"data": recipe.data.model_copy(update={"card": card})})
    splits, _ = load_splits(recipe)
    if split not in splits:
        raise ToolkitError(f"Split '{split}' is not in corpus {recipe.data.card}; it has {', '.join(splits)}.")
    records, flat = evaluate_vectors(vectors, benchmarks, splits[split], split, recipe.data.card, config.level)
    record_evaluations(run_dir, records, vectors)
    return flat


def record_evaluations(run_dir: Path, records: list[dict], vectors) -> None:
    """Append evaluation records to a run folder's metrics.json and refresh its model card."""
    from ...rundir import read_run_recipe

    metrics = read_metrics(run_dir)
    metrics.setdefault("evaluations", []).extend(records)
    write_metrics(run_dir, metrics)
    refresh_card(Path(run_dir), read_run_recipe(run_dir), vectors)


TASK = Task(
    name="word2vec",
    description="Skip-gram / CBOW word or character vectors with gensim; analogy and similarity evaluation.",
    view=corpus_view,
    run=run,
    evaluate=evaluate_run,
    headline=headline_names,
)
