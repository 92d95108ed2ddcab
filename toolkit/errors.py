"""User-facing errors.

Anything the user can fix (a recipe key, a card, a corpus file) is raised as a ``ToolkitError``.
The CLI prints its message as one paragraph and exits non-zero, without a traceback; the Python
API lets it propagate like any exception.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ToolkitError(Exception):
    """A mistake in the user's input, explained in one paragraph."""

    exit_code = 2


class RecipeError(ToolkitError):
    """A recipe that does not validate."""


class DataError(ToolkitError):
    """A data card or corpus that cannot be read."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' when a close match exists, else ''."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


class SweepError(ToolkitError):
    """A search space or sweep folder that `toolkit sweep` cannot use."""
