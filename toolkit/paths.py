"""Where the bundled recipes, data cards and launch configs live.

In a source checkout (the usual, editable install) they sit next to the package; in a wheel they
are carried inside it under ``toolkit/_bundled`` (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_DIR = PACKAGE_DIR.parent
_BUNDLED_DIR = PACKAGE_DIR / "_bundled"


def bundled_dir(name: str) -> Path:
    """The folder ``name`` (recipes, data_cards, accelerate_configs) of this installation."""
    in_checkout = _REPO_DIR / name
    return in_checkout if in_checkout.is_dir() else _BUNDLED_DIR / name
