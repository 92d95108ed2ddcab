"""`toolkit` command line: a thin shell over toolkit.api.

One module per group of commands, each adding its commands to the parser with ``register``:
recipes (run, validate, recipes), sweep, data, inspect (generate, eval, fill-mask, predict), seq2seq
(translate, attention), compare, baseline and hub (push); a family's own commands (word2vec's neighbors,
ELMo's embed) come from its folder (``ModelFamily.cli_commands``). Building the parser imports none of the heavy libraries;
each command imports what it needs when it runs, inside ``main``'s handling of Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import ToolkitError
from .. import registry
from ..tasks.tokenizer_threads import TOKENIZER_THREADS_DEFAULTED
from . import baseline, compare, data, hub, inspect, recipes, seq2seq, sweep
from .flags import SubcommandParser

EPILOG = """examples:
  toolkit recipes
  toolkit run recipes/gpt2/tiny_pretrain.yaml train.max_steps=200
  toolkit generate runs/gpt2-tiny-pd98 --prompt 中国
  toolkit data show peoples_daily_1998
"""

# Commands that train keep transformers' loading bars (minutes of work, where progress is news).
TRAINING_COMMANDS = ("run", "sweep")

# The command groups, in the order `toolkit --help` lists their commands.
COMMAND_GROUPS = (recipes, sweep, data, inspect, seq2seq, compare, baseline, hub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toolkit", description="Train classic neural language models on Chinese text from YAML recipes.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=SubcommandParser)
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    for family in registry.all_families():
        if family.cli_commands:
            registry.import_target(family.cli_commands)(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    if "TOKENIZERS_PARALLELISM" not in os.environ:
        # Off by default: DataLoader workers fork after the tokenizer ran, and a forked fast
        # tokenizer with threads warns (or deadlocks). A streaming run, which forks no workers,
        # turns the threads back on unless the user set this themselves (the marker says who did).
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        os.environ[TOKENIZER_THREADS_DEFAULTED] = "1"
    try:  # Ctrl-C while parsing or importing (a command's first import takes seconds) is an interruption, not a crash
        args = build_parser().parse_args(argv)
        if args.command not in TRAINING_COMMANDS:
            # A command's output is its lines, not transformers' "Loading weights" bar: transformers
            # and huggingface_hub read this switch when they are imported, which is after this line.
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
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
