"""Chinese text preprocessing steps a data card can list under ``preprocess``.

Each step takes a row (``text`` and optionally ``words``/``pos``) and returns the rows it becomes:
none (filtered out), the same row changed, or several (sentence splitting). ``dedupe`` is global
and applied by the corpus builder.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..errors import did_you_mean

Row = dict[str, Any]

# Sentence-final punctuation, optionally followed by closing quotes/brackets.
_SENTENCE_END = re.compile(r"([。！？!?；;…]+[”’」』）)]*)")
_END_WORDS = {"。", "！", "？", "!", "?", "；", ";", "…", "……"}
_CLOSING = set("”’」』）)")  # stay with the sentence they close, as in split_sentences_text


def _map_text(row: Row, fn: Callable[[str], str]) -> list[Row]:
    row = dict(row)
    row["text"] = fn(row["text"])
    if row.get("words") is not None:
        row["words"] = [fn(w) for w in row["words"]]
    return [row]


def nfkc(row: Row) -> list[Row]:
    """Unicode NFKC: full-width Latin letters, digits and spaces become half-width."""
    return _map_text(row, lambda s: unicodedata.normalize("NFKC", s))


@lru_cache(maxsize=2)
def _opencc(config: str):
    from opencc import OpenCC

    return OpenCC(config)


def t2s(row: Row) -> list[Row]:
    """Traditional -> Simplified Chinese (OpenCC)."""
    return _map_text(row, _opencc("t2s").convert)


def s2t(row: Row) -> list[Row]:
    """Simplified -> Traditional Chinese (OpenCC)."""
    return _map_text(row, _opencc("s2t").convert)


def split_sentences_text(text: str) -> list[str]:
    """Split Chinese text after 。！？；… (keeping closing quotes with their sentence)."""
    parts = _SENTENCE_END.split(text)
    sentences = ["".join(parts[i : i + 2]).strip() for i in range(0, len(parts), 2)]
    return [s for s in sentences if s]


def sentence_split(row: Row) -> list[Row]:
    """One row per sentence. Segmented rows are split at sentence-final punctuation words (and the
    closing quotes or brackets right after them)."""
    if row.get("words") is None:
        return [{**row, "text": s} for s in split_sentences_text(row["text"])]
    out, start = [], 0
    words, pos = row["words"], row.get("pos")
    for i, word in enumerate(words):
        at_end = word in _END_WORDS or (word in _CLOSING and i > start and words[i - 1] in _END_WORDS | _CLOSING)
        if (at_end and not (i + 1 < len(words) and words[i + 1] in _CLOSING)) or i == len(words) - 1:
            piece = {**row, "words": words[start : i + 1], "text": "".join(words[start : i + 1])}
            if pos is not None:
                piece["pos"] = pos[start : i + 1]
            out.append(piece)
            start = i + 1
    return out


def segment(row: Row) -> list[Row]:
    """Word segmentation with jieba (kept as is when the source is already segmented)."""
    if row.get("words") is not None:
        return [row]
    import jieba

    jieba.setLogLevel(60)  # jieba prints its dictionary loading to stderr otherwise
    return [{**row, "words": [w for w in jieba.lcut(row["text"]) if w.strip()]}]


def min_chars(limit: int) -> Callable[[Row], list[Row]]:
    return lambda row: [row] if len(row["text"]) >= limit else []


def max_chars(limit: int) -> Callable[[Row], list[Row]]:
    return lambda row: [row] if len(row["text"]) <= limit else []


SIMPLE_STEPS: dict[str, Callable[[Row], list[Row]]] = {
    "nfkc": nfkc,
    "t2s": t2s,
    "s2t": s2t,
    "sentence_split": sentence_split,
    "segment": segment,
}
PARAM_STEPS: dict[str, Callable[[int], Callable[[Row], list[Row]]]] = {
    "min_chars": min_chars,
    "max_chars": max_chars,
}
GLOBAL_STEPS = ("dedupe",)
ALL_STEPS = [*SIMPLE_STEPS, *PARAM_STEPS, *GLOBAL_STEPS]


def check_steps(steps: list[str | dict[str, Any]]) -> None:
    """Raise ValueError naming the first step that is not known or has a bad argument."""
    for step in steps:
        if isinstance(step, dict):
            if len(step) != 1:
                raise ValueError(f"preprocess: a step with an argument is one 'name: value' pair, got {step}")
            (name, arg), = step.items()
            if name not in PARAM_STEPS:
                raise ValueError(f"preprocess: '{name}' takes no argument or is unknown{did_you_mean(name, PARAM_STEPS)}; with arguments: {', '.join(PARAM_STEPS)}")
            if not isinstance(arg, int) or arg < 0:
                raise ValueError(f"preprocess: {name} needs a non-negative integer, got {arg!r}")
        elif step not in SIMPLE_STEPS and step not in GLOBAL_STEPS:
            raise ValueError(f"preprocess: unknown step '{step}'{did_you_mean(str(step), ALL_STEPS)}; allowed: {', '.join(ALL_STEPS)}")


def build_pipeline(steps: list[str | dict[str, Any]]) -> tuple[list[Callable[[Row], list[Row]]], bool]:
    """The row-wise step functions in order, and whether to dedupe at the end."""
    fns = []
    for step in steps:
        if isinstance(step, dict):
            (name, arg), = step.items()
            fns.append(PARAM_STEPS[name](arg))
        elif step in SIMPLE_STEPS:
            fns.append(SIMPLE_STEPS[step])
    return fns, "dedupe" in steps


def apply_steps(row: Row, fns: list[Callable[[Row], list[Row]]]) -> list[Row]:
    rows = [row]
    for fn in fns:
        rows = [out for r in rows for out in fn(r)]
    return [r for r in rows if r["text"].strip()]
