"""The README.md model card of a word2vec run folder.

Like the transformers card (model_card.py) the metadata goes through huggingface_hub's
ModelCardData, but the evaluation results are per benchmark (analogy / similarity files and the
vocabulary coverage of a held-out split), the library is gensim, and the body says how to load the
vectors with plain gensim.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ...data.card import DataCard
from ...recipe import Recipe
from ...reporting.model_card import _dataset_id, _table

TASK_NAMES = {"analogy": "Word analogy", "similarity": "Word similarity", "coverage": "Vocabulary coverage"}


def latest_evaluations(evaluations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per benchmark (and split), the most recent, in first-seen order."""
    latest: dict[tuple, dict] = {}
    for record in evaluations:
        latest[(record["kind"], record["benchmark"], record.get("split"))] = record
    return list(latest.values())


def _results(evaluations: list[dict[str, Any]], data_card: DataCard) -> list[EvalResult]:
    results = []
    for record in evaluations:
        for name, value in record["metrics"].items():
            if name in ("questions", "covered", "ca8_covered", "pairs") or not math.isfinite(value):
                continue
            is_corpus = record["kind"] == "coverage"
            results.append(EvalResult(
                task_type=f"word-{record['kind']}" if not is_corpus else "vocabulary-coverage",
                task_name=TASK_NAMES[record["kind"]],
                dataset_type=_dataset_id(data_card) if is_corpus else record["benchmark"],
                dataset_name=data_card.name if is_corpus else record["benchmark"],
                dataset_split=record.get("split", "test"),
                metric_type=name,
                metric_name=name.replace("_", " "),
                metric_value=round(float(value), 4),
            ))
    return results


def _evaluation_rows(evaluations: list[dict[str, Any]]) -> str:
    rows = []
    for record in evaluations:
        m = record["metrics"]
        if record["kind"] == "analogy":
            rows.append(f"| {record['benchmark']} | analogy | 3CosAdd {m['3cosadd']:.3f}, 3CosMul {m['3cosmul']:.3f} | "
                        f"{m['coverage']:.1%} ({m['covered']:,} of {m['questions']:,} questions) |")
        elif record["kind"] == "similarity":
            rows.append(f"| {record['benchmark']} | similarity | Spearman {m['spearman']:.3f} | "
                        f"{m['coverage']:.1%} ({m['covered']} of {m['pairs']} pairs) |")
        else:
            rows.append(f"| {record['benchmark']} ({record['split']}) | vocabulary | - | "
                        f"{m['token_coverage']:.1%} of running tokens, {m['type_coverage']:.1%} of distinct |")
    return "\n".join(rows) or "| - | - | - | - |"


def _section_rows(evaluations: list[dict[str, Any]]) -> str:
    rows = [f"| {record['benchmark']} | {section} | {m['3cosadd']:.3f} | {m['3cosmul']:.3f} | {m['coverage']:.1%} |"
            for record in evaluations if record["kind"] == "analogy"
            for section, m in record.get("sections", {}).items()]
    if not rows:
        return ""
    head = "| benchmark | section | 3CosAdd | 3CosMul | coverage |\n|---|---|---|---|---|\n"
    return "Analogy accuracy by section (over covered questions):\n\n" + head + "\n".join(rows)


def render_word2vec_card(recipe: Recipe, data_card: DataCard, metrics: dict[str, Any], usage: str,
                         task_description: str) -> ModelCard:
    """The whole card of a word2vec run; ``metrics`` is the run's metrics.json content."""
    config = metrics.get("config", {})
    train = metrics.get("train", {})
    corpus = train.get("corpus", {})
    evaluations = latest_evaluations(metrics.get("evaluations", []))
    name = Path(recipe.output.dir).name
    method = ("skip-gram" if config.get("sg") else "CBOW",
              "hierarchical softmax" if config.get("hs") else f"negative sampling ({config.get('negative', 5)})")
    facts = [
        ("Model", f"word2vec {method[0]}, {method[1]}, trained from scratch with gensim"),
        ("Task", f"{recipe.task}: {task_description}"),
        ("Units", f"{metrics.get('level', 'word')}s"),
        ("Vocabulary", f"{metrics.get('vocab_size', 0):,} {metrics.get('level', 'word')}s "
                       f"(min_count {config.get('min_count', 5)})"),
        ("Vector size", str(metrics.get("vector_size", "?"))),
        ("Window", str(config.get("window", 5))),
        ("Corpus", f"{data_card.name}: {' '.join(data_card.description.split())}"),
        ("Corpus license", data_card.license),
        ("Training data", f"train split, {corpus.get('lines', 0):,} lines, {corpus.get('tokens', 0):,} tokens"),
        ("Epochs", str(len(train.get("epochs", [])))),
        ("Speed", f"{train.get('words_per_second', 0):,.0f} effective words/s, {train.get('train_seconds', 0):.0f} s"),
        ("Hardware", train.get("hardware", "unknown")),
    ]
    epochs = "\n".join(f"| {e['epoch']} | {e['loss']:.5g} | {e['seconds']:.1f} | {e['words_per_second']:,.0f} |"
                       for e in train.get("epochs", []))
    samples = "\n".join(f"- **{s['prompt']}**: {s['text']}" for s in metrics.get("samples") or []) \
        or "(no sample words in the recipe's eval.samples)"
    body = f"""
# {name}

Chinese {metrics.get('level', 'word')} vectors trained with the `toolkit` package from the recipe below.
{recipe.description}

## Files

| file | format | load with |
|---|---|---|
| `vectors.bin` | word2vec binary | `KeyedVectors.load_word2vec_format("vectors.bin", binary=True)` |
| `vectors.txt` | word2vec text | `KeyedVectors.load_word2vec_format("vectors.txt")` |
| `word2vec_config.json` | training settings | - |

## Model and training

{_table(facts)}

| epoch | training loss | seconds | words/s |
|---|---|---|---|
{epochs or '| - | - | - | - |'}

The loss is gensim's sum over the epoch; with several workers gensim keeps about one worker's
share of it, so it shows the trend within this run, not a value to compare across settings.

## Evaluation

Accuracy counts only questions whose words are all in the vocabulary; coverage says how many were.

| benchmark | kind | score | coverage |
|---|---|---|---|
{_evaluation_rows(evaluations)}

{_section_rows(evaluations)}

## Nearest neighbours

{samples}

## How to use

```python
{usage.strip()}
```

## Intended use and limits

Vectors for learning, teaching and as a starting point for Chinese models (the toolkit can
initialise an embedding layer from them). They reflect one corpus ({data_card.name}) with its
topics, period and biases, including stereotyped associations; analogy and similarity scores on
small sets are a rough guide, not a guarantee.

## Recipe

```yaml
{recipe.to_yaml().strip()}
```
"""
    results = _results(evaluations, data_card)
    data = ModelCardData(
        language="zh",
        license=recipe.hub.license,
        library_name="gensim",
        pipeline_tag=None,
        tags=["toolkit", "word2vec", "word-embeddings", "gensim", "chinese", f"{metrics.get('level', 'word')}-level"],
        datasets=[_dataset_id(data_card)],
        metrics=sorted({r.metric_type for r in results}) or None,
        model_name=name,
        eval_results=results or None,
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
