"""word2vec training speed: raw gensim against the toolkit, same configuration, side by side.

    python benchmarks/word2vec_vs_gensim.py                       # PD 1998 words, recipe settings
    python benchmarks/word2vec_vs_gensim.py --recipe recipes/word2vec/skipgram_char_pd98.yaml \
        --repeats 3 model.config.epochs=3

Both sides train on the same LineSentence file (the toolkit's cached one; written first, not
timed) with the same gensim settings. "raw gensim" is what a gensim user writes:
``Word2Vec(**settings)``, ``build_vocab(corpus_file=...)``, ``train(corpus_file=...)``. "toolkit" is
``toolkit.run(recipe)``: the whole run, whose training phase adds the progress bar, the per-epoch
records and the loss (``model.config.compute_loss``, on by default). Speed is effective words
(after min_count and downsampling, as gensim counts them) per second of training; the toolkit's
whole-run time (corpus, vocabulary, training, export, evaluation) is printed too. The two sides
alternate (which goes first swaps each repeat); the table shows each side's best of ``--repeats``
runs, and the median of the per-repeat ratios is printed too, the steadier figure on a busy machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import toolkit
from toolkit import registry
from toolkit.families.word2vec.family import Word2VecConfig
from toolkit.registry import load_recipe
from toolkit.families.word2vec.task import load_splits, write_corpus_file


def raw_gensim(corpus_file: Path, settings: dict) -> dict:
    from gensim.models import Word2Vec

    model = Word2Vec(**settings)
    model.build_vocab(corpus_file=str(corpus_file))
    started = time.perf_counter()
    effective, _ = model.train(corpus_file=str(corpus_file), total_words=model.corpus_total_words, epochs=model.epochs)
    seconds = time.perf_counter() - started
    return {"words_per_second": effective / seconds, "train_seconds": seconds, "vocab": len(model.wv)}


def toolkit_run(recipe_path: str, overrides: list[str], folder: Path) -> dict:
    started = time.perf_counter()
    result = toolkit.run(recipe_path, [*overrides, f"output.dir={folder}", "output.overwrite=true"])
    total = time.perf_counter() - started
    train = result.metrics["train"]
    return {"words_per_second": train["words_per_second"], "train_seconds": train["train_seconds"],
            "vocab": result.metrics["vocab_size"], "run_seconds": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="recipes/word2vec/skipgram_word_pd98.yaml")
    parser.add_argument("--repeats", type=int, default=2, help="runs per side; the best counts (default 2)")
    parser.add_argument("overrides", nargs="*", help="recipe overrides, e.g. model.config.epochs=3")
    args = parser.parse_args()

    recipe = load_recipe(args.recipe, args.overrides)
    config = Word2VecConfig(**registry.family(recipe.model.family).config_fields(recipe.model.size, recipe.model.config))
    splits, key = load_splits(recipe, config.level)
    corpus = write_corpus_file(splits["train"], config.level, key)
    settings = config.gensim_kwargs(recipe.seed)
    settings.pop("compute_loss")  # raw gensim as users run it: no loss tracking
    print(f"{args.recipe} {' '.join(args.overrides)}")
    print(f"corpus: {corpus.lines:,} lines, {corpus.tokens:,} {config.level} tokens ({corpus.path})")
    print(f"settings: {settings}, toolkit compute_loss={config.compute_loss}\n")

    raw, ours = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            folder = Path(scratch) / f"run{repeat}"
            if repeat % 2:
                ours.append(toolkit_run(args.recipe, args.overrides, folder))
                raw.append(raw_gensim(corpus.path, settings))
            else:
                raw.append(raw_gensim(corpus.path, settings))
                ours.append(toolkit_run(args.recipe, args.overrides, folder))
            print(f"repeat {repeat + 1}: raw gensim {raw[-1]['words_per_second']:,.0f} words/s, "
                  f"toolkit {ours[-1]['words_per_second']:,.0f} words/s")
            shutil.rmtree(folder, ignore_errors=True)
    best_raw = max(raw, key=lambda r: r["words_per_second"])
    best_ours = max(ours, key=lambda r: r["words_per_second"])
    ratio = best_ours["words_per_second"] / best_raw["words_per_second"]
    print()
    print(f"{'':12s} {'words/s':>12s} {'train s':>9s} {'vocab':>8s}")
    print(f"{'raw gensim':12s} {best_raw['words_per_second']:12,.0f} {best_raw['train_seconds']:9.1f} {best_raw['vocab']:8,d}")
    print(f"{'toolkit':12s} {best_ours['words_per_second']:12,.0f} {best_ours['train_seconds']:9.1f} {best_ours['vocab']:8,d}")
    ratios = [o["words_per_second"] / r["words_per_second"] for o, r in zip(ours, raw)]
    print(f"\ntoolkit / raw gensim training speed: {ratio:.3f} (best vs best), "
          f"{statistics.median(ratios):.3f} (median of {len(ratios)} paired repeats)")
    print(f"toolkit whole run (corpus cached, vocabulary, training, export, evaluation): "
          f"{min(r['run_seconds'] for r in ours):.1f} s")


if __name__ == "__main__":
    main()
