"""Flags and argument types that several command groups share."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse type for counts that must be at least 1 (argparse names the flag in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed: give at least 1, or leave the flag out for no cap")
    return value


def add_trust_flag(parser: argparse.ArgumentParser) -> None:
    """The only way to let a model folder run its own code (auto_map): the folder, and the
    recipe.yaml inside it, never decide that."""
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="run the model folder's own Python code (auto_map) if it has some; only for folders "
                             "you trust (the toolkit's own families never need it)")
