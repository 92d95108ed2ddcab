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


# Chinese punctuation (GB/T 15834) that NFKC would fold into ASCII, and the form it keeps in Chinese
# text: the full-width marks themselves, and their small and vertical compatibility forms, which NFKC
# sends to ASCII too. Full-width ． is left to NFKC: in Chinese text it is the decimal point of
# full-width numbers (PKU writes ８．５％), not a sentence end (that is 。, which NFKC keeps, as it
# keeps 、“”《》【】〔〕). NFKC's other folding still applies: full-width letters and digits, ％＋－／
# and the ideographic space become ASCII.
CHINESE_PUNCTUATION = {
    **{mark: mark for mark in "，！？：；（）［］～…"},
    "﹐": "，", "﹔": "；", "﹕": "：", "﹖": "？", "﹗": "！", "﹙": "（", "﹚": "）",  # small forms
    "︐": "，", "︓": "：", "︔": "；", "︕": "！", "︖": "？", "︵": "（", "︶": "）", "︙": "…",  # vertical forms
    "‼": "！！", "⁇": "？？", "⁈": "？！", "⁉": "！？",
}
_KEPT = re.compile(f"[{''.join(CHINESE_PUNCTUATION)}]")
# Chinese text: a row that holds a Han character. The decision is made once per row (on its text), so
# a segmented row's words get the same treatment as its text and still join up to it.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def nfkc_text(text: str, chinese: bool | None = None) -> str:
    """Unicode NFKC, except that in Chinese text (``chinese``; by default: ``text`` holds a Han
    character) Chinese punctuation stays full-width: "１２月３１日，新华社（北京）电：ＧＤＰ增长８．５％。"
    becomes "12月31日，新华社（北京）电：GDP增长8.5%。". Text without Han characters (English) gets plain
    NFKC, and ASCII is never changed, so an English side keeps its ASCII punctuation."""
    if chinese is None:
        chinese = _HAN.search(text) is not None
    if not chinese:
        return unicodedata.normalize("NFKC", text)
    # NFKC between the marks: a mark never combines with its neighbours, so cutting there is safe.
    pieces, start = [], 0
    for match in _KEPT.finditer(text):
        pieces += [unicodedata.normalize("NFKC", text[start : match.start()]), CHINESE_PUNCTUATION[match.group()]]
        start = match.end()
    pieces.append(unicodedata.normalize("NFKC", text[start:]))
    return "".join(pieces)


def nfkc(row: Row) -> list[Row]:
    """Unicode NFKC (full-width Latin letters, digits and spaces become half-width), keeping Chinese
    punctuation full-width in Chinese text (see nfkc_text)."""
    chinese = _HAN.search(row["text"]) is not None
    return _map_text(row, lambda s: nfkc_text(s, chinese))


# ASCII punctuation a writer typed in Chinese text (reviews, forum posts) and its Chinese form. The
# period is left alone: after a Han character "." is as often an ellipsis ("..") or a decimal point
# in "3.5元" as the end of a sentence.
_ASCII_TO_CHINESE = {",": "，", "!": "！", "?": "？", ":": "：", ";": "；", "(": "（", ")": "）"}
# An ASCII mark is Chinese punctuation when a Han character (or a Chinese mark) stands right before
# or right after it: "很好,推荐" and "(送货快)" change, "1,000", "a,b" and "http://" do not.
_CHINESE_SIDE = _HAN.pattern[:-1] + "，。！？：；（）、“”《》…" + "]"
_ASCII_MARK = re.compile(rf"(?<={_CHINESE_SIDE})[,!?:;()]|[,!?:;()](?={_CHINESE_SIDE})")


def cjk_punct_text(text: str) -> str:
    """ASCII , ! ? : ; ( ) next to Han characters become their Chinese full-width forms."""
    previous = None
    while previous != text:  # "好!!!" needs passes: each changed mark makes its neighbour Chinese-adjacent
        previous, text = text, _ASCII_MARK.sub(lambda m: _ASCII_TO_CHINESE[m.group()], text)
    return text


def cjk_punct(row: Row) -> list[Row]:
    """Restore Chinese punctuation that a source wrote in ASCII (see cjk_punct_text)."""
    row = dict(row)
    text = cjk_punct_text(row["text"])
    words = row.get("words")
    if words is not None and "".join(words) == row["text"]:
        # A lone "," word has no neighbours of its own: decide on the text and cut it back into the
        # words (each mark is replaced by one character, so the word lengths stay).
        cut, start = [], 0
        for word in words:
            cut.append(text[start : start + len(word)])
            start += len(word)
        row["words"] = cut
    elif words is not None:
        row["words"] = [cjk_punct_text(w) for w in words]
    row["text"] = text
    return [row]


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
    "cjk_punct": cjk_punct,
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
