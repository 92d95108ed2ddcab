"""Flags and argument types that several command groups share."""

from __future__ import annotations

import argparse


def add_trust_flag(parser: argparse.ArgumentParser) -> None:
    """The only way to let a model folder run its own code (auto_map): the folder, and the
    recipe.yaml inside it, never decide that."""
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="run the model folder's own Python code (auto_map) if it has some; only for folders "
                             "you trust (the toolkit's own families never need it)")


def whole_number(low: int, below: int | None = None, limit_text: str | None = None, hint: str = ""):
    """argparse type for a whole number with ``low <= value`` (and ``value < below``); argparse
    names the flag in its error. ``limit_text`` writes ``below`` as the user knows it (2**32)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < low or (below is not None and value >= below):
            upper = f" and below {limit_text or below}" if below is not None else ""
            raise argparse.ArgumentTypeError(f"{value} is not allowed: give a whole number of at least {low}{upper}{hint}")
        return value

    parse.__name__ = "whole number"
    return parse


class SubcommandParser(argparse.ArgumentParser):
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
