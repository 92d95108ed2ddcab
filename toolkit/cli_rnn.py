"""`toolkit compare` (runs side by side) and `toolkit embed` (ELMo contextual vectors)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import ToolkitError

HEADLINE = ("perplexity", "forward_perplexity", "backward_perplexity", "accuracy", "f1")


def compare_runs(run_dirs: list[str | Path], plot: str | Path | None = None) -> list[dict]:
    """One row per run (name, family, task, headline metrics, parameters, steps, training time);
    with ``plot``, a PNG of their training-loss curves on shared axes."""
    rows, curves = compare_rows(run_dirs)
    if plot:
        plot_curves(curves, Path(plot))
    return rows


def compare_rows(run_dirs: list[str | Path]) -> tuple[list[dict], list[tuple[str, list[dict]]]]:
    """The table's rows and each run's (name, training-loss log)."""
    from .reporting.metrics import read_metrics
    from .rundir import read_run_recipe

    rows, curves = [], []
    for run_dir in map(Path, run_dirs):
        metrics = read_metrics(run_dir)
        if not metrics:
            raise ToolkitError(f"{run_dir} has no metrics.json: is it a finished toolkit run folder?")
        recipe = read_run_recipe(run_dir)
        family = recipe.model.family
        cell = recipe.model.config.get("cell") if family == "rnn_lm" else None
        train = metrics.get("train", {})
        rows.append({
            "run": run_dir.name, "model": f"{family}/{cell}" if cell else family, "task": metrics.get("task", recipe.task),
            **{k: v for k, v in metrics.get("final", {}).items() if k in HEADLINE},
            "parameters": train.get("parameters"), "steps": train.get("steps"),
            "train_seconds": train.get("train_seconds"),
        })
        curves.append((run_dir.name, metrics.get("log", [])))
    return rows, curves


def plot_curves(curves: list[tuple[str, list[dict]]], path: Path) -> None:
    """Training-loss curves on shared axes, written to ``path`` (a PNG, or any format matplotlib knows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for name, log in curves:
        if log:
            ax.plot([r["step"] for r in log], [r["loss"] for r in log], label=name, linewidth=1.2)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    except (OSError, ValueError) as exc:  # unwritable folder, a file in the way, unknown image format
        blocking = next((a for a in path.parents if a.exists()), None)
        if blocking is not None and not blocking.is_dir():
            reason = f"{blocking} is a file, not a folder"
        else:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        raise ToolkitError(f"Cannot write the loss-curve plot to {path}: {reason}. Give --plot a writable "
                           f"path (such as compare_loss.png) or --plot '' for none.") from None
    finally:
        plt.close(fig)


def _format(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def format_table(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_format(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def cmd_compare(args) -> int:
    rows, curves = compare_rows(args.run_dirs)
    # The table first: a plot path that cannot be written must not cost the user the numbers.
    print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else format_table(rows), flush=True)
    if args.plot:
        plot_curves(curves, Path(args.plot))
        print(f"\nLoss curves: {args.plot}")
    return 0


def embed(model_dir: str | Path, text: str):
    """Contextual vectors of ``text`` from an ELMo folder (a biLM or a downstream run).

    Returns (layers, mixed, layer_weights): layers is (layers+1, chars, 2*dim); mixed is the
    scalar mix of a downstream model (None for a bare biLM), layer_weights its learned mix.
    """
    import torch
    from transformers import AutoModel

    from .generation import unknown_characters_note
    from .models.modeling_elmo import ElmoModel
    from .models.pretrained import load_model_config, model_folder, read_model_type
    from .tokenization import load_tokenizer

    if not text.strip():  # no characters, no vectors: torch would fail on an empty id tensor
        raise ToolkitError("`toolkit embed`: the text is empty or only spaces; give a sentence, e.g. 今天天气很好.")
    model_dir = model_folder(model_dir)
    # The type first, read as data; ELMo folders then load through the toolkit's registered classes
    # (trust_remote_code=False), never through the copy of the model code inside the folder.
    try:
        model_type = read_model_type(model_dir)
    except (OSError, ValueError) as exc:
        raise ToolkitError(f"embed: cannot read the config of '{model_dir}': {str(exc).splitlines()[0]}") from None
    if model_type != "toolkit_elmo":
        raise ToolkitError(f"{model_dir} is a {model_type} model, not an ELMo biLM or ELMo downstream run.")
    config = load_model_config(model_dir, what="embed")
    tokenizer = load_tokenizer(model_dir)
    note = unknown_characters_note(tokenizer, text, f"their vectors are those of {tokenizer.unk_token or 'nothing'}")
    if note:
        print(f"note: {note}", file=sys.stderr)
    ids = torch.tensor([tokenizer.convert_tokens_to_ids(list(text))])
    architecture = (config.architectures or ["ElmoModel"])[0]
    if architecture == ElmoModel.__name__:
        model, mixed, weights = AutoModel.from_pretrained(str(model_dir), trust_remote_code=False).eval(), None, None
        with torch.no_grad():
            layers = model(input_ids=ids).layers[:, 0]
        return layers, mixed, weights
    import transformers

    from .models.elmo import AUTO_CLASSES

    auto = next(name for name, (_, cls) in AUTO_CLASSES.items() if cls.__name__ == architecture)
    model = getattr(transformers, auto).from_pretrained(str(model_dir), trust_remote_code=False).eval()
    with torch.no_grad():
        states = model.elmo(ids)
        layers = torch.stack([torch.cat(pair, dim=-1) for pair in states])[:, 0]
        mixed = model.mixed_features(ids)[0]
    return layers, mixed, model.layer_weights()


def cmd_embed(args) -> int:
    layers, mixed, weights = embed(args.model_dir, args.text)
    count, chars, width = layers.shape
    print(f"{chars} characters; {count} layers (embedding + {count - 1} LSTM) of {width} dims (forward+backward): {tuple(layers.shape)}")
    if mixed is not None:
        print(f"scalar mix: {tuple(mixed.shape)}")
    if args.layer_weights:
        if weights is None:
            print("This is a bare biLM: layer weights are learned by a downstream run (task elmo_classify or elmo_ner).")
        else:
            print("learned layer weights: " + ", ".join(f"{name} {value:.3f}" for name, value in weights.items()))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="table of several runs' metrics, sizes and times, plus a loss-curve plot")
    p.add_argument("run_dirs", nargs="+", help="run folders")
    p.add_argument("--plot", default="compare_loss.png", help="PNG for the loss curves (default compare_loss.png; '' for none)")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    p.set_defaults(func=cmd_compare)

    p = subparsers.add_parser("embed", help="ELMo contextual vectors of a sentence (shape, and the learned layer mix)")
    p.add_argument("model_dir", help="an ELMo biLM run folder, or an elmo_classify / elmo_ner run folder")
    p.add_argument("text")
    p.add_argument("--layer-weights", action="store_true", help="print the learned softmax weight of each layer and gamma")
    p.set_defaults(func=cmd_embed)
