"""`toolkit` command line: a thin shell over toolkit.api."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import cli_bert, cli_rnn, cli_word2vec
from .errors import ToolkitError
from .recipe import SEED_LIMIT

EPILOG = """examples:
  toolkit recipes
  toolkit run recipes/gpt2/tiny_pretrain.yaml train.max_steps=200
  toolkit generate runs/gpt2-tiny-pd98 --prompt 中国
  toolkit data show peoples_daily_1998
"""


def cmd_recipes(args) -> int:
    from .paths import bundled_dir
    from .recipe import load_recipe

    root = bundled_dir("recipes")
    for path in sorted(root.rglob("*.yaml")):
        recipe = load_recipe(path)
        print(f"{str(path.relative_to(root).with_suffix('')):32s} {recipe.description}")
    return 0


def cmd_validate(args) -> int:
    from .data.corpus import check_card_files
    from .recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    check_card_files(recipe.data.card)  # what `run` checks before it makes the run folder
    if recipe.launch.accelerate_config:
        from .api import accelerate_config_file

        accelerate_config_file(recipe.launch.accelerate_config)
    print(f"{args.recipe}: valid ({recipe.task}, {recipe.model.family}, card {recipe.data.card}, output {recipe.output.dir})")
    if args.show:
        print(recipe.to_yaml())
    return 0


def cmd_run(args) -> int:
    from .api import run
    from .training import TrainingInterrupted

    try:
        result = run(args.recipe, args.overrides, resume=args.resume)
    except TrainingInterrupted as stop:
        print(f"\n{stop}", file=sys.stderr)
        return 130
    if result.metrics and not result.relaunched:
        final = result.metrics.get("final", {})
        print(f"\nRun folder: {result.run_dir}")
        print("Final metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in final.items()))
        for sample in result.metrics.get("samples", []):
            print(f"  {sample['prompt']} → {sample['text']}")
    return 0


def cmd_data_list(args) -> int:
    from .data import list_cards, load_card

    for name in list_cards():
        card = load_card(name)
        where = card.source.hub or card.source.package or "local files"
        print(f"{name:28s} {card.source.kind:8s} {where:24s} {card.size_note or ''}")
    return 0


def cmd_data_show(args) -> int:
    from .data import load_card, load_corpus

    card = load_card(args.name)
    print(card.model_dump_json(indent=2, exclude_none=True))
    corpus = load_corpus(card, max_rows=args.max_rows)
    print("\nsplits: " + ", ".join(f"{split} {len(ds):,} rows" for split, ds in corpus.items()))
    print(f"columns: {', '.join(corpus['train'].column_names)}")
    for row in corpus["train"].select(range(min(args.samples, len(corpus["train"])))):
        shown = {k: (v[:80] + "…" if isinstance(v, str) and len(v) > 80 else v) for k, v in row.items()}
        if "words" in shown:
            shown["words"] = " ".join(shown["words"][:20])
        if "pos" in shown:
            shown["pos"] = " ".join(shown["pos"][:20])
        print("  " + json.dumps(shown, ensure_ascii=False))
    return 0


# `toolkit generate` flags, one per GenerationSection field.
GENERATION_FLAGS = ("max_new_tokens", "top_k", "top_p", "temperature", "repetition_penalty")


def _flag(setting: str) -> str:
    return "--" + setting.replace("_", "-")


def cmd_generate(args) -> int:
    from .api import generate
    from .generation import SAMPLING_SETTINGS, checked_settings

    # Flags left out are None: the recipe's eval.generation defaults apply.
    settings = {k: getattr(args, k) for k in GENERATION_FLAGS if getattr(args, k) is not None}
    settings["do_sample"] = not args.greedy
    if args.greedy:  # the most likely token is the same at any temperature: sampling flags do not apply
        ignored = [_flag(k) for k in SAMPLING_SETTINGS if k in settings]
        if ignored:
            print(f"note: --greedy picks the most likely token, so {', '.join(ignored)} "
                  f"{'does' if len(ignored) == 1 else 'do'} not apply.", file=sys.stderr)
    checked_settings(settings, name=_flag)  # before loading the model, naming the flag
    cli_bert.refuse_other_models(args.run_dir, "generate", "a causal language model (such as GPT2LMHeadModel)")
    for text in generate(args.run_dir, args.prompt, seed=args.seed, trust_remote_code=args.trust_remote_code, **settings):
        print(text)
    return 0


def cmd_eval(args) -> int:
    from .api import evaluate

    result = evaluate(args.run_dir, card=args.card, split=args.split, max_batches=args.max_batches,
                      trust_remote_code=args.trust_remote_code)
    print(", ".join(f"{k} {v:.4g}" for k, v in result.items()))
    return 0


def cmd_push(args) -> int:
    from .hub import push_run

    push_run(args.run_dir, args.repo_id, private=args.private, revision=args.revision,
             commit_message=args.commit_message, dry_run=args.dry_run)
    return 0


def _positive_int(text: str) -> int:
    """argparse type for counts that must be at least 1 (argparse names the flag in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed: give at least 1, or leave the flag out for no cap")
    return value


def whole_number(low: int, below: int | None = None, limit_text: str | None = None):
    """argparse type for a whole number with ``low <= value`` (and ``value < below``); argparse
    names the flag in its error. ``limit_text`` writes ``below`` as the user knows it (2**32)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < low or (below is not None and value >= below):
            upper = f" and below {limit_text or below}" if below is not None else ""
            raise argparse.ArgumentTypeError(f"{value} is not allowed: give a whole number of at least {low}{upper}")
        return value

    parse.__name__ = "whole number"
    return parse


class _SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser; with ``intermixed`` set, its positionals may come after its flags too
    (`toolkit run RECIPE --resume train.max_steps=6`), as argparse's parse_intermixed_args allows."""

    intermixed = False
    _parsing = False  # parse_known_intermixed_args calls parse_known_args itself

    def parse_known_args(self, args=None, namespace=None):
        if not self.intermixed or self._parsing:
            return super().parse_known_args(args, namespace)
        self._parsing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._parsing = False


def add_trust_flag(parser: argparse.ArgumentParser) -> None:
    """The only way to let a model folder run its own code (auto_map): the folder, and the
    recipe.yaml inside it, never decide that."""
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="run the model folder's own Python code (auto_map) if it has some; only for folders "
                             "you trust (the toolkit's own families never need it)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolkit", description="Train classic neural language models on Chinese text from YAML recipes.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_SubcommandParser)

    p = sub.add_parser("run", help="train and evaluate what a recipe says")
    p.intermixed = True  # overrides may follow --resume
    p.add_argument("recipe", help="recipe file or bundled name (gpt2/tiny_pretrain)")
    p.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. train.max_steps=200")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a recipe without running it")
    p.intermixed = True  # overrides may follow --show
    p.add_argument("recipe")
    p.add_argument("overrides", nargs="*")
    p.add_argument("--show", action="store_true", help="print the resolved recipe")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("recipes", help="list the bundled recipes")
    p.set_defaults(func=cmd_recipes)

    data = sub.add_parser("data", help="data cards: list, show").add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = data.add_parser("list", help="list the bundled data cards")
    p.set_defaults(func=cmd_data_list)
    p = data.add_parser("show", help="a card, its splits and sizes, and sample rows")
    p.add_argument("name", help="card name or path to a card YAML")
    p.add_argument("--samples", type=int, default=3, help="sample rows to print (default 3)")
    p.add_argument("--max-rows", type=whole_number(1), default=None, help="read only the first rows of the source (at least 1)")
    p.set_defaults(func=cmd_data_show)

    p = sub.add_parser("generate", help="continue a prompt with a trained causal LM")
    p.add_argument("run_dir", help="run folder or model folder")
    p.add_argument("--prompt", action="append", required=True, help="prompt text (repeatable)")
    p.add_argument("--max-new-tokens", type=int, help="tokens to add, at least 1 (default 50; capped at the model's context)")
    p.add_argument("--top-k", type=int, help="sample among the k likeliest tokens, 0 for all (default 50)")
    p.add_argument("--top-p", type=float, help="nucleus sampling mass, in (0, 1] (default 0.95)")
    p.add_argument("--temperature", type=float, help="above 0: lower is safer, higher more varied (default 1.0)")
    p.add_argument("--repetition-penalty", type=float, help="above 0, 1 for none (default 1.0)")
    p.add_argument("--greedy", action="store_true", help="pick the most likely token instead of sampling")
    p.add_argument("--seed", type=whole_number(0, SEED_LIMIT, "2**32"), default=None,
                   help="seed for reproducible sampling (0 <= seed < 2**32)")
    add_trust_flag(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("eval", help="re-evaluate a run folder on a card's split")
    p.add_argument("run_dir")
    p.add_argument("--card", default=None, help="data card (default: the run's own)")
    p.add_argument("--split", default="test", help="split to evaluate (default test)")
    p.add_argument("--max-batches", type=_positive_int, default=None, help="cap on evaluation batches, at least 1 (default: all)")
    add_trust_flag(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("push", help="upload a run folder to the Hugging Face Hub")
    p.add_argument("run_dir")
    p.add_argument("--repo-id", required=True, help="user/name on the Hub")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--revision", default=None, help="branch to push to")
    p.add_argument("--commit-message", default=None)
    p.add_argument("--dry-run", action="store_true", help="list what would be uploaded, upload nothing")
    p.set_defaults(func=cmd_push)

    # Families with commands of their own register them from their own module.
    for register in FAMILY_COMMANDS:
        register(sub)
    return parser


# Each entry is a ``register(subparsers)`` function from a toolkit.cli_<family> module.
FAMILY_COMMANDS: tuple = (cli_word2vec.register, cli_rnn.register, cli_bert.register)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:  # Ctrl-C while parsing or importing (startup takes seconds) is an interruption, not a crash
        args = build_parser().parse_args(argv)
        return args.func(args)
    except ToolkitError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
