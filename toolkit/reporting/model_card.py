"""The README.md model card of a run folder: Hub metadata, then what the model is and how it was made.

Metadata goes through huggingface_hub's ModelCardData (model-index from EvalResult), so the Hub
parses it and shows the evaluation table. No secret ever reaches it: it is built only from the
recipe, the data card and the metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .. import registry
from ..data.card import DataCard
from ..recipe import Recipe
from ..rundir import LOSS_PLOT

# How each metric reads in the model-index (task type for the Hub's widgets).
TASK_TYPES = {"text-generation": "Causal language modeling"}


def _dataset_id(card: DataCard) -> str:
    return card.hub_id or card.name


def card_data(recipe: Recipe, data_card: DataCard, pipeline_tag: str, evaluations: list[dict[str, Any]]) -> ModelCardData:
    results = [
        EvalResult(
            task_type=pipeline_tag,
            task_name=TASK_TYPES.get(pipeline_tag, pipeline_tag),
            dataset_type=_dataset_id(data_card),
            dataset_name=data_card.name,
            dataset_split=evaluation["split"],
            metric_type=name,
            metric_name=name.replace("_", " "),
            metric_value=round(float(value), 4),
        )
        for evaluation in evaluations
        for name, value in evaluation["metrics"].items()
    ]
    return ModelCardData(
        language="zh",
        license=recipe.hub.license,
        library_name="peft" if recipe.peft else "transformers",
        pipeline_tag=pipeline_tag,
        tags=["toolkit", recipe.model.family, recipe.task.replace("_", "-"), "chinese", *(["lora", "peft"] if recipe.peft else [])],
        datasets=[_dataset_id(data_card)],
        metrics=sorted({r.metric_type for r in results}),
        model_name=Path(recipe.output.dir).name,
        base_model=_hub_id(recipe.model.init_from),
        eval_results=results or None,
    )


def _origin(recipe: Recipe) -> str:
    vectors = f"; token embeddings initialised from the word vectors `{recipe.model.embeddings_from}`" if recipe.model.embeddings_from else ""
    if not recipe.model.init_from:
        return f"{recipe.model.family} ({recipe.model.size or 'default'} size), trained from scratch{vectors}"
    if recipe.peft:
        how = f"LoRA (r={recipe.peft.r}, alpha={recipe.peft.alpha})"
    else:
        how = registry.family(recipe.model.family).fine_tuning(recipe) or "full fine-tuning"
    frozen = f", frozen: {', '.join(recipe.train.freeze)}" if recipe.train.freeze else ""
    return f"{recipe.model.family}, fine-tuned from `{recipe.model.init_from}` with {how}{frozen}{vectors}"


def _hub_id(init_from: str | None) -> str | None:
    """base_model metadata takes Hub ids only; a local folder is named in the text instead."""
    if init_from and init_from.count("/") == 1 and not Path(init_from).exists():
        return init_from
    return None


def _tokenizer_fact(recipe: Recipe, metrics: dict[str, Any]) -> str:
    """'char, 5248 tokens', or per side 'source word_char, 3008 tokens; target char, 1344 tokens'."""
    if recipe.tokenizer is None:
        return f"from the pretrained model, {metrics.get('vocab_size', '?')} tokens" + (
            f" (target side: {metrics['target_vocab_size']})" if "target_vocab_size" in metrics else "")
    if recipe.tokenizer.per_side:
        return (f"source {recipe.tokenizer.source.kind}, {metrics.get('vocab_size', '?')} tokens; "
                f"target {recipe.tokenizer.target.kind}, {metrics.get('target_vocab_size', '?')} tokens")
    return f"{recipe.tokenizer.kind}, {metrics.get('vocab_size', '?')} tokens"


def _table(rows: list[tuple[str, str]]) -> str:
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def render_model_card(
    recipe: Recipe,
    data_card: DataCard,
    pipeline_tag: str,
    metrics: dict[str, Any],
    usage: str,
) -> ModelCard:
    """The whole card. ``metrics`` is the run's metrics.json content."""
    evaluations = metrics.get("evaluations", [])
    train = metrics.get("train", {})
    name = Path(recipe.output.dir).name
    facts = [
        ("Model family", _origin(recipe)),
        ("Parameters", f"{train.get('parameters', 0):,} ({train.get('trainable_parameters', train.get('parameters', 0)):,} trained)"),
        ("Task", f"{recipe.task}: {registry.task(recipe.task).description}"),
        ("Corpus", f"{data_card.name}: {' '.join(data_card.description.split())}"),
        ("Corpus license", data_card.license),
        ("Tokenizer", _tokenizer_fact(recipe, metrics)),
        ("Training", f"{train.get('steps', 0)} steps, batch {recipe.train.batch_size} x {recipe.train.grad_accum} accumulation, "
                     f"block {recipe.data.block_size}, lr {recipe.train.optimizer.lr}, {recipe.train.schedule.name} schedule"),
        ("Tokens seen", f"{train.get('tokens_seen', 0):,}"),
        ("Precision", train.get("mixed_precision", recipe.train.mixed_precision)),
        ("Hardware", train.get("hardware", "unknown")),
        ("Training time", f"{train.get('train_seconds', 0):.0f} s"),
    ]
    eval_rows = "\n".join(
        f"| {e['split']} | {e.get('card', data_card.name)} | {name_} | {value:.4g} |"
        for e in evaluations
        for name_, value in e["metrics"].items()
    )
    # Figures of re-evaluations (seq2seq: BLEU and CER per source length), the newest per file.
    eval_figures = {f["file"]: f for e in evaluations for f in e.get("figures") or []}
    eval_figure_text = "".join(f"\n\n![{f['caption']}]({f['file']})\n\n{f['caption']}" for f in eval_figures.values())
    samples = metrics.get("samples") or []
    sample_text = "\n".join(f"- **{s['prompt']}** → {s['text']}" for s in samples) or "(no sample prompts in the recipe)"
    # Figures a task drew into the run folder (seq2seq: the attention behind a sample), listed in metrics.json.
    figures = "".join(f"\n\n![{f['caption']}]({f['file']})\n\n{f['caption']}" for f in metrics.get("figures") or [])
    before = (metrics.get("before") or {}).get("samples") or []
    if before:
        sample_text = ("Before fine-tuning:\n\n" + "\n".join(f"- **{s['prompt']}** → {s['text']}" for s in before)
                       + "\n\nAfter:\n\n" + sample_text)
    body = f"""
# {name}

A Chinese {recipe.model.family} model trained with the `toolkit` package from the recipe below.
{recipe.description}

## Model and training

{_table(facts)}

![training curve]({LOSS_PLOT})

## Evaluation

| split | corpus | metric | value |
|---|---|---|---|
{eval_rows or '| - | - | - | - |'}{eval_figure_text}

## Samples

{sample_text}{figures}

## How to use

```python
{usage.strip()}
```

## Intended use and limits

A small model for learning, teaching and experiments with Chinese language modelling. It was
trained on one corpus ({data_card.name}) and reproduces its style, topics and biases; it knows
nothing after that corpus was written, and its output is not checked for facts. Not for
production use or for decisions about people.

## Recipe

```yaml
{recipe.to_yaml().strip()}
```
"""
    data = card_data(recipe, data_card, pipeline_tag, evaluations)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


def write_model_card(run_dir: Path, card: ModelCard) -> None:
    from ..rundir import write_atomic

    write_atomic(Path(run_dir) / "README.md", str(card))
