"""How `toolkit data show` prints a card for a person: a table of its facts, its splits with row
counts, and a few sample rows, long values cut to one line. (`--json` prints the card as data.)"""

from __future__ import annotations

import textwrap
from typing import Any

WIDTH = 100  # one terminal line
_KEY = 12  # width of the fact names' column


def describe_source(source) -> str:
    """Where the rows come from, in one line."""
    if source.derived_from:
        options = ", ".join(f"{k}={v}" for k, v in source.options.items())
        return f"card {source.derived_from} through {source.transform}" + (f" ({options})" if options else "")
    if source.hub:
        config = f", config {source.config}" if source.config else ""
        return f"Hugging Face Hub {source.hub}{config}" + (" (streamed)" if source.streaming else "")
    if source.package:
        path = ", ".join(f"{k}: {v}" for k, v in source.path.items()) if isinstance(source.path, dict) else source.path
        return f"package {source.package}, {path} ({source.format})"
    files = source.files if isinstance(source.files, str) else ", ".join(map(str, source.files))
    return f"files {files} ({source.format})"


def _step(step: str | dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in step.items()) if isinstance(step, dict) else step


def card_facts(card, splits: dict[str, int] | None, columns: list[str] | None) -> list[tuple[str, str]]:
    """(name, value) rows of the table; facts the card leaves out are left out."""
    facts = [
        ("name", card.name), ("description", card.description), ("language", card.language),
        ("license", card.license), ("homepage", card.homepage), ("source", describe_source(card.source)),
        ("preprocess", ", ".join(map(_step, card.preprocess))), ("size", card.size_note),
        ("views", ", ".join(card.views)), ("labels", ", ".join(card.labels or [])),
        ("alignment", card.alignment),
        ("documents", card.document_rows and f"blocks of {card.document_rows} rows"),
    ]
    if splits is not None:
        counts = ", ".join(f"{split} {rows:,}" for split, rows in splits.items())
        facts.append(("splits", f"{counts} rows (held out with seed {card.splits.seed})"))
    if columns is not None:
        facts.append(("columns", ", ".join(columns)))
    return [(key, str(value)) for key, value in facts if value]


def format_table(facts: list[tuple[str, str]]) -> str:
    """Fact names in a column, values wrapped to the line width beside them."""
    lines = []
    for key, value in facts:
        wrapped = textwrap.wrap(value, WIDTH - _KEY - 2) or [""]
        lines.append(f"{key:<{_KEY}}  {wrapped[0]}")
        lines += [" " * (_KEY + 2) + more for more in wrapped[1:]]
    return "\n".join(lines)


def _cut(value: Any, limit: int) -> str:
    text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_rows(rows: list[dict[str, Any]]) -> str:
    """Each row numbered, one line per column (word and tag lists space-joined)."""
    lines = []
    for number, row in enumerate(rows, 1):
        width = max(map(len, row))
        for i, (column, value) in enumerate(row.items()):
            lead = f"{number:>3}  " if i == 0 else " " * 5
            lines.append(f"{lead}{column:<{width}}  {_cut(value, WIDTH - width - 7)}")
    return "\n".join(lines)
